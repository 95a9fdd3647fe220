#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/config_error.hpp"

namespace flowgate::config {

struct LoadResult {
  Config config;
  std::vector<ConfigError> errors;  // every problem at once, in file order
  bool ok() const { return errors.empty(); }
};

// Reads and validates a configuration file: the seed's [[inputs.netflow]] form plus flowgate's
// own tables. Unknown keys, wrong types and out-of-range values are errors with file, line,
// column, key, and what would be right.
LoadResult load_config_file(const std::string& path);
LoadResult load_config_string(std::string_view text, const std::string& name);

// The configuration flowgate runs with when no file is given (config/flowgate.conf's content).
std::string_view embedded_default_config();

// Parses "300s", "5m", "1h", "250ms" or a bare number of seconds; false when malformed.
bool parse_duration_ms(std::string_view text, uint64_t& ms);

}  // namespace flowgate::config
