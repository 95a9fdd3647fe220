#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.hpp"

namespace flowgate::config {
namespace {

LoadResult with_metrics(const std::string& listen) {
  return load_config_string("[[inputs.netflow]]\n"
                            "[[inputs.netflow.listeners]]\n"
                            "flow_type = \"auto\"\n"
                            "port = 2055\n"
                            "[metrics]\n"
                            "listen = \"" + listen + "\"\n",
                            "x.conf");
}

TEST(MetricsListen, DefaultIsLoopbackAndImplicit) {
  const LoadResult r = load_config_string(
      "[[inputs.netflow]]\n[[inputs.netflow.listeners]]\nflow_type = \"auto\"\nport = 2055\n", "x.conf");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.metrics.listen, "127.0.0.1:9108");
  EXPECT_FALSE(r.config.metrics.listen_explicit);
}

TEST(MetricsListen, EmptyDisablesAndIpv6IsAccepted) {
  const LoadResult off = with_metrics("");
  ASSERT_TRUE(off.ok()) << off.errors.front().to_string();
  EXPECT_EQ(off.config.metrics.listen, "");
  EXPECT_TRUE(off.config.metrics.listen_explicit);
  EXPECT_TRUE(with_metrics("[::1]:9108").ok());
}

TEST(MetricsListen, RejectsAnAddressWithoutPort) {
  const LoadResult r = with_metrics("127.0.0.1");
  ASSERT_EQ(r.errors.size(), 1u);
  const std::string e = r.errors.front().to_string();
  EXPECT_NE(e.find("x.conf:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("metrics.listen: \"127.0.0.1\" is not host:port"), std::string::npos) << e;
}

}  // namespace
}  // namespace flowgate::config
