// Configuration texts found by fuzz_config (tests/fuzz/seeds/config): each gives its documented
// error with file, line and column, never a crash, and the same text made valid loads.

#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.hpp"

namespace flowgate::config {
namespace {

constexpr const char* kValid =
    "[[inputs.netflow]]\n"
    "  [[inputs.netflow.listeners]]\n"
    "  flow_type = \"netflow5\"\n";

TEST(ConfigMalformed, NonAsciiOutsideAStringIsRefusedBeforeParsing) {
  // toml++ 3.3.0 reaches __builtin_unreachable() classifying most of U+00A1..U+FEFF as
  // whitespace; the loader refuses such a character where TOML allows none.
  for (const char* bad : {"[[inputs.netflow\xc3\xa9]]\n", "[[inputs.netflow]]\n  x = 1 \xc8\x93\n",
                          "[[inputs.netflow]]\n\xef\xbb\xbf = 2\n"}) {
    const LoadResult r = load_config_string(std::string(bad), "f.conf");
    ASSERT_EQ(r.errors.size(), 1u) << bad;
    EXPECT_EQ(r.errors[0].file, "f.conf");
    EXPECT_NE(r.errors[0].message.find("non-ASCII character outside a string"), std::string::npos)
        << r.errors[0].to_string();
  }
  const LoadResult at = load_config_string("[[inputs.netflow]]\n  x = 1 \xc8\x93\n", "f.conf");
  ASSERT_FALSE(at.ok());
  EXPECT_EQ(at.errors[0].line, 2u);
  EXPECT_EQ(at.errors[0].column, 9u);
}

TEST(ConfigMalformed, NonAsciiInsideStringsAndCommentsIsKept) {
  const std::string text = std::string(kValid) +
                           "  # r\xc3\xa9seau de l'\xc3\xa9t\xc3\xa9\n"
                           "  [inputs.netflow.tags]\n"
                           "  site = \"Z\xc3\xbcrich \\\" \xc3\xa9\"\n"
                           "  room = 'M\xc3\xbcnchen'\n"
                           "  note = \"\"\"\n  multi \xc3\xa9 \"\" line\n  \"\"\"\n"
                           "  raw = '''\n  \xc3\xa9 '' '''\n"
                           "  \"cl\xc3\xa9\" = \"quoted key\"\n";
  const LoadResult r = load_config_string(text, "f.conf");
  ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
  ASSERT_EQ(r.config.inputs[0].tags.size(), 5u);
  EXPECT_EQ(r.config.inputs[0].tags[0].second, "Z\xc3\xbcrich \" \xc3\xa9");
}

TEST(ConfigMalformed, ArrayTableHeaderCutByANewline) {
  // "[[" then a newline: a toml++ debug assertion, an error in Debian's build.
  const LoadResult r = load_config_string(std::string(kValid) + "[[\n[[inputs.netflow]]\n", "f.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].file, "f.conf");
  EXPECT_EQ(r.errors[0].line, 4u);
}

}  // namespace
}  // namespace flowgate::config
