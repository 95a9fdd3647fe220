#pragma once

#include <cstdint>
#include <string>

namespace flowgate::config {

// One problem found in a configuration file, reported as
// `flowgate.conf:12:9: inputs.netflow[0].listeners[1].port: 70000 is out of range 1..65535`.
struct ConfigError {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string key;      // dotted path with indexes; empty for file-level problems
  std::string message;  // says what would be right

  std::string to_string() const {
    std::string s = file;
    if (line != 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
    s += ": ";
    if (!key.empty()) s += key + ": ";
    return s + message;
  }
};

}  // namespace flowgate::config
