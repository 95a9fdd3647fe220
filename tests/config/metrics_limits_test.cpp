// [metrics] max_exporters, max_interfaces and dashboard_minutes: defaults, values, and the
// error a value out of range gives.

#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.hpp"

namespace flowgate::config {
namespace {

LoadResult with(const std::string& metrics_lines) {
  return load_config_string("[[inputs.netflow]]\n"
                            "[[inputs.netflow.listeners]]\n"
                            "flow_type = \"auto\"\n"
                            "port = 2055\n"
                            "[metrics]\n" +
                                metrics_lines,
                            "x.conf");
}

TEST(MetricsLimits, DefaultsAndValues) {
  const LoadResult d = with("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.config.metrics.max_exporters, 256u);
  EXPECT_EQ(d.config.metrics.max_interfaces, 256u);
  EXPECT_EQ(d.config.metrics.dashboard_minutes, 15u);
  const LoadResult r = with("max_exporters = 10\nmax_interfaces = 0\ndashboard_minutes = 60\n");
  ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
  EXPECT_EQ(r.config.metrics.max_exporters, 10u);
  EXPECT_EQ(r.config.metrics.max_interfaces, 0u);
  EXPECT_EQ(r.config.metrics.dashboard_minutes, 60u);
}

TEST(MetricsLimits, OutOfRangeIsAnErrorWithItsLine) {
  const LoadResult r = with("max_exporters = 0\ndashboard_minutes = 2000\n");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_NE(r.errors[0].to_string().find("x.conf:6:"), std::string::npos)
      << r.errors[0].to_string();
  EXPECT_NE(r.errors[0].to_string().find("metrics.max_exporters: 0 is out of range 1..100000"),
            std::string::npos)
      << r.errors[0].to_string();
  EXPECT_NE(r.errors[1].to_string().find("metrics.dashboard_minutes: 2000 is out of range"),
            std::string::npos)
      << r.errors[1].to_string();
}

}  // namespace
}  // namespace flowgate::config
