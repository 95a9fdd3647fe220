// libFuzzer target for the configuration loader: any text gives either a configuration or
// its documented errors, never a crash or an exception escaping load_config_string (an
// uncaught one aborts, which libFuzzer reports). Seeds: tests/fuzz/seeds/config (the sample
// config, the forms the tests use, and broken variants) and config/flowgate.conf.
//
// The contract checked on every input:
//  - errors name the file they came from, say something, and come in file order;
//  - a line number never points past the end of the text;
//  - an accepted configuration has an input, a listener per the sample's rules (port
//    1..65535, a bind host), at least one output and at least one worker.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config_loader.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using flowgate::config::ConfigError;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string name = "fuzz.conf";
  const flowgate::config::LoadResult r = flowgate::config::load_config_string(text, name);

  const auto lines = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (size_t i = 0; i < r.errors.size(); ++i) {
    const ConfigError& e = r.errors[i];
    FLOWGATE_FUZZ_CHECK(e.file == name);
    FLOWGATE_FUZZ_CHECK(!e.message.empty());
    FLOWGATE_FUZZ_CHECK(e.line <= lines);
    if (i > 0) FLOWGATE_FUZZ_CHECK(r.errors[i - 1].line <= e.line);
    FLOWGATE_FUZZ_CHECK(!e.to_string().empty());
  }
  if (!r.ok()) return 0;
  const flowgate::config::Config& c = r.config;
  FLOWGATE_FUZZ_CHECK(!c.inputs.empty());
  FLOWGATE_FUZZ_CHECK(!c.outputs.empty());
  FLOWGATE_FUZZ_CHECK(c.collector.workers >= 1);
  for (const flowgate::config::Listener& l : c.listeners) {
    FLOWGATE_FUZZ_CHECK(l.port != 0);
    FLOWGATE_FUZZ_CHECK(!l.bind_host.empty());
    FLOWGATE_FUZZ_CHECK(l.input < c.inputs.size());
  }
  return 0;
}
