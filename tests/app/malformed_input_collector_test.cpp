// Malformed datagrams against the running collector, as a hostile or broken exporter would send
// them: the real binary in socket mode on loopback, one datagram per drop reason, then a good
// one. /metrics must count each under its reason, the good datagram's records must be written,
// and the collector must still be up and stop cleanly.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/byte_writer.hpp"
#include "tests/support/collector_harness.hpp"
#include "tests/support/flow_wire.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate {
namespace {

using namespace flowgate::testing;

// One bad datagram and the reason it must be counted under.
struct Bad {
  const char* reason;
  Payload datagram;
};

Payload v5(uint16_t records, int32_t count = -1) {
  V5Header h;
  h.count = count;
  h.unix_secs = 1'700'000'000;
  std::vector<V5Record> rs(records);
  for (uint16_t i = 0; i < records; ++i) {
    rs[i].src = 0xc6336401 + i;  // 198.51.100.1, .2, ...
    rs[i].dst = 0xcb007101;      // 203.0.113.1
    rs[i].src_port = static_cast<uint16_t>(5000 + i);
    rs[i].dst_port = 53;
    rs[i].protocol = 17;
    rs[i].packets = 1;
    rs[i].bytes = 80;
  }
  return netflow5(h, rs);
}

std::vector<Bad> bad_datagrams() {
  std::vector<Bad> bad;
  Payload cut = v5(1);
  cut.resize(30);
  bad.push_back({"truncated", cut});
  bad.push_back({"bad_count", v5(0)});
  bad.push_back({"bad_version", Payload{0, 42, 0, 0, 1, 2, 3, 4}});
  // NetFlow v9: a flowset whose length runs past the datagram.
  bad.push_back({"bad_set_length",
                 v9::datagram().raw({0x01, 0x00, 0x10, 0x00, 1, 2, 3, 4}).build()});
  // IPFIX: a message length past the datagram; a variable-length field (255, then a 16-bit
  // length) past its set.
  bad.push_back({"bad_length", FlowDatagram::ipfix(1'700'000'000, 1).length(0x4000).build()});
  ByteWriter varlen;
  varlen.u16(1000).u8(255).u16(0xfff0).bytes({1, 2});
  bad.push_back({"bad_record", FlowDatagram::ipfix(1'700'000'000, 1)
                                   .template_set(400, {{7, 2}, {82, kVariableLength}})
                                   .data_set(400, varlen)
                                   .build()});
  // sFlow v5: a sample whose length wraps 32 bits; an agent address of unknown type.
  ByteWriter sflow;
  sflow.u32(5).u32(1).ipv4(192, 0, 2, 99).u32(0).u32(1).u32(1000).u32(1);
  sflow.u32(1).u32(0xfffffffcu).zeros(32);
  bad.push_back({"bad_sample", sflow.data()});
  ByteWriter agent;
  agent.u32(5).u32(9).ipv4(192, 0, 2, 99).u32(0).u32(1).u32(1000).u32(0);
  bad.push_back({"bad_address", agent.data()});
  return bad;
}

TEST(MalformedInputCollector, CountsEachReasonAndKeepsDecoding) {
  TempDir dir("flowgate-malformed-");
  ASSERT_FALSE(dir.path().empty());
  const fs::path out = fs::path(dir.path()) / "out.jsonl";
  const fs::path err = fs::path(dir.path()) / "stderr.log";
  const uint16_t flow_port = free_port(SOCK_DGRAM);
  const uint16_t metrics_port = free_port(SOCK_STREAM);
  const fs::path conf = fs::path(dir.path()) / "flowgate.conf";
  std::ofstream(conf) << "[[inputs.netflow]]\n"
                         "  [[inputs.netflow.listeners]]\n"
                         "    flow_type = \"auto\"\n"
                         "    bind_host = \"127.0.0.1\"\n"
                      << "    port = " << flow_port << "\n"
                      << "[aggregation]\nenabled = false\n"
                         "[[outputs]]\ntype = \"file\"\n"
                      << "path = \"" << out.string() << "\"\n"
                      << "flush_interval = \"50ms\"\n"
                         "[metrics]\n"
                      << "listen = \"127.0.0.1:" << metrics_port << "\"\n";
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, fs::path(dir.path()) / "stdout.log", err));
  ASSERT_TRUE(wait_for([&] { return http_get(metrics_port, "/healthz").status == 200; }))
      << read_text(err);

  const int sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sender, 0);
  const sockaddr_in to = loopback(flow_port);
  auto send = [&](const Payload& p) {
    return sendto(sender, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                  sizeof to) == static_cast<ssize_t>(p.size());
  };
  const std::vector<Bad> bad = bad_datagrams();
  std::map<std::string, uint64_t> want;
  for (const Bad& b : bad) {
    ASSERT_TRUE(send(b.datagram)) << b.reason;
    ++want[b.reason];
    pause_ms(1);
  }
  const Payload good = v5(3);
  ASSERT_TRUE(send(good));
  close(sender);

  std::map<std::string, uint64_t> s;
  EXPECT_TRUE(wait_for([&] {
    s = metrics_samples(metrics_port);
    return s["flowgate_decode_datagrams_total"] == bad.size() + 1 &&
           s["flowgate_pipeline_records_written_total"] == 3;
  })) << "datagrams " << s["flowgate_decode_datagrams_total"] << " of " << bad.size() + 1
      << ", written " << s["flowgate_pipeline_records_written_total"] << "\n"
      << read_text(err);
  for (const auto& [reason, n] : want) {
    EXPECT_EQ(s["flowgate_decode_errors_total{reason=\"" + reason + "\"}"], n) << reason;
  }
  EXPECT_EQ(sum_prefixed(s, "flowgate_decode_errors_total"), bad.size());
  EXPECT_EQ(s["flowgate_decode_records_total"], 3u);

  // The good datagram's records, as written.
  std::vector<std::string> lines;
  EXPECT_TRUE(wait_for([&] {
    std::istringstream in(read_text(out));
    lines.clear();
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines.size() == 3;
  })) << lines.size();
  for (uint16_t i = 0; i < lines.size(); ++i) {
    EXPECT_NE(lines[i].find("\"type\":\"netflow5\""), std::string::npos) << lines[i];
    EXPECT_NE(lines[i].find("\"destination\":{\"ip\":\"203.0.113.1\",\"port\":\"53\""),
              std::string::npos)
        << lines[i];
  }

  // Still up: healthy, and a clean stop.
  EXPECT_EQ(http_get(metrics_port, "/healthz").status, 200);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait_exit(), std::optional<int>(0)) << read_text(err);
}

}  // namespace
}  // namespace flowgate
