#include "config/host_port.hpp"

#include <gtest/gtest.h>

namespace flowgate::config {
namespace {

TEST(HostPort, ParsesIpv4AndBracketedIpv6) {
  HostPort a;
  ASSERT_TRUE(parse_host_port("127.0.0.1:9108", a));
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9108);
  ASSERT_TRUE(parse_host_port("[::1]:65535", a));
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 65535);
}

TEST(HostPort, RejectsMalformedAddresses) {
  HostPort a;
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:91x", "localhost:9108", "::1:9108", "[::1]9108", "[::1]:",
                          "[127.0.0.1]:9108", ":9108"}) {
    EXPECT_FALSE(parse_host_port(bad, a)) << bad;
  }
}

}  // namespace
}  // namespace flowgate::config
