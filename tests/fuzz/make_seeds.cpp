// Writes the crafted fuzz seeds into seeds/<target>/: a few valid datagrams of each shape and
// one per fault path, named after the DecodeStatus they produce. Each single-datagram seed is
// decoded once here (with a fresh cache) and must yield its status, so a seed cannot silently
// stop reaching its path. Usage: fuzz_make_seeds SEEDS_DIR (tests/fuzz/seeds).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "dataplane/udp_extractor.hpp"
#include "decode/decode_counters.hpp"
#include "tests/dataplane/frame_builder.hpp"
#include "tests/support/byte_writer.hpp"
#include "tests/support/decoder_harness.hpp"
#include "tests/support/flow_wire.hpp"

namespace {

using flowgate::decode::DecodeStatus;
using flowgate::decode::FlowType;
using flowgate::testing::ByteWriter;
using flowgate::testing::DecoderHarness;
using flowgate::testing::FlowDatagram;
using flowgate::testing::kVariableLength;
using flowgate::testing::V5Header;
using flowgate::testing::V5Record;
using Bytes = std::vector<uint8_t>;

std::filesystem::path g_root;
int g_failures = 0;

void write(const std::string& target, const std::string& name, const Bytes& data) {
  const std::filesystem::path dir = g_root / target;
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / (name + ".bin"), std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// Writes a single-datagram seed after checking it yields `want` on a fresh cache.
void seed(const std::string& target, const std::string& name, const Bytes& data,
          DecodeStatus want) {
  DecoderHarness h(flowgate::decode::TemplateCacheLimits{});
  const DecodeStatus got = h.any(data);
  if (got != want || !h.contract_ok) {
    std::fprintf(stderr, "%s/%s: %s, want %s\n", target.c_str(), name.c_str(),
                 std::string(flowgate::decode::decode_status_name(got)).c_str(),
                 std::string(flowgate::decode::decode_status_name(want)).c_str());
    ++g_failures;
  }
  write(target, name, data);
}

// ---- NetFlow v5 ----

V5Record v5_record(uint16_t port) {
  V5Record r;
  r.src = 0x0a000001;
  r.dst = 0x0a000002;
  r.packets = 3;
  r.bytes = 180;
  r.first = 1000;
  r.last = 2000;
  r.src_port = port;
  r.dst_port = 80;
  r.protocol = 6;
  r.tcp_flags = 0x1b;
  return r;
}

Bytes v5(V5Header h, uint16_t n) {
  std::vector<V5Record> rs;
  for (uint16_t i = 0; i < n; ++i) rs.push_back(v5_record(i));
  return flowgate::testing::netflow5(h, rs);
}

void netflow5_seeds() {
  V5Header h;
  h.uptime_ms = 5000;
  h.unix_secs = 1'700'000'000;
  seed("netflow5", "ok_two_records", v5(h, 2), DecodeStatus::kOk);
  seed("netflow5", "ok_thirty_records", v5(h, 30), DecodeStatus::kOk);
  V5Header wrap = h;
  wrap.uptime_ms = 100;
  wrap.sampling = 0x4000 | 1000;
  seed("netflow5", "ok_uptime_wrap_sampled", v5(wrap, 1), DecodeStatus::kOk);
  Bytes trailing = v5(h, 1);
  trailing.insert(trailing.end(), 20, 0xab);
  seed("netflow5", "ok_trailing_bytes", trailing, DecodeStatus::kOk);
  Bytes short_header = v5(h, 1);
  short_header.resize(23);
  seed("netflow5", "truncated_header", short_header, DecodeStatus::kTruncated);
  V5Header three = h;
  three.count = 3;
  seed("netflow5", "truncated_count_past_datagram", v5(three, 2), DecodeStatus::kTruncated);
  seed("netflow5", "bad_count_zero", v5(h, 0), DecodeStatus::kBadCount);
  seed("netflow5", "bad_count_31", v5(h, 31), DecodeStatus::kBadCount);
  V5Header v7 = h;
  v7.version = 7;
  seed("netflow5", "bad_version", v5(v7, 1), DecodeStatus::kBadVersion);
}

// ---- NetFlow v9 ----

FlowDatagram nf9(uint32_t source_id = 1) {
  return FlowDatagram::netflow9(100'000, 1'700'000'000, source_id, 1);
}

FlowDatagram& nf9_template(FlowDatagram& d, uint16_t id = 256) {
  return d.template_set(id, {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 4}, {2, 4}, {22, 4},
                             {21, 4}, {10, 2}, {14, 2}, {61, 1}, {48, 1}});
}

ByteWriter nf9_records(int n) {
  ByteWriter w;
  for (int i = 0; i < n; ++i) {
    w.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u16(static_cast<uint16_t>(i)).u16(443).u8(6);
    w.u32(1500).u32(1).u32(97'000).u32(99'000).u16(1).u16(2).u8(0).u8(1);
  }
  return w;
}

void netflow9_seeds() {
  {
    FlowDatagram d = nf9();
    seed("netflow9", "ok_template_and_data",
         nf9_template(d).data_set(256, nf9_records(3)).build(), DecodeStatus::kOk);
  }
  {
    FlowDatagram d = nf9();
    d.data_set(256, nf9_records(2));
    seed("netflow9", "ok_data_before_template", nf9_template(d).build(), DecodeStatus::kOk);
  }
  seed("netflow9", "ok_data_held", nf9().data_set(256, nf9_records(1)).build(), DecodeStatus::kOk);
  {
    FlowDatagram d = nf9();
    nf9_template(d);
    seed("netflow9", "ok_template_only", d.build(), DecodeStatus::kOk);
  }
  {
    FlowDatagram d = nf9();
    d.options_template_set(300, {{1, 4}}, {{34, 4}, {35, 1}});
    ByteWriter o;
    o.u32(0).u32(100).u8(2).zeros(3);
    d.data_set(300, o);
    nf9_template(d).data_set(256, nf9_records(1));
    seed("netflow9", "ok_options_sampling_interval", d.build(), DecodeStatus::kOk);
  }
  {
    FlowDatagram d = nf9();
    d.options_template_set(301, {{1, 4}}, {{48, 1}, {49, 1}, {50, 4}});
    ByteWriter o;
    o.u32(0).u8(0).u8(2).u32(10).u32(0).u8(1).u8(2).u32(1000);
    d.data_set(301, o);
    nf9_template(d).data_set(256, nf9_records(2));
    seed("netflow9", "ok_options_sampler_ids", d.build(), DecodeStatus::kOk);
  }
  {
    FlowDatagram d = nf9();
    d.options_template_set(302, {}, {{34, 4}});
    ByteWriter o;
    o.u32(64);
    seed("netflow9", "ok_options_zero_scope", d.data_set(302, o).build(), DecodeStatus::kOk);
  }
  {
    FlowDatagram d = nf9();
    d.template_set(257, {{8, 0}, {40000, 3}, {7, 2}, {0x8001, 4}, {11, 0}});
    ByteWriter r;
    r.bytes({1, 2, 3}).u16(53).u32(9).zeros(3);
    d.data_set(257, r).zeros(8).count(999);
    seed("netflow9", "ok_vendor_zero_length_padding", d.build(), DecodeStatus::kOk);
  }
  {
    // H3C NetStream sends v9 fields of length 65535 as variable-length strings.
    FlowDatagram d = nf9();
    d.template_set(258, {{7, 2}, {82, kVariableLength}});
    ByteWriter r;
    r.u16(1).u8(3).bytes({'a', 'b', 'c'}).u16(2).u8(255).u16(2).bytes({'x', 'y'});
    seed("netflow9", "ok_variable_length", d.data_set(258, r).build(), DecodeStatus::kOk);
    ByteWriter bad;
    bad.u16(1).u8(50).zeros(4);
    FlowDatagram e = nf9();
    e.template_set(258, {{7, 2}, {82, kVariableLength}});
    seed("netflow9", "bad_record_variable_length", e.data_set(258, bad).build(),
         DecodeStatus::kBadRecord);
  }
  {
    FlowDatagram d = FlowDatagram::netflow9(500, 1'700'000'000, 1);
    d.template_set(259, {{22, 4}, {21, 4}});
    ByteWriter r;
    r.u32(0xfffff000).u32(100);
    seed("netflow9", "ok_uptime_wrap", d.data_set(259, r).build(), DecodeStatus::kOk);
  }
  {
    FlowDatagram d = nf9();
    for (uint16_t id = 256; id < 256 + 20; ++id) d.template_set(id, {{7, 2}, {11, 2}});
    seed("netflow9", "ok_twenty_templates", d.build(), DecodeStatus::kOk);
  }
  Bytes header = nf9().build();
  header.resize(19);
  seed("netflow9", "truncated_header", header, DecodeStatus::kTruncated);
  Bytes v8 = nf9().build();
  v8[1] = 8;
  seed("netflow9", "bad_version", v8, DecodeStatus::kBadVersion);
  seed("netflow9", "bad_set_length_short", nf9().raw({1, 0, 0, 3, 1, 2, 3, 4}).build(),
       DecodeStatus::kBadSetLength);
  {
    FlowDatagram d = nf9();
    nf9_template(d).data_set(256, nf9_records(1)).raw({1, 0, 0, 40, 1, 2, 3, 4});
    seed("netflow9", "bad_set_length_past_end", d.build(), DecodeStatus::kBadSetLength);
  }
  seed("netflow9", "bad_template_id", nf9().template_set(12, {{7, 2}}).build(),
       DecodeStatus::kBadTemplate);
  {
    ByteWriter b;
    b.u16(256).u16(0).u32(0x00070002);
    seed("netflow9", "bad_template_count_zero", nf9().set(0, b).build(),
         DecodeStatus::kBadTemplate);
    ByteWriter c;
    c.u16(256).u16(4).u16(7).u16(2);
    seed("netflow9", "bad_template_fields_past_set", nf9().set(0, c).build(),
         DecodeStatus::kBadTemplate);
    ByteWriter o;
    o.u16(300).u16(3).u16(4).u16(1).u16(4).u16(34).u16(4);
    seed("netflow9", "bad_options_scope_length", nf9().set(1, o).build(),
         DecodeStatus::kBadTemplate);
    seed("netflow9", "bad_template_zero_length_fields",
         nf9().template_set(256, {{7, 0}, {8, 0}}).build(), DecodeStatus::kBadTemplate);
  }
  {
    ByteWriter b;
    b.u16(256).u16(161);
    for (int i = 0; i < 161; ++i) b.u16(8).u16(4);
    seed("netflow9", "template_limit_steps", nf9().set(0, b).build(),
         DecodeStatus::kTemplateLimit);
  }
}

// ---- IPFIX ----

FlowDatagram ipfix(uint32_t domain = 1) { return FlowDatagram::ipfix(1'700'000'000, domain, 1); }

void ipfix_seeds() {
  {
    ByteWriter r;
    for (uint16_t i = 0; i < 3; ++i) {
      r.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u16(i).u16(53).u8(17).u64(100).u64(1);
      r.u64(1'699'999'999'000ull).u64(1'700'000'000'000ull).u32(1).u32(2).u8(1).u16(10);
    }
    seed("ipfix", "ok_template_and_data",
         ipfix()
             .template_set(256, {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 8}, {2, 8},
                                 {152, 8}, {153, 8}, {10, 4}, {14, 4}, {61, 1}, {58, 2}})
             .data_set(256, r)
             .build(),
         DecodeStatus::kOk);
  }
  {
    ByteWriter r;
    r.ipv4(10, 0, 0, 1).u8(3).bytes({'e', 't', '0'}).u16(1);
    r.ipv4(10, 0, 0, 2).u8(255).u16(260).zeros(260).u16(2);
    seed("ipfix", "ok_variable_length",
         ipfix()
             .template_set(257, {{8, 4}, {82, kVariableLength}, {7, 2}})
             .data_set(257, r)
             .build(),
         DecodeStatus::kOk);
    ByteWriter bad;
    bad.ipv4(10, 0, 0, 1).u8(255).u16(4000).zeros(10);
    seed("ipfix", "bad_record_variable_length",
         ipfix()
             .template_set(257, {{8, 4}, {82, kVariableLength}, {7, 2}})
             .data_set(257, bad)
             .build(),
         DecodeStatus::kBadRecord);
  }
  {
    ByteWriter r;
    r.ipv4(10, 0, 0, 1).u32(7).u16(80).u8(2).bytes({1, 2}).u32(9);
    seed("ipfix", "ok_enterprise_fields",
         ipfix()
             .template_set(258, {{8, 4}, {1, 4, 9}, {7, 2}, {100, kVariableLength, 29305}, {2, 4}})
             .data_set(258, r)
             .build(),
         DecodeStatus::kOk);
  }
  {
    FlowDatagram d = ipfix();
    d.options_template_set(259, {{149, 4}}, {{305, 4}, {306, 4}});
    ByteWriter o;
    o.u32(1).u32(1).u32(99);
    d.data_set(259, o);
    ByteWriter r;
    r.u16(1).u16(2);
    d.template_set(260, {{7, 2}, {11, 2}}).data_set(260, r);
    seed("ipfix", "ok_options_packet_interval", d.build(), DecodeStatus::kOk);
  }
  {
    FlowDatagram d = ipfix();
    d.options_template_set(261, {{302, 8}}, {{309, 4}, {310, 4}});
    ByteWriter o;
    o.u64(5).u32(1).u32(64).u64(6).u32(0).u32(64);
    d.data_set(261, o);
    ByteWriter r;
    r.u16(1).u64(5).u16(2).u64(6);
    d.template_set(262, {{7, 2}, {302, 8}}).data_set(262, r);
    seed("ipfix", "ok_options_selector", d.build(), DecodeStatus::kOk);
  }
  {
    FlowDatagram d = ipfix();
    d.options_template_set(263, {{149, 4}}, {{160, 8}, {82, kVariableLength}});
    ByteWriter o;
    o.u32(1).u64(1'699'000'000'000ull).u8(2).bytes({'x', 'y'});
    d.data_set(263, o);
    ByteWriter r;
    r.u32(1000).u32(2000);
    d.template_set(264, {{22, 4}, {21, 4}}).data_set(264, r);
    seed("ipfix", "ok_options_system_init", d.build(), DecodeStatus::kOk);
  }
  {
    ByteWriter r;
    r.u32(1'699'999'990).u32(1'699'999'999).u32(3'908'988'790u).u32(0x80000000u);
    r.u32(3'908'988'799u).u32(0x40000000u).u32(5'000'000).u32(1'000).u64(1'690'000'000'000ull);
    r.u32(10).u32(20);
    seed("ipfix", "ok_times",
         ipfix()
             .template_set(265, {{150, 4}, {151, 4}, {156, 8}, {157, 8}, {158, 4}, {159, 4},
                                 {160, 8}, {22, 4}, {21, 4}})
             .data_set(265, r)
             .build(),
         DecodeStatus::kOk);
  }
  {
    ByteWriter r;
    r.bytes({0x20, 1, 0xd, 0xb8}).zeros(11).u8(1).bytes({0x20, 1, 0xd, 0xb8}).zeros(11).u8(2);
    r.u8(64).u8(48).bytes({0x20, 1, 0xd, 0xb8}).zeros(11).u8(0xfe);
    r.bytes({0, 1, 2, 3, 4, 5}).bytes({6, 7, 8, 9, 10, 11}).u8(6).u32(3).u32(4);
    seed("ipfix", "ok_ipv6_macs_interfaces",
         ipfix()
             .template_set(266, {{27, 16}, {28, 16}, {29, 1}, {30, 1}, {62, 16}, {81, 6},
                                 {57, 6}, {60, 1}, {252, 4}, {253, 4}})
             .data_set(266, r)
             .build(),
         DecodeStatus::kOk);
  }
  {
    ByteWriter w;
    w.u16(256).u16(0).u16(2).u16(0);
    ByteWriter wo;
    wo.u16(3).u16(0);
    seed("ipfix", "ok_withdrawals",
         ipfix().template_set(256, {{7, 2}}).set(2, w).set(3, wo).build(), DecodeStatus::kOk);
  }
  {
    ByteWriter r;
    r.u16(1).zeros(2);
    seed("ipfix", "ok_padding",
         ipfix().template_set(267, {{7, 2}}).data_set(267, r).zeros(12).build(),
         DecodeStatus::kOk);
  }
  {
    // Regressions: bgpNextHopIPv4Address (18) once overrode ipNextHopIPv4Address (15); records of
    // a variable-length template lost for want of a block were once counted one per set.
    ByteWriter r;
    r.ipv4(10, 0, 0, 15).ipv4(10, 0, 0, 18);
    seed("ipfix", "ok_next_hop_ip_and_bgp",
         ipfix().template_set(268, {{15, 4}, {18, 4}}).data_set(268, r).build(),
         DecodeStatus::kOk);
    ByteWriter v;
    for (uint16_t i = 0; i < 300; ++i) v.u16(i).u8(1).u8(static_cast<uint8_t>(i));
    seed("ipfix", "ok_variable_length_many_records",
         ipfix().template_set(269, {{7, 2}, {82, kVariableLength}}).data_set(269, v).build(),
         DecodeStatus::kOk);
  }
  seed("ipfix", "ok_data_held", ipfix().data_set(256, ByteWriter().u16(7).u16(8)).build(),
       DecodeStatus::kOk);
  Bytes header = ipfix().build();
  header.resize(15);
  seed("ipfix", "truncated_header", header, DecodeStatus::kTruncated);
  Bytes v9 = ipfix().build();
  v9[1] = 11;
  seed("ipfix", "bad_version", v9, DecodeStatus::kBadVersion);
  seed("ipfix", "bad_length_past_datagram", ipfix().length(40).build(), DecodeStatus::kBadLength);
  seed("ipfix", "bad_length_under_header", ipfix().length(8).build(), DecodeStatus::kBadLength);
  seed("ipfix", "bad_set_length_short", ipfix().raw({1, 0, 0, 2, 1, 1, 1, 1}).build(),
       DecodeStatus::kBadSetLength);
  seed("ipfix", "bad_set_length_past_message", ipfix().raw({1, 0, 0, 9, 1, 1, 1, 1}).build(),
       DecodeStatus::kBadSetLength);
  seed("ipfix", "bad_set_length_stray_bytes",
       ipfix().template_set(256, {{7, 2}}).raw({0, 1, 0}).build(), DecodeStatus::kBadSetLength);
  seed("ipfix", "bad_template_id", ipfix().template_set(255, {{7, 2}}).build(),
       DecodeStatus::kBadTemplate);
  {
    ByteWriter s;
    s.u16(300).u16(1).u16(2).u16(149).u16(4);
    seed("ipfix", "bad_template_scope_count", ipfix().set(3, s).build(),
         DecodeStatus::kBadTemplate);
    ByteWriter p;
    p.u16(300).u16(1).u16(0x8001).u16(4).u16(0);
    seed("ipfix", "bad_template_pen_cut", ipfix().set(2, p).build(), DecodeStatus::kBadTemplate);
    ByteWriter w;
    w.u16(7).u16(0);
    seed("ipfix", "bad_template_withdraw_reserved", ipfix().set(2, w).build(),
         DecodeStatus::kBadTemplate);
    ByteWriter n;
    n.u16(300).u16(600);
    for (int i = 0; i < 600; ++i) n.u16(7).u16(2);
    seed("ipfix", "bad_template_too_many_fields", ipfix().set(2, n).build(),
         DecodeStatus::kBadTemplate);
  }
}

// ---- multi-datagram (fuzz_datagram's framed form) ----

class Framed {
 public:
  Framed() { w_.u8(0xff); }
  Framed& frame(uint8_t control, const Bytes& d) {
    w_.u8(control).u16(static_cast<uint16_t>(d.size())).bytes(d);
    return *this;
  }
  Bytes build() const { return w_.data(); }

 private:
  ByteWriter w_;
};

void datagram_seeds() {
  FlowDatagram t = nf9();
  const Bytes v9_template = nf9_template(t).build();
  const Bytes v9_data = nf9().data_set(256, nf9_records(2)).build();
  write("datagram", "data_then_template", Framed().frame(0, v9_data).frame(0, v9_template).build());
  write("datagram", "held_data_expires",
        Framed().frame(0, v9_data).frame(8, Bytes{}).frame(8, v9_template).build());
  {
    Framed f;
    for (uint8_t c = 0; c < 8; ++c) f.frame(c, v9_template);  // 8 exporters, room for 4
    write("datagram", "exporter_limit", f.build());
  }
  {
    Framed f;
    for (int i = 0; i < 12; ++i) f.frame(0, v9_data);  // 8 held sets at most
    write("datagram", "pending_eviction", f.frame(0, v9_template).build());
  }
  {
    ByteWriter big;
    big.zeros(1600);
    const Bytes d = nf9().data_set(256, big).build();
    write("datagram", "pending_exporter_bound",
          Framed().frame(0, d).frame(0, d).frame(0, d).build());
  }
  {
    FlowDatagram d = nf9();
    for (uint16_t id = 256; id < 256 + 20; ++id) d.template_set(id, {{7, 2}});
    write("datagram", "template_limit", Framed().frame(0, d.build()).frame(1, d.build()).build());
  }
  {
    V5Header h;
    ByteWriter s;  // sFlow v5 with no samples
    s.u32(5).u32(1).ipv4(192, 0, 2, 9).u32(0).u32(1).u32(0).u32(0);
    const Bytes ipfix_one = ipfix().template_set(256, {{7, 2}}).data_set(256, ByteWriter().u16(1))
                                .build();
    write("datagram", "mixed_protocols",
          Framed()
              .frame(0, v5(h, 2))
              .frame(0, v9_template)
              .frame(0, v9_data)
              .frame(0, ipfix_one)
              .frame(0, s.data())
              .frame(0, Bytes{0, 7, 0, 0})
              .build());
    write("datagram", "listener_mismatch",
          Framed()
              .frame(0x10, v9_template)
              .frame(0x20, v9_template)
              .frame(0x30, v9_data)
              .frame(0x40, ipfix_one)
              .frame(0x30, ipfix_one)
              .build());
  }
  {
    // Raw form: two v5 datagrams and two v9 ones concatenated, as `nc -k` captures are.
    V5Header h;
    Bytes raw = v5(h, 1);
    const Bytes second = v5(h, 2);
    raw.insert(raw.end(), second.begin(), second.end());
    write("datagram", "raw_concatenated_netflow5", raw);
    Bytes raw9 = v9_template;
    raw9.insert(raw9.end(), v9_data.begin(), v9_data.end());
    write("datagram", "raw_concatenated_netflow9", raw9);
  }
}

// ---- pcap: link, IP and fragment layer ----

namespace fb = flowgate::dataplane::testing;
using flowgate::dataplane::PacketCounters;
using flowgate::dataplane::ReassemblyCounters;

// What a pcap seed must reach, checked by replaying it through a fresh UdpExtractor.
struct PcapWant {
  uint64_t PacketCounters::*packet = nullptr;
  uint64_t ReassemblyCounters::*reassembly = nullptr;
};

// Writes an Ethernet pcap seed (1 ms between frames) and checks that it bumps `want`.
void pcap_seed(const std::string& name, const std::vector<fb::Frame>& frames, PcapWant want) {
  std::filesystem::create_directories(g_root / "pcap");
  std::vector<fb::PcapRecord> records;
  uint64_t ns = 1'700'000'000'000'000'000ull;
  flowgate::dataplane::UdpExtractor x(4, 50'000'000);
  for (const fb::Frame& f : frames) {
    records.push_back(fb::PcapRecord{ns, f, 0});
    x.extract(flowgate::dataplane::LinkType::kEthernet, fb::as_bytes(f), ns);
    ns += 1'000'000;
  }
  fb::write_pcap(g_root / "pcap" / (name + ".pcap"), 1, records);
  const bool ok = (want.packet == nullptr || x.counters().*want.packet > 0) &&
                  (want.reassembly == nullptr || x.reassembly_counters().*want.reassembly > 0);
  if (!ok) {
    std::fprintf(stderr, "pcap/%s: did not reach its counter\n", name.c_str());
    ++g_failures;
  }
}

fb::Frame eth4(const fb::Frame& ip, std::initializer_list<uint16_t> tags = {}) {
  return fb::ethernet(0x0800, ip, tags);
}
fb::Frame eth6(const fb::Frame& ip) { return fb::ethernet(0x86dd, ip); }

// IPv4 fragments of `d` (a UDP header and payload) of `size` bytes each, in order.
std::vector<fb::Frame> v4_fragments(const fb::Frame& d, size_t size, uint16_t id = 7) {
  std::vector<fb::Frame> out;
  for (size_t off = 0; off < d.size(); off += size) {
    const size_t n = std::min(size, d.size() - off);
    fb::Ipv4Options o;
    o.id = id;
    o.offset = static_cast<uint16_t>(off);
    o.more_fragments = off + n < d.size();
    out.push_back(eth4(fb::ipv4(fb::kSrc4, fb::kDst4,
                                std::span(d).subspan(off, n), o)));
  }
  return out;
}

std::vector<fb::Frame> v6_fragments(const fb::Frame& d, size_t size, uint8_t first_nh = 17) {
  std::vector<fb::Frame> out;
  for (size_t off = 0; off < d.size(); off += size) {
    const size_t n = std::min(size, d.size() - off);
    const fb::Frame fh = fb::ipv6_fragment_header(first_nh, static_cast<uint16_t>(off),
                                                  off + n < d.size(), 99);
    out.push_back(eth6(fb::ipv6(fb::kSrc6, fb::kDst6, 44,
                                fb::concat({fh, std::span(d).subspan(off, n)}))));
  }
  return out;
}

void pcap_seeds() {
  const fb::Frame payload = v5(V5Header{}, 2);
  const fb::Frame dgram = fb::udp(40000, 2055, payload);
  using P = PacketCounters;
  using R = ReassemblyCounters;
  pcap_seed("ok_ipv4_udp", {eth4(fb::ipv4(fb::kSrc4, fb::kDst4, dgram))}, {&P::udp_frames});
  pcap_seed("ok_qinq_ipv4", {eth4(fb::ipv4(fb::kSrc4, fb::kDst4, dgram), {0x88a8, 0x8100})},
            {&P::udp_frames});
  pcap_seed("ok_ipv6_ext_chain",
            {eth6(fb::ipv6(fb::kSrc6, fb::kDst6, 0,
                           fb::concat({fb::ipv6_ext(60), fb::ipv6_ext(43, 1), fb::ipv6_ext(17),
                                       dgram})))},
            {&P::udp_frames});
  pcap_seed("ok_ipv4_fragments", v4_fragments(dgram, 48), {nullptr, &R::completed});
  {
    std::vector<fb::Frame> f = v4_fragments(dgram, 48);
    std::reverse(f.begin(), f.end());
    pcap_seed("ok_ipv4_fragments_reversed", f, {nullptr, &R::completed});
  }
  pcap_seed("ok_ipv6_fragments", v6_fragments(dgram, 40), {nullptr, &R::completed});
  pcap_seed("ok_ipv6_fragments_then_dest_options",
            v6_fragments(fb::concat({fb::ipv6_ext(17), dgram}), 40, 60), {nullptr, &R::completed});
  {
    std::vector<fb::Frame> f = v4_fragments(dgram, 48);
    fb::Ipv4Options o;
    o.id = 7;
    o.offset = 40;  // overlaps the first fragment's last 8 bytes
    o.more_fragments = true;
    f.insert(f.begin() + 1, eth4(fb::ipv4(fb::kSrc4, fb::kDst4, std::span(dgram).subspan(40, 16),
                                          o)));
    pcap_seed("bad_ipv4_overlap", f, {nullptr, &R::overlaps});
  }
  {
    fb::Ipv4Options o;
    o.offset = 65528;  // with 16 bytes: past 65535
    o.more_fragments = true;
    pcap_seed("bad_ipv4_fragment_too_big",
              {eth4(fb::ipv4(fb::kSrc4, fb::kDst4, std::span(dgram).subspan(0, 16), o))},
              {nullptr, &R::too_big});
  }
  {
    std::vector<fb::Frame> f;  // 6 datagrams started, 4 slots
    for (uint16_t id = 1; id <= 6; ++id) f.push_back(v4_fragments(dgram, 48, id)[0]);
    pcap_seed("bad_fragment_eviction", f, {nullptr, &R::evicted});
  }
  {
    fb::Ipv4Options o;
    o.version_ihl = 0x44;  // IHL 4: 16 bytes
    pcap_seed("bad_ipv4_ihl_under_5", {eth4(fb::ipv4(fb::kSrc4, fb::kDst4, dgram, o))},
              {&P::bad_header});
    fb::Ipv4Options t;
    t.total_length = 1500;
    pcap_seed("bad_ipv4_total_length_past_frame", {eth4(fb::ipv4(fb::kSrc4, fb::kDst4, dgram, t))},
              {&P::truncated});
  }
  {
    // 16 extension headers are walked; a 17th makes the packet bad_header.
    fb::Frame chain;
    for (int i = 0; i < 15; ++i) chain = fb::concat({chain, fb::ipv6_ext(60)});
    const fb::Frame ok_chain = fb::concat({chain, fb::ipv6_ext(17), dgram});
    pcap_seed("ok_ipv6_ext_chain_16", {eth6(fb::ipv6(fb::kSrc6, fb::kDst6, 60, ok_chain))},
              {&P::udp_frames});
    const fb::Frame long_chain = fb::concat({chain, fb::ipv6_ext(60), fb::ipv6_ext(17), dgram});
    pcap_seed("bad_ipv6_ext_chain_17", {eth6(fb::ipv6(fb::kSrc6, fb::kDst6, 60, long_chain))},
              {&P::bad_header});
    pcap_seed("bad_ipv6_hop_by_hop_not_first",
              {eth6(fb::ipv6(fb::kSrc6, fb::kDst6, 60,
                             fb::concat({fb::ipv6_ext(0), fb::ipv6_ext(17), dgram})))},
              {&P::bad_header});
    fb::Frame long_ext = fb::ipv6_ext(17, 200);  // says 1608 bytes, carries 8
    long_ext.resize(8);
    pcap_seed("bad_ipv6_ext_past_payload", {eth6(fb::ipv6(fb::kSrc6, fb::kDst6, 60, long_ext))},
              {&P::truncated});
  }
  pcap_seed("bad_truncated_udp",
            {eth4(fb::ipv4(fb::kSrc4, fb::kDst4, std::span(dgram).subspan(0, 6)))},
            {&P::truncated});
  // The frames form: link type byte, then [length u16][frame]; raw IPv4 here.
  {
    const fb::Frame ip = fb::ipv4(fb::kSrc4, fb::kDst4, dgram);
    Bytes framed{2, static_cast<uint8_t>(ip.size() >> 8), static_cast<uint8_t>(ip.size())};
    framed.insert(framed.end(), ip.begin(), ip.end());
    write("pcap", "frames_raw_ipv4", framed);
  }
}

// ---- template_cache_diff: operation sequences ----

void template_cache_diff_seeds() {
  auto op = [](Bytes& b, uint8_t o, uint8_t who, uint8_t id, uint8_t arg) {
    b.insert(b.end(), {o, who, id, arg});
  };
  {
    Bytes b;  // store, refresh, replace, withdraw, withdraw_all
    op(b, 0, 0, 0, 0);
    op(b, 0, 0, 0, 0);
    op(b, 0, 0, 0, 1);
    op(b, 0, 0, 1, 4);
    op(b, 0, 8, 2, 0);
    op(b, 1, 0, 0, 0);
    op(b, 3, 0, 0, 0);
    op(b, 2, 8, 0, 0);
    write("template_cache_diff", "store_replace_withdraw", b);
  }
  {
    Bytes b;  // per-exporter then global template bound, and the exporter bound
    for (uint8_t i = 0; i < 8; ++i) op(b, 0, 0, i, 0);
    for (uint8_t w = 1; w < 6; ++w) {
      for (uint8_t i = 0; i < 4; ++i) op(b, 0, w, i, 0);
    }
    write("template_cache_diff", "limits", b);
  }
  {
    Bytes b;  // held sets: eviction by count and by arena space, release, expiry
    for (uint8_t i = 0; i < 8; ++i) op(b, 5, i % 3, i % 2, 40);
    op(b, 7, 0, 0, 0);
    op(b, 5, 1, 1, 120);
    op(b, 5, 2, 1, 130);
    op(b, 6, 0, 0, 200);
    op(b, 5, 0, 3, 10);
    op(b, 6, 0, 0, 255);
    write("template_cache_diff", "pending", b);
  }
  {
    Bytes b;  // a held set expires exactly at receive time + TTL (1000 ns), not 8 ns before
    op(b, 5, 0, 0, 10);
    op(b, 6, 0, 0, 124);
    op(b, 6, 0, 0, 1);
    write("template_cache_diff", "pending_ttl_boundary", b);
  }
}

// ---- aggregator_diff: flows and clock steps ----

void aggregator_diff_seeds() {
  // A flow (op 0) of exporter pool[exporter], source pool[src], destination pool[dst]; `rest`
  // is the fuzz input's c byte (ports, protocol, ToS, interface, listener bits).
  auto flow = [](Bytes& b, uint8_t exporter, uint8_t src, uint8_t dst, uint8_t rest = 2,
                 uint8_t bytes = 100) {
    b.insert(b.end(), {0, static_cast<uint8_t>(exporter | src << 3), dst, rest, bytes, 0x12});
  };
  auto add = [](Bytes& b, uint8_t advance_ms) { b.insert(b.end(), {5, advance_ms, 0, 0, 0, 0}); };
  auto flush_due = [](Bytes& b, uint8_t quarter_ms) {
    b.insert(b.end(), {6, quarter_ms, 0, 0, 0, 0});
  };
  {
    Bytes b{15};  // 16 keys: merges, then the interval passes for the first block only
    for (int i = 0; i < 3; ++i) flow(b, 0, 0, 1);
    flow(b, 0, 0, 1, 3);     // another destination port
    flow(b, 0, 0, 1, 2 | 8);  // another input interface
    add(b, 60);
    flow(b, 0, 0, 1, 2 | 4);  // another ToS
    flow(b, 0, 0, 1);         // merges into the first block's key
    add(b, 0);
    flush_due(b, 10);  // 100 ms after the first block: its keys only
    flush_due(b, 20);
    write("aggregator_diff", "merge_and_flush", b);
  }
  {
    Bytes b{15};  // each address of the pool as exporter, source and destination, twice
    for (int round = 0; round < 2; ++round) {
      for (uint8_t a = 0; a < 8; ++a) {
        flow(b, a, 0, 1);
        flow(b, 0, a, 1);
        flow(b, 0, 0, a);
      }
    }
    add(b, 0);
    b.insert(b.end(), {7, 0, 0, 0, 0, 0});
    write("aggregator_diff", "addresses_that_end_alike", b);
  }
  {
    Bytes b{2};  // 3 keys: six new keys in one block write three out early, then one returns
    for (uint8_t a = 0; a < 6; ++a) flow(b, 0, a, 1);
    flow(b, 0, 0, 1);
    add(b, 1);
    flow(b, 0, 4, 1);
    add(b, 1);
    write("aggregator_diff", "key_bound", b);
  }
  {
    Bytes b{15};  // listeners 0 and 1 share a namespace, 2 has its own, 3 is past the list
    for (uint8_t l = 0; l < 4; ++l) flow(b, 0, 0, 1, static_cast<uint8_t>(2 | l << 4));
    add(b, 0);
    write("aggregator_diff", "namespaces", b);
  }
}

// ---- aggregator_settle_diff: flows, blocks, clock steps ----

void aggregator_settle_diff_seeds() {
  // A flow (op 0) of source pool[src], destination pool[dst], source port 1000 + sp,
  // destination port 80 + dp, exporter 0, TCP.
  auto flow = [](Bytes& b, uint8_t src, uint8_t dst, uint8_t sp, uint8_t dp) {
    b.insert(b.end(), {0, static_cast<uint8_t>(src | dst << 2), static_cast<uint8_t>(sp | dp << 3),
                       2, 100});
  };
  auto add = [](Bytes& b) { b.insert(b.end(), {5, 0, 0, 0, 0}); };
  auto flush_due = [](Bytes& b, uint8_t ms) { b.insert(b.end(), {6, ms, 0, 0, 0}); };
  {
    // Threshold 3, 16 keys: one pair's conversation settles and merges; within one block a
    // second and third source port then spill the pair, and the settled conversation's next
    // flows, rows later in the same block, must consult the roll-up again.
    Bytes b{2 | 15 << 2};
    for (int i = 0; i < 3; ++i) flow(b, 0, 1, 0, 0);
    add(b);
    flow(b, 0, 1, 0, 0);
    flow(b, 0, 1, 1, 0);
    flow(b, 0, 1, 0, 0);
    flow(b, 0, 1, 2, 0);
    for (int i = 0; i < 3; ++i) flow(b, 0, 1, 0, 0);
    add(b);
    write("aggregator_settle_diff", "spill_within_a_block", b);
  }
  {
    // Threshold 3, 16 keys: the same, with the spill in a block of its own, so the next
    // block's flows of the settled conversation find the pair marked as spilled.
    Bytes b{2 | 15 << 2};
    for (int i = 0; i < 2; ++i) flow(b, 0, 1, 0, 0);
    add(b);
    flow(b, 0, 1, 1, 0);
    flow(b, 0, 1, 2, 0);
    add(b);
    flow(b, 0, 1, 0, 0);
    add(b);
    write("aggregator_settle_diff", "spill_in_an_earlier_block", b);
  }
  {
    // Threshold 10, 16 keys: settled conversations across a rotation (8 ms), which forgets
    // what the newer generation did not see, and the flush interval (20 ms).
    Bytes b{3 | 15 << 2};
    for (uint8_t src = 0; src < 4; ++src) flow(b, src, 1, src, 0);
    add(b);
    flush_due(b, 9);
    flow(b, 0, 1, 0, 0);
    add(b);
    flush_due(b, 9);
    for (uint8_t src = 0; src < 4; ++src) flow(b, src, 1, src, 0);
    add(b);
    flush_due(b, 15);
    write("aggregator_settle_diff", "rotations", b);
  }
  {
    // Threshold 2, 2 keys: records written early and taken again while their pair fills.
    Bytes b{1 | 1 << 2};
    for (uint8_t sp = 0; sp < 4; ++sp) {
      flow(b, 2, 3, sp, 0);
      flow(b, 2, 3, 0, sp);
      flow(b, 0, 1, 0, 0);
    }
    add(b);
    write("aggregator_settle_diff", "key_bound", b);
  }
}

// ---- port_rollup_diff: flows and rotations ----

void port_rollup_diff_seeds() {
  // A flow of source address src, destination dst, source port 1000 + sp, destination port
  // 80 + dp; a rotation.
  auto flow = [](Bytes& b, uint8_t src, uint8_t dst, uint8_t sp, uint8_t dp) {
    b.insert(b.end(), {0, static_cast<uint8_t>(src | dst << 4), sp, dp});
  };
  auto rotate = [](Bytes& b) { b.insert(b.end(), {15, 0, 0, 0}); };
  {
    Bytes b{2, 4};  // threshold 3, 256 keys: one pair's destination port meets five sources
    for (uint8_t sp = 0; sp < 5; ++sp) flow(b, 0, 1, sp, 0);
    for (uint8_t sp = 0; sp < 5; ++sp) flow(b, 0, 1, sp, 0);  // its source port rolls up
    rotate(b);
    flow(b, 0, 1, 7, 0);
    rotate(b);
    for (uint8_t sp = 0; sp < 3; ++sp) flow(b, 0, 1, sp, 0);
    write("port_rollup_diff", "spill_and_roll_up", b);
  }
  {
    Bytes b{9, 1};  // threshold 10, 32 keys (16 pairs in 32 slots): every pair, two tuples each
    for (int round = 0; round < 3; ++round) {
      for (uint8_t src = 0; src < 16; ++src) {
        flow(b, src, 0, 0, 0);
        flow(b, src, 0, 1, 0);
      }
      if (round == 1) rotate(b);
    }
    write("port_rollup_diff", "crowded_pairs", b);
  }
  {
    // Threshold 3, 64 keys: a rotation keeps only the tuples the newer generation saw. Tuple 0
    // is seen again (a held tuple: the inline path marks it) and survives the second rotation,
    // tuple 1 does not; two new source ports then bring the pair to the threshold, and the
    // source port rolls up.
    Bytes b{2, 2};
    flow(b, 3, 4, 0, 0);
    flow(b, 3, 4, 1, 0);
    rotate(b);
    flow(b, 3, 4, 0, 0);
    rotate(b);
    flow(b, 3, 4, 2, 0);
    flow(b, 3, 4, 3, 0);
    flow(b, 3, 4, 1, 0);
    write("port_rollup_diff", "rotations_forget", b);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEEDS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  netflow5_seeds();
  netflow9_seeds();
  ipfix_seeds();
  datagram_seeds();
  pcap_seeds();
  template_cache_diff_seeds();
  aggregator_diff_seeds();
  aggregator_settle_diff_seeds();
  port_rollup_diff_seeds();
  return g_failures == 0 ? 0 : 1;
}
