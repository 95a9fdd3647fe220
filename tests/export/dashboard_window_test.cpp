// DashboardWindow: per-minute buckets of what the pipeline wrote, top entries per dimension,
// bounded maps, and the window sliding past old minutes; and the /api/summary JSON built on it.

#include "export/dashboard_window.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <memory>
#include <string>

#include "export/dashboard_api.hpp"

namespace flowgate::exporter {
namespace {

using decode::FlowBlock;
using decode::IpAddress;

constexpr uint64_t kMinute = 60'000;
constexpr uint64_t kT0 = 1'700'000'000'000 / kMinute * kMinute;  // a minute boundary

void row(FlowBlock& b, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
         uint8_t protocol, uint64_t bytes, decode::FlowType type = decode::FlowType::kNetflow5) {
  const uint32_t r = b.append_row();
  b.src_addr[r] = IpAddress::from_v4(src);
  b.dst_addr[r] = IpAddress::from_v4(dst);
  b.exporter_addr[r] = IpAddress::from_v4(0xc0000201);
  b.src_port[r] = sport;
  b.dst_port[r] = dport;
  b.protocol[r] = protocol;
  b.bytes[r] = bytes;
  b.packets[r] = 1;
  b.flow_type[r] = type;
}

TEST(DashboardWindow, TopEntriesByBytesWithTheRestAsOther) {
  DashboardWindow w(15, 1024);
  auto b = std::make_unique<FlowBlock>();
  row(*b, 0x0a000001, 0x0a000063, 40000, 443, 6, 5000);
  row(*b, 0x0a000001, 0x0a000063, 40001, 443, 6, 3000);
  row(*b, 0x0a000002, 0x0a000064, 53000, 53, 17, 700, decode::FlowType::kIpfix);
  row(*b, 0x0a000003, 0x0a000064, 123, 123, 17, 100, decode::FlowType::kIpfix);
  w.add(*b, kT0 + 5'000);
  const DashboardWindow::Summary s = w.summary(kT0 + 10'000, 2);
  EXPECT_EQ(s.total.bytes, 8800u);
  EXPECT_EQ(s.total.records, 4u);
  ASSERT_EQ(s.sources.size(), 3u);
  EXPECT_EQ(s.sources[0].label, "10.0.0.1");
  EXPECT_EQ(s.sources[0].device, "192.0.2.1");
  EXPECT_EQ(s.sources[0].totals.bytes, 8000u);
  EXPECT_EQ(s.sources[1].label, "10.0.0.2");
  EXPECT_EQ(s.sources[2].label, "other");
  EXPECT_EQ(s.sources[2].totals.bytes, 100u);
  EXPECT_EQ(s.destination_ports[0].label, "443");
  EXPECT_EQ(s.destination_ports[0].totals.records, 2u);
  EXPECT_EQ(s.protocols[0].label, "TCP");
  EXPECT_EQ(s.protocols[1].label, "UDP");
  EXPECT_EQ(s.flow_types[0].label, "netflow5");
  EXPECT_EQ(s.flow_types[1].label, "ipfix");
  ASSERT_EQ(s.series.size(), 15u);
  EXPECT_EQ(s.series.back().minute_ms, kT0);
  EXPECT_EQ(s.series.back().totals.bytes, 8800u);
}

// Past kExactPerSecond records in a second the top-N tables are sampled: totals stay exact,
// a heavy hitter stays on top with about its share, and a second later counting is exact again.
TEST(DashboardWindow, SamplesTheTablesAboveTheExactRateOnly) {
  DashboardWindow w(15, 1024);
  auto b = std::make_unique<FlowBlock>();
  uint64_t added = 0;
  while (added < DashboardWindow::kExactPerSecond + 50 * 1024) {
    b->clear();
    for (uint32_t i = 0; i < 1024; ++i) {
      // One heavy source (half the records, 10x the bytes) among 4000 light ones.
      if ((i & 1) == 0) row(*b, 0x0a000001, 0x0a0000ff, 1000, 443, 6, 1000);
      else row(*b, 0x0b000000 + static_cast<uint32_t>((added + i) % 4000), 0x0a0000ff, 2000, 80, 6, 100);
    }
    w.add(*b, kT0 + 1'000);
    added += 1024;
  }
  const DashboardWindow::Summary s = w.summary(kT0 + 2'000, 3);
  EXPECT_EQ(s.total.records, added);
  EXPECT_EQ(s.total.bytes, added / 2 * 1000 + added / 2 * 100);
  ASSERT_FALSE(s.sources.empty());
  EXPECT_EQ(s.sources[0].label, "10.0.0.1");
  const double share = static_cast<double>(s.sources[0].totals.bytes) / (added / 2 * 1000.0);
  EXPECT_NEAR(share, 1.0, 0.05);
  EXPECT_EQ(s.destination_ports[0].label, "443");

  // A new second counts every record again.
  DashboardWindow exact(15, 1024);
  b->clear();
  row(*b, 0x0a000009, 0x0a0000ff, 1, 2, 17, 7);
  exact.add(*b, kT0 + 1'000);
  EXPECT_EQ(exact.summary(kT0 + 2'000, 3).sources[0].totals.records, 1u);
}

TEST(DashboardWindow, OldMinutesLeaveTheWindow) {
  DashboardWindow w(3, 1024);
  auto b = std::make_unique<FlowBlock>();
  row(*b, 0x0a000001, 0x0a000063, 1, 2, 6, 1000);
  w.add(*b, kT0);
  b->clear();
  row(*b, 0x0a000002, 0x0a000063, 1, 2, 6, 10);
  w.add(*b, kT0 + 2 * kMinute);
  DashboardWindow::Summary s = w.summary(kT0 + 2 * kMinute, 10);
  EXPECT_EQ(s.total.bytes, 1010u);
  EXPECT_EQ(s.series.size(), 3u);
  EXPECT_EQ(s.series[1].totals.bytes, 0u);
  s = w.summary(kT0 + 3 * kMinute, 10);  // the first minute is out
  EXPECT_EQ(s.total.bytes, 10u);
  ASSERT_EQ(s.sources.size(), 1u);
  EXPECT_EQ(s.sources[0].label, "10.0.0.2");
  // A new minute reuses the oldest bucket.
  b->clear();
  row(*b, 0x0a000003, 0x0a000063, 1, 2, 6, 7);
  w.add(*b, kT0 + 3 * kMinute);
  s = w.summary(kT0 + 3 * kMinute, 10);
  EXPECT_EQ(s.total.bytes, 17u);
}

TEST(DashboardWindow, KeysPastTheBoundAreSummedAsOther) {
  DashboardWindow w(15, 2);
  auto b = std::make_unique<FlowBlock>();
  for (uint32_t i = 1; i <= 5; ++i) row(*b, 0x0a000000 + i, 0x0a000063, 1000 + i, 80, 6, 10 * i);
  w.add(*b, kT0);
  const DashboardWindow::Summary s = w.summary(kT0, 10);
  ASSERT_EQ(s.sources.size(), 3u);  // two tracked, the other three summed
  EXPECT_EQ(s.sources.back().label, "other");
  EXPECT_EQ(s.sources.back().totals.bytes, 30u + 40 + 50);
  EXPECT_EQ(s.total.bytes, 150u);
}

TEST(DashboardApi, SummaryIsJsonWithPanelsAndExporterHealth) {
  DashboardWindow w(15, 1024);
  auto b = std::make_unique<FlowBlock>();
  row(*b, 0x0a000001, 0x0a000063, 40000, 443, 6, 5000);
  w.add(*b, kT0);
  MetricsSnapshot m;
  m.decode.records = 1;
  m.shards.resize(1);
  decode::ExporterRow fresh;
  fresh.address = IpAddress::from_v4(0xc0000201);
  fresh.type = decode::FlowType::kNetflow9;
  fresh.records = 100;
  fresh.datagrams = 4;
  fresh.templates = 2;
  fresh.last_seen_ns = kT0 * 1'000'000;
  decode::ExporterRow silent = fresh;
  silent.address = IpAddress::from_v4(0xc0000202);
  silent.last_seen_ns = (kT0 - 10 * kMinute) * 1'000'000;
  decode::ExporterRow lossy = fresh;
  lossy.address = IpAddress::from_v4(0xc0000203);
  lossy.lost_records = 10;
  m.shards[0].exporters = {fresh, silent, lossy};
  const std::string json = dashboard_summary_json(w.summary(kT0, 10), m, kT0);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(uint64_t(doc["window"]["bytes"]), 5000u);
  EXPECT_EQ(std::string_view(doc["sources"].at(0)["label"]), "10.0.0.1");
  EXPECT_EQ(std::string_view(doc["sources"].at(0)["device"]), "192.0.2.1");
  EXPECT_EQ(std::string_view(doc["destination_ports"].at(0)["label"]), "443");
  EXPECT_EQ(doc["series"].get_array().size(), 15u);
  std::map<std::string, std::string> health;
  for (simdjson::dom::element e : doc["exporters"].get_array()) {
    const std::string_view exporter = e["exporter"];
    health[std::string(exporter)] = std::string(std::string_view(e["health"]));
  }
  EXPECT_EQ(health["192.0.2.1"], "ok");
  EXPECT_EQ(health["192.0.2.2"], "silent");
  EXPECT_EQ(health["192.0.2.3"], "loss");
}

}  // namespace
}  // namespace flowgate::exporter
