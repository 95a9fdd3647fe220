// sFlow v5 decoder: byte-array datagrams built per sflow_version_5.txt, one test per sample and
// record type, header encapsulation, and malformed length.

#include "decode/sflow_decoder.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "decode/datagram_decoder.hpp"
#include "tests/support/byte_writer.hpp"
#include "tests/support/collecting_output.hpp"

namespace flowgate {
namespace {

using decode::DatagramMeta;
using decode::DecodeCounters;
using decode::DecodeStatus;
using decode::Direction;
using decode::FlowBlock;
using decode::FlowType;
using decode::InterfaceCounterStore;
using decode::IpAddress;
using testing::ByteWriter;
using testing::CollectingOutput;

using Bytes = std::vector<uint8_t>;

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return IpAddress::from_v4((uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d);
}

IpAddress v6(std::array<uint8_t, 16> b) { return IpAddress::from_v6_bytes(b.data()); }

constexpr std::array<uint8_t, 16> kSrc6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                           0,    0,    0,    0,    0, 0, 0, 1};
constexpr std::array<uint8_t, 16> kDst6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                           0,    0,    0,    0,    0, 0, 0, 2};

// ---- packet (sampled header) builders ----

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes ethernet(uint16_t type) {
  return {0x00,
          0x11,
          0x22,
          0x33,
          0x44,
          0x55,  // dst
          0x66,
          0x77,
          0x88,
          0x99,
          0xaa,
          0xbb,  // src
          static_cast<uint8_t>(type >> 8),
          static_cast<uint8_t>(type)};
}
constexpr uint64_t kDstMac = 0x001122334455;
constexpr uint64_t kSrcMac = 0x66778899aabb;

Bytes vlan_tag(uint16_t tci, uint16_t next) {
  return {static_cast<uint8_t>(tci >> 8), static_cast<uint8_t>(tci),
          static_cast<uint8_t>(next >> 8), static_cast<uint8_t>(next)};
}

Bytes mpls(uint32_t label, bool bottom) {
  const uint32_t w = (label << 12) | (bottom ? 0x100u : 0u) | 64u;
  return {static_cast<uint8_t>(w >> 24), static_cast<uint8_t>(w >> 16),
          static_cast<uint8_t>(w >> 8), static_cast<uint8_t>(w)};
}

// IPv4 header 10.0.0.1 -> 10.0.0.2; `options` 4-byte words after the 20 fixed bytes.
Bytes ipv4(uint8_t protocol, uint8_t tos = 0, uint16_t frag = 0, uint8_t options = 0) {
  ByteWriter w;
  w.u8(static_cast<uint8_t>(0x45 + options)).u8(tos).u16(1500).u16(0x1234).u16(frag);
  w.u8(64).u8(protocol).u16(0).ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2);
  for (uint8_t i = 0; i < options; ++i) w.u32(0x01010101);  // NOPs
  return w.data();
}

Bytes ipv6(uint8_t next, uint8_t traffic_class = 0) {
  ByteWriter w;
  w.u32(0x60000000u | (uint32_t{traffic_class} << 20)).u16(1000).u8(next).u8(64);
  w.bytes(kSrc6).bytes(kDst6);
  return w.data();
}

// A generic 8-byte-unit extension header (hop-by-hop, routing, destination options).
Bytes ext_header(uint8_t next, uint8_t units) {
  Bytes b(size_t{units + 1u} * 8, 0);
  b[0] = next;
  b[1] = units;
  return b;
}

Bytes fragment_header(uint8_t next, uint16_t offset, bool more) {
  const uint16_t v = static_cast<uint16_t>((offset << 3) | (more ? 1 : 0));
  return {next, 0, static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v), 0, 0, 0, 7};
}

Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags) {
  ByteWriter w;
  w.u16(sport).u16(dport).u32(1).u32(2).u8(0x50).u8(flags).u16(1024).u16(0).u16(0);
  return w.data();
}

Bytes udp(uint16_t sport, uint16_t dport) {
  ByteWriter w;
  w.u16(sport).u16(dport).u16(8).u16(0);
  return w.data();
}

Bytes icmp(uint8_t type, uint8_t code) { return {type, code, 0, 0, 0, 1, 0, 1}; }

// ---- sFlow structure builders ----

void pad4(ByteWriter& w) {
  while (w.size() % 4 != 0) w.u8(0);
}

// A flow_record / counter_record / sample_record: format word, length, body.
Bytes xdr_record(uint32_t format, const Bytes& body) {
  ByteWriter w;
  w.u32(format).u32(static_cast<uint32_t>(body.size())).bytes(body);
  return w.data();
}

Bytes raw_header(const Bytes& header, uint32_t frame_length, uint32_t protocol = 1) {
  ByteWriter w;
  w.u32(protocol).u32(frame_length).u32(4).u32(static_cast<uint32_t>(header.size()));
  w.bytes(header);
  pad4(w);
  return xdr_record(1, w.data());
}

Bytes sampled_ethernet(uint32_t length, uint32_t type) {
  ByteWriter w;
  w.u32(length);
  w.bytes({0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0, 0});  // src mac, XDR-padded
  w.bytes({0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0, 0});  // dst mac
  w.u32(type);
  return xdr_record(2, w.data());
}

Bytes sampled_ipv4(uint32_t length, uint32_t protocol, uint16_t sport, uint16_t dport,
                   uint32_t flags, uint32_t tos) {
  ByteWriter w;
  w.u32(length).u32(protocol).ipv4(192, 0, 2, 10).ipv4(198, 51, 100, 20);
  w.u32(sport).u32(dport).u32(flags).u32(tos);
  return xdr_record(3, w.data());
}

Bytes sampled_ipv6(uint32_t length, uint32_t protocol, uint16_t sport, uint16_t dport,
                   uint32_t flags, uint32_t priority) {
  ByteWriter w;
  w.u32(length).u32(protocol).bytes(kSrc6).bytes(kDst6);
  w.u32(sport).u32(dport).u32(flags).u32(priority);
  return xdr_record(4, w.data());
}

Bytes extended_switch(uint32_t src_vlan, uint32_t dst_vlan) {
  ByteWriter w;
  w.u32(src_vlan).u32(0).u32(dst_vlan).u32(0);
  return xdr_record(1001, w.data());
}

Bytes extended_router_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint32_t src_mask,
                         uint32_t dst_mask) {
  ByteWriter w;
  w.u32(1).ipv4(a, b, c, d).u32(src_mask).u32(dst_mask);
  return xdr_record(1002, w.data());
}

// Extended gateway: next hop 203.0.113.1, router AS, source AS, peer AS, one AS_SEQUENCE
// segment of `path`, `communities`, localpref.
Bytes extended_gateway(uint32_t router_as, uint32_t src_as, const std::vector<uint32_t>& path,
                       uint32_t communities = 0) {
  ByteWriter w;
  w.u32(1).ipv4(203, 0, 113, 1).u32(router_as).u32(src_as).u32(65000);
  w.u32(path.empty() ? 0 : 1);
  if (!path.empty()) {
    w.u32(2).u32(static_cast<uint32_t>(path.size()));
    for (uint32_t as : path) w.u32(as);
  }
  w.u32(communities);
  for (uint32_t i = 0; i < communities; ++i) w.u32(0xfde80000u + i);
  w.u32(100);
  return xdr_record(1003, w.data());
}

// flow_sample (format 1) with compact interfaces.
Bytes flow_sample(const std::vector<Bytes>& records, uint32_t rate = 1000, uint32_t input = 3,
                  uint32_t output = 7) {
  ByteWriter w;
  w.u32(42).u32(3).u32(rate).u32(123456).u32(0).u32(input).u32(output);
  w.u32(static_cast<uint32_t>(records.size()));
  for (const Bytes& r : records) w.bytes(r);
  return xdr_record(1, w.data());
}

// expanded_flow_sample (format 3).
Bytes expanded_flow_sample(const std::vector<Bytes>& records, uint32_t rate, uint32_t in_format,
                           uint32_t in_value, uint32_t out_format, uint32_t out_value) {
  ByteWriter w;
  w.u32(43).u32(0).u32(1000100).u32(rate).u32(99).u32(0);
  w.u32(in_format).u32(in_value).u32(out_format).u32(out_value);
  w.u32(static_cast<uint32_t>(records.size()));
  for (const Bytes& r : records) w.bytes(r);
  return xdr_record(3, w.data());
}

Bytes generic_counters(uint32_t if_index) {
  ByteWriter w;
  w.u32(if_index).u32(6).u64(10'000'000'000ull).u32(1).u32(3);
  w.u64(0x0000000100000002ull).u32(11).u32(12).u32(13).u32(14).u32(15).u32(16);
  w.u64(0x0000000300000004ull).u32(21).u32(22).u32(23).u32(24).u32(25).u32(0);
  return xdr_record(1, w.data());
}

Bytes ethernet_counters() {
  ByteWriter w;
  for (uint32_t i = 1; i <= 13; ++i) w.u32(100 + i);
  return xdr_record(2, w.data());
}

Bytes counter_sample(const std::vector<Bytes>& records, uint32_t source_id = 5) {
  ByteWriter w;
  w.u32(77).u32(source_id).u32(static_cast<uint32_t>(records.size()));
  for (const Bytes& r : records) w.bytes(r);
  return xdr_record(2, w.data());
}

Bytes expanded_counter_sample(const std::vector<Bytes>& records, uint32_t source_type,
                              uint32_t source_index) {
  ByteWriter w;
  w.u32(78).u32(source_type).u32(source_index).u32(static_cast<uint32_t>(records.size()));
  for (const Bytes& r : records) w.bytes(r);
  return xdr_record(4, w.data());
}

// sample_datagram_v5 from agent 192.0.2.99, sub-agent 7, sequence 1001.
Bytes datagram(const std::vector<Bytes>& samples, uint32_t sample_count = UINT32_MAX) {
  ByteWriter w;
  w.u32(5).u32(1).ipv4(192, 0, 2, 99).u32(7).u32(1001).u32(360000);
  w.u32(sample_count != UINT32_MAX ? sample_count : static_cast<uint32_t>(samples.size()));
  for (const Bytes& s : samples) w.bytes(s);
  return w.data();
}

Bytes datagram_v6_agent(const std::vector<Bytes>& samples) {
  ByteWriter w;
  w.u32(5).u32(2).bytes(kSrc6).u32(0).u32(1).u32(2).u32(static_cast<uint32_t>(samples.size()));
  for (const Bytes& s : samples) w.bytes(s);
  return w.data();
}

void put_u32(Bytes& b, size_t offset, uint32_t v) {
  b[offset] = static_cast<uint8_t>(v >> 24);
  b[offset + 1] = static_cast<uint8_t>(v >> 16);
  b[offset + 2] = static_cast<uint8_t>(v >> 8);
  b[offset + 3] = static_cast<uint8_t>(v);
}

// Offsets in a datagram() with one sample: the sample's length word, its body, and (for a
// flow_sample) the first record's length word and body.
constexpr size_t kSampleLength = 32;
constexpr size_t kSampleBody = 36;
constexpr size_t kFirstRecordLength = kSampleBody + 32 + 4;
constexpr size_t kFirstRecordBody = kFirstRecordLength + 4;

struct Result {
  DecodeStatus status;
  CollectingOutput out;
  DecodeCounters counters;
  size_t size() const { return out.size(); }
  const FlowBlock& block(size_t i = 0) const { return *out.at(i).first; }
  uint32_t row(size_t i = 0) const { return out.at(i).second; }
};

constexpr uint64_t kReceiveNs = 1'700'000'000'123'456'789ull;

DatagramMeta meta() {
  DatagramMeta m;
  m.exporter = v4(198, 18, 0, 1);
  m.exporter_port = 50000;
  m.listener = 2;
  m.receive_ns = kReceiveNs;
  return m;
}

// On the heap: CollectingOutput's FlowOutput points at its owner, so a Result never moves.
std::unique_ptr<Result> run(const Bytes& d, InterfaceCounterStore* store = nullptr) {
  auto r = std::make_unique<Result>();
  r->status = decode::decode_sflow(std::as_bytes(std::span(d)), meta(), r->out.output(),
                                   r->counters, store);
  return r;
}

// Asserts the datagram fails with `status`, bumping exactly that one error counter.
void expect_fault(const Bytes& d, DecodeStatus status) {
  auto r = run(d);
  EXPECT_EQ(r->status, status);
  EXPECT_EQ(r->counters.error(status), 1u);
  EXPECT_EQ(r->counters.total_errors(), 1u);
  EXPECT_EQ(r->counters.datagrams, 1u);
}

Bytes eth_ipv4_tcp() { return cat({ethernet(0x0800), ipv4(6, 0x28), tcp(443, 51000, 0x18)}); }

// ---- datagram and flow sample ----

TEST(SflowDecoder, FlowSampleFillsEveryColumn) {
  auto r = run(datagram({flow_sample({raw_header(eth_ipv4_tcp(), 1514)}, 2048, 3, 7)}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  const uint32_t i = r->row();
  EXPECT_EQ(b.src_addr[i], v4(10, 0, 0, 1));
  EXPECT_EQ(b.dst_addr[i], v4(10, 0, 0, 2));
  EXPECT_EQ(b.src_port[i], 443);
  EXPECT_EQ(b.dst_port[i], 51000);
  EXPECT_EQ(b.protocol[i], 6);
  EXPECT_EQ(b.tos[i], 0x28);
  EXPECT_EQ(b.tcp_flags[i], 0x18);
  EXPECT_EQ(b.bytes[i], 1514u);  // frame_length, not the 54 captured bytes
  EXPECT_EQ(b.packets[i], 1u);
  EXPECT_EQ(b.sampling_rate[i], 2048u);
  EXPECT_EQ(b.in_if[i], 3u);
  EXPECT_EQ(b.out_if[i], 7u);
  EXPECT_EQ(b.src_mac[i], kSrcMac);
  EXPECT_EQ(b.dst_mac[i], kDstMac);
  EXPECT_EQ(b.ether_type[i], 0x0800);
  EXPECT_EQ(b.vlan[i], 0);
  EXPECT_EQ(b.exporter_addr[i], v4(192, 0, 2, 99));  // the agent, not the UDP source
  EXPECT_EQ(b.exporter_port[i], 50000);
  EXPECT_EQ(b.listener[i], 2);
  EXPECT_EQ(b.observation_domain[i], 7u);
  EXPECT_EQ(b.sequence[i], 1001u);
  EXPECT_EQ(b.flow_type[i], FlowType::kSflow5);
  EXPECT_EQ(b.direction[i], Direction::kIngress);
  EXPECT_EQ(b.start_ms[i], kReceiveNs / 1'000'000);
  EXPECT_EQ(b.end_ms[i], kReceiveNs / 1'000'000);
  EXPECT_TRUE(b.next_hop[i].is_zero());
  EXPECT_EQ(r->counters.records, 1u);
  EXPECT_EQ(r->counters.sflow_flow_samples, 1u);
  EXPECT_EQ(r->counters.datagrams, 1u);
  EXPECT_EQ(r->counters.total_errors(), 0u);
}

TEST(SflowDecoder, Ipv6AgentAddress) {
  auto r = run(datagram_v6_agent({flow_sample({raw_header(eth_ipv4_tcp(), 100)})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().exporter_addr[r->row()], v6(kSrc6));
  EXPECT_EQ(r->block().sequence[r->row()], 1u);
}

TEST(SflowDecoder, SeveralSamplesBecomeSeveralRows) {
  auto r = run(datagram({flow_sample({raw_header(eth_ipv4_tcp(), 100)}),
                         counter_sample({generic_counters(5)}),
                         flow_sample({raw_header(eth_ipv4_tcp(), 200)})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(r->block(0).bytes[r->row(0)], 100u);
  EXPECT_EQ(r->block(1).bytes[r->row(1)], 200u);
  EXPECT_EQ(r->counters.sflow_flow_samples, 2u);
  EXPECT_EQ(r->counters.sflow_counter_samples, 1u);
}

TEST(SflowDecoder, FlowSampleWithoutRecordsIsOnePacketOfUnknownContent) {
  auto r = run(datagram({flow_sample({})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().packets[r->row()], 1u);
  EXPECT_EQ(r->block().bytes[r->row()], 0u);
  EXPECT_EQ(r->block().ether_type[r->row()], 0);
}

TEST(SflowDecoder, CompactInterfaceFormats) {
  // Format 1 (discarded, reason 258) on output, format 2 (multiple, 3 interfaces) on input:
  // no single interface, so 0.
  auto r = run(datagram({flow_sample({}, 1, 0x80000003u, 0x40000102u)}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().in_if[r->row()], 0u);
  EXPECT_EQ(r->block().out_if[r->row()], 0u);

  auto r2 = run(datagram({flow_sample({}, 1, 0x3fffffffu, 0x12345u)}));
  ASSERT_EQ(r2->size(), 1u);
  EXPECT_EQ(r2->block().in_if[r2->row()], 0x3fffffffu);  // format 0: the value as sent
  EXPECT_EQ(r2->block().out_if[r2->row()], 0x12345u);
}

TEST(SflowDecoder, ExpandedFlowSample) {
  auto r = run(datagram(
      {expanded_flow_sample({raw_header(eth_ipv4_tcp(), 700)}, 16383, 0, 1000100, 0, 1000018)}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().in_if[r->row()], 1000100u);
  EXPECT_EQ(r->block().out_if[r->row()], 1000018u);
  EXPECT_EQ(r->block().sampling_rate[r->row()], 16383u);
  EXPECT_EQ(r->block().bytes[r->row()], 700u);
}

TEST(SflowDecoder, ExpandedInterfaceFormats) {
  auto r = run(datagram({expanded_flow_sample({}, 1, 2, 4, 1, 258)}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().in_if[r->row()], 0u);   // multiple (4 interfaces)
  EXPECT_EQ(r->block().out_if[r->row()], 0u);  // discarded (reason 258)
}

// ---- raw packet header: L2 ----

TEST(SflowDecoder, Dot1qTagGivesVlan) {
  auto r = run(datagram({flow_sample({raw_header(
      cat({ethernet(0x8100), vlan_tag(0x2020, 0x0800), ipv4(17), udp(53, 5353)}), 90)})}));
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  EXPECT_EQ(b.vlan[r->row()], 0x020);  // VID bits only, PCP 1 dropped
  EXPECT_EQ(b.ether_type[r->row()], 0x0800);
  EXPECT_EQ(b.src_port[r->row()], 53);
  EXPECT_EQ(b.dst_port[r->row()], 5353);
  EXPECT_EQ(b.protocol[r->row()], 17);
}

TEST(SflowDecoder, QinQTagsKeepOuterVlan) {
  for (uint16_t outer : {uint16_t{0x88a8}, uint16_t{0x9100}, uint16_t{0x8100}}) {
    auto r = run(
        datagram({flow_sample({raw_header(cat({ethernet(outer), vlan_tag(100, 0x8100),
                                               vlan_tag(200, 0x86dd), ipv6(6), tcp(1, 2, 0x02)}),
                                          200)})}));
    ASSERT_EQ(r->size(), 1u) << outer;
    const FlowBlock& b = r->block();
    EXPECT_EQ(b.vlan[r->row()], 100) << outer;
    EXPECT_EQ(b.ether_type[r->row()], 0x86dd) << outer;
    EXPECT_EQ(b.src_addr[r->row()], v6(kSrc6)) << outer;
    EXPECT_EQ(b.tcp_flags[r->row()], 0x02) << outer;
  }
}

TEST(SflowDecoder, MplsLabelStackToIpv4) {
  auto r =
      run(datagram({flow_sample({raw_header(cat({ethernet(0x8847), mpls(16, false), mpls(17, false),
                                                 mpls(18, true), ipv4(6), tcp(80, 1234, 0x11)}),
                                            300)})}));
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  EXPECT_EQ(b.ether_type[r->row()], 0x0800);
  EXPECT_EQ(b.src_addr[r->row()], v4(10, 0, 0, 1));
  EXPECT_EQ(b.src_port[r->row()], 80);
  EXPECT_EQ(b.tcp_flags[r->row()], 0x11);
}

TEST(SflowDecoder, MplsToIpv6AndMplsHeaderProtocol) {
  auto r = run(datagram(
      {flow_sample({raw_header(cat({mpls(100, true), ipv6(17), udp(1000, 2000)}), 300, 13)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().ether_type[r->row()], 0x86dd);
  EXPECT_EQ(r->block().dst_addr[r->row()], v6(kDst6));
  EXPECT_EQ(r->block().dst_port[r->row()], 2000);
  EXPECT_EQ(r->block().src_mac[r->row()], 0u);  // no Ethernet header
}

TEST(SflowDecoder, MplsPayloadNotIpIsLeftUnparsed) {
  // A pseudowire control word (first nibble 0) after the bottom label.
  auto r = run(datagram({flow_sample({raw_header(
      cat({ethernet(0x8847), mpls(100, true), Bytes{0, 0, 0, 0}, ethernet(0x0800)}), 100)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().ether_type[r->row()], 0);
  EXPECT_TRUE(r->block().src_addr[r->row()].is_zero());
  EXPECT_EQ(r->block().src_mac[r->row()], kSrcMac);
}

TEST(SflowDecoder, NonIpFrameHasNoEtherType) {
  auto r = run(datagram({flow_sample({raw_header(cat({ethernet(0x0806), Bytes(28, 0)}), 64)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().ether_type[r->row()], 0);
  EXPECT_EQ(r->block().dst_mac[r->row()], kDstMac);
  EXPECT_EQ(r->block().bytes[r->row()], 64u);
}

TEST(SflowDecoder, UnknownHeaderProtocolIsCountedNotAnError) {
  auto r = run(datagram({flow_sample({raw_header(Bytes(20, 0xff), 120, 7 /* PPP */)})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().bytes[r->row()], 120u);
  EXPECT_EQ(r->counters.sflow_headers_unparsed, 1u);
}

// ---- raw packet header: IPv4 ----

TEST(SflowDecoder, Ipv4HeaderProtocolWithoutEthernet) {
  auto r = run(datagram({flow_sample({raw_header(cat({ipv4(17), udp(7, 9)}), 60, 11)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().ether_type[r->row()], 0x0800);
  EXPECT_EQ(r->block().src_port[r->row()], 7);
  EXPECT_EQ(r->block().src_mac[r->row()], 0u);
}

TEST(SflowDecoder, Ipv4OptionsAreSkippedToTheTransportHeader) {
  auto r = run(datagram({flow_sample(
      {raw_header(cat({ethernet(0x0800), ipv4(6, 0, 0, 3), tcp(22, 40000, 0x10)}), 80)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().src_port[r->row()], 22);
  EXPECT_EQ(r->block().dst_port[r->row()], 40000);
  EXPECT_EQ(r->block().tcp_flags[r->row()], 0x10);
}

TEST(SflowDecoder, Ipv4NonFirstFragmentHasNoPorts) {
  // Offset 185 (x8 bytes): what follows the IP header is payload, not a UDP header.
  auto r = run(datagram({flow_sample(
      {raw_header(cat({ethernet(0x0800), ipv4(17, 0, 185), udp(1111, 2222)}), 1500)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().protocol[r->row()], 17);
  EXPECT_EQ(r->block().src_addr[r->row()], v4(10, 0, 0, 1));
  EXPECT_EQ(r->block().src_port[r->row()], 0);
  EXPECT_EQ(r->block().dst_port[r->row()], 0);
}

TEST(SflowDecoder, Ipv4FirstFragmentHasPorts) {
  auto r = run(datagram({flow_sample({raw_header(
      cat({ethernet(0x0800), ipv4(17, 0, 0x2000 /* MF */), udp(1111, 2222)}), 1500)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().src_port[r->row()], 1111);
  EXPECT_EQ(r->block().dst_port[r->row()], 2222);
}

TEST(SflowDecoder, Ipv4HeaderCutBeforeAddressesKeepsEtherTypeOnly) {
  Bytes header = cat({ethernet(0x0800), ipv4(6)});
  header.resize(14 + 12);
  auto r = run(datagram({flow_sample({raw_header(header, 1000)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().ether_type[r->row()], 0x0800);
  EXPECT_TRUE(r->block().src_addr[r->row()].is_zero());
  EXPECT_EQ(r->block().protocol[r->row()], 0);
}

TEST(SflowDecoder, TcpHeaderCutAfterPortsHasNoFlags) {
  Bytes header = eth_ipv4_tcp();
  header.resize(14 + 20 + 6);
  auto r = run(datagram({flow_sample({raw_header(header, 1000)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().src_port[r->row()], 443);
  EXPECT_EQ(r->block().tcp_flags[r->row()], 0);
}

TEST(SflowDecoder, IcmpTypeAndCodeInDestinationPort) {
  auto r =
      run(datagram({flow_sample({raw_header(cat({ethernet(0x0800), ipv4(1), icmp(3, 13)}), 70)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().protocol[r->row()], 1);
  EXPECT_EQ(r->block().src_port[r->row()], 0);
  EXPECT_EQ(r->block().dst_port[r->row()], (3 << 8) | 13);
}

// ---- raw packet header: IPv6 ----

TEST(SflowDecoder, Ipv6Tcp) {
  auto r = run(datagram({flow_sample(
      {raw_header(cat({ethernet(0x86dd), ipv6(6, 0xb8), tcp(443, 50000, 0x12)}), 1280)})}));
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  EXPECT_EQ(b.ether_type[r->row()], 0x86dd);
  EXPECT_EQ(b.src_addr[r->row()], v6(kSrc6));
  EXPECT_EQ(b.dst_addr[r->row()], v6(kDst6));
  EXPECT_EQ(b.tos[r->row()], 0xb8);  // traffic class
  EXPECT_EQ(b.protocol[r->row()], 6);
  EXPECT_EQ(b.src_port[r->row()], 443);
  EXPECT_EQ(b.tcp_flags[r->row()], 0x12);
}

TEST(SflowDecoder, Ipv6ExtensionHeadersAreWalked) {
  // hop-by-hop -> routing (2 units) -> fragment (offset 0) -> destination options -> UDP.
  auto r = run(datagram({flow_sample(
      {raw_header(cat({ethernet(0x86dd), ipv6(0), ext_header(43, 0), ext_header(44, 2),
                       fragment_header(60, 0, true), ext_header(17, 0), udp(546, 547)}),
                  400)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().protocol[r->row()], 17);
  EXPECT_EQ(r->block().src_port[r->row()], 546);
  EXPECT_EQ(r->block().dst_port[r->row()], 547);
}

TEST(SflowDecoder, Ipv6NonFirstFragmentHasProtocolButNoPorts) {
  auto r = run(datagram({flow_sample({raw_header(
      cat({ethernet(0x86dd), ipv6(44), fragment_header(6, 100, false), tcp(1, 2, 0xff)}), 400)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().protocol[r->row()], 6);
  EXPECT_EQ(r->block().src_port[r->row()], 0);
  EXPECT_EQ(r->block().tcp_flags[r->row()], 0);
}

TEST(SflowDecoder, Ipv6ExtensionHeaderCutShortLeavesItsType) {
  Bytes header = cat({ethernet(0x86dd), ipv6(0), ext_header(6, 3)});
  header.resize(14 + 40 + 16);  // the hop-by-hop header announces 32 bytes
  auto r = run(datagram({flow_sample({raw_header(header, 400)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().protocol[r->row()], 0);
  EXPECT_EQ(r->block().src_addr[r->row()], v6(kSrc6));
}

TEST(SflowDecoder, Icmpv6TypeAndCode) {
  auto r = run(
      datagram({flow_sample({raw_header(cat({ethernet(0x86dd), ipv6(58), icmp(128, 0)}), 104)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().protocol[r->row()], 58);
  EXPECT_EQ(r->block().dst_port[r->row()], 128 << 8);
  EXPECT_EQ(r->block().src_port[r->row()], 0);
}

// ---- sampled Ethernet / IPv4 / IPv6 records ----

TEST(SflowDecoder, SampledEthernetRecord) {
  auto r = run(datagram({flow_sample({sampled_ethernet(1518, 0x86dd)})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  EXPECT_EQ(b.src_mac[r->row()], 0xa0a1a2a3a4a5u);
  EXPECT_EQ(b.dst_mac[r->row()], 0xb0b1b2b3b4b5u);
  EXPECT_EQ(b.bytes[r->row()], 1518u);
  EXPECT_EQ(b.ether_type[r->row()], 0x86dd);
}

TEST(SflowDecoder, SampledIpv4Record) {
  auto r = run(datagram({flow_sample({sampled_ipv4(576, 6, 25, 40000, 0x19, 0x20)})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  EXPECT_EQ(b.src_addr[r->row()], v4(192, 0, 2, 10));
  EXPECT_EQ(b.dst_addr[r->row()], v4(198, 51, 100, 20));
  EXPECT_EQ(b.protocol[r->row()], 6);
  EXPECT_EQ(b.src_port[r->row()], 25);
  EXPECT_EQ(b.dst_port[r->row()], 40000);
  EXPECT_EQ(b.tcp_flags[r->row()], 0x19);
  EXPECT_EQ(b.tos[r->row()], 0x20);
  EXPECT_EQ(b.bytes[r->row()], 576u);
  EXPECT_EQ(b.ether_type[r->row()], 0x0800);
}

TEST(SflowDecoder, SampledIpv6Record) {
  auto r = run(datagram({flow_sample({sampled_ipv6(1280, 17, 53, 33000, 0, 5)})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  EXPECT_EQ(b.src_addr[r->row()], v6(kSrc6));
  EXPECT_EQ(b.dst_addr[r->row()], v6(kDst6));
  EXPECT_EQ(b.protocol[r->row()], 17);
  EXPECT_EQ(b.src_port[r->row()], 53);
  EXPECT_EQ(b.dst_port[r->row()], 33000);
  EXPECT_EQ(b.tos[r->row()], 5);
  EXPECT_EQ(b.bytes[r->row()], 1280u);
  EXPECT_EQ(b.ether_type[r->row()], 0x86dd);
}

TEST(SflowDecoder, SampledEthernetAndIpv4Together) {
  auto r = run(datagram(
      {flow_sample({sampled_ethernet(1518, 0x0800), sampled_ipv4(1500, 17, 1, 2, 0, 0)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().bytes[r->row()], 1518u);  // the frame's length, as for a raw header
  EXPECT_EQ(r->block().src_mac[r->row()], 0xa0a1a2a3a4a5u);
  EXPECT_EQ(r->block().src_addr[r->row()], v4(192, 0, 2, 10));
}

TEST(SflowDecoder, RawHeaderWinsOverSampledRecordsInEitherOrder) {
  const Bytes header = raw_header(eth_ipv4_tcp(), 1514);
  const Bytes ip = sampled_ipv4(99, 17, 1, 2, 0, 0);
  const Bytes eth = sampled_ethernet(98, 0x0800);
  for (const auto& records :
       {std::vector<Bytes>{header, ip, eth}, std::vector<Bytes>{ip, eth, header}}) {
    auto r = run(datagram({flow_sample(records)}));
    ASSERT_EQ(r->size(), 1u);
    const FlowBlock& b = r->block();
    EXPECT_EQ(b.src_addr[r->row()], v4(10, 0, 0, 1));
    EXPECT_EQ(b.protocol[r->row()], 6);
    EXPECT_EQ(b.src_port[r->row()], 443);
    EXPECT_EQ(b.bytes[r->row()], 1514u);
    EXPECT_EQ(b.src_mac[r->row()], kSrcMac);
  }
}

TEST(SflowDecoder, SampledIpv4FillsInWhenTheRawHeaderHasNoIp) {
  Bytes cut = eth_ipv4_tcp();
  cut.resize(20);  // Ethernet plus 6 bytes of IPv4: no addresses
  auto r =
      run(datagram({flow_sample({raw_header(cut, 1514), sampled_ipv4(1500, 17, 1, 2, 0, 0)})}));
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  EXPECT_EQ(b.src_addr[r->row()], v4(192, 0, 2, 10));
  EXPECT_EQ(b.protocol[r->row()], 17);
  EXPECT_EQ(b.bytes[r->row()], 1514u);
  EXPECT_EQ(b.src_mac[r->row()], kSrcMac);
}

TEST(SflowDecoder, RawHeaderLeavesNoPortsOfAnEarlierSampledRecord) {
  // The record says UDP 1 -> 2; the header reaches TCP but is cut before the ports.
  Bytes cut = eth_ipv4_tcp();
  cut.resize(14 + 20 + 2);
  auto r = run(datagram({flow_sample({sampled_ipv4(99, 17, 1, 2, 0x02, 7), raw_header(cut, 60)})}));
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  EXPECT_EQ(b.protocol[r->row()], 6);
  EXPECT_EQ(b.tos[r->row()], 0x28);
  EXPECT_EQ(b.src_port[r->row()], 0);
  EXPECT_EQ(b.dst_port[r->row()], 0);
  EXPECT_EQ(b.tcp_flags[r->row()], 0);
  EXPECT_EQ(b.src_addr[r->row()], v4(10, 0, 0, 1));
}

// ---- extended records ----

TEST(SflowDecoder, ExtendedSwitchVlan) {
  auto r =
      run(datagram({flow_sample({raw_header(eth_ipv4_tcp(), 100), extended_switch(105, 2002)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().vlan[r->row()], 105);

  // Ingress VLAN 0 (untagged port): the frame's tag, then the egress VLAN.
  auto r2 = run(datagram({flow_sample(
      {extended_switch(0, 2002),
       raw_header(cat({ethernet(0x8100), vlan_tag(30, 0x0800), ipv4(6), tcp(1, 2, 0)}), 100)})}));
  ASSERT_EQ(r2->size(), 1u);
  EXPECT_EQ(r2->block().vlan[r2->row()], 30);
  auto r3 = run(datagram({flow_sample({extended_switch(0, 2002)})}));
  ASSERT_EQ(r3->size(), 1u);
  EXPECT_EQ(r3->block().vlan[r3->row()], 2002);
}

TEST(SflowDecoder, ExtendedRouterNextHopAndMasks) {
  auto r = run(datagram({flow_sample({extended_router_v4(206, 72, 210, 70, 24, 19)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().next_hop[r->row()], v4(206, 72, 210, 70));
  EXPECT_EQ(r->block().src_mask[r->row()], 24);
  EXPECT_EQ(r->block().dst_mask[r->row()], 19);

  ByteWriter w;
  w.u32(2).bytes(kDst6).u32(48).u32(64);
  auto r6 = run(datagram({flow_sample({xdr_record(1002, w.data())})}));
  ASSERT_EQ(r6->size(), 1u);
  EXPECT_EQ(r6->block().next_hop[r6->row()], v6(kDst6));
  EXPECT_EQ(r6->block().src_mask[r6->row()], 48);
  EXPECT_EQ(r6->block().dst_mask[r6->row()], 64);
}

TEST(SflowDecoder, ExtendedGatewayAsNumbers) {
  auto r = run(datagram({flow_sample({extended_gateway(32160, 174, {3356, 2914, 15169}, 2)})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  const FlowBlock& b = r->block();
  EXPECT_EQ(b.src_as[r->row()], 174u);
  EXPECT_EQ(b.dst_as[r->row()], 15169u);                // the origin: last AS of the path
  EXPECT_EQ(b.next_hop[r->row()], v4(203, 0, 113, 1));  // no extended router: the BGP next hop
}

TEST(SflowDecoder, ExtendedGatewayEmptyPathMeansRouterAs) {
  auto r = run(datagram({flow_sample({extended_gateway(32160, 0, {})})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().src_as[r->row()], 32160u);
  EXPECT_EQ(r->block().dst_as[r->row()], 32160u);
}

TEST(SflowDecoder, ExtendedRouterNextHopOutranksGateway) {
  auto r = run(datagram(
      {flow_sample({extended_gateway(1, 2, {3}), extended_router_v4(10, 9, 8, 7, 0, 0)})}));
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().next_hop[r->row()], v4(10, 9, 8, 7));
}

TEST(SflowDecoder, UnspecifiedRouterNextHopGivesWayToTheGateway) {
  for (const auto& records :
       {std::vector<Bytes>{extended_router_v4(0, 0, 0, 0, 24, 16), extended_gateway(1, 2, {3})},
        std::vector<Bytes>{extended_gateway(1, 2, {3}), extended_router_v4(0, 0, 0, 0, 24, 16)}}) {
    auto r = run(datagram({flow_sample(records)}));
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->block().next_hop[r->row()], v4(203, 0, 113, 1));
    EXPECT_EQ(r->block().src_mask[r->row()], 24);
  }
}

TEST(SflowDecoder, UnknownAndEnterpriseRecordsAreSkipped) {
  const Bytes unknown = xdr_record(1010, Bytes(12, 0xee));                 // extended_mpls_tunnel
  const Bytes enterprise = xdr_record((4413u << 12) | 1, Bytes(8, 0xdd));  // Broadcom
  auto r = run(datagram({flow_sample({unknown, raw_header(eth_ipv4_tcp(), 77), enterprise})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->block().bytes[r->row()], 77u);
  EXPECT_EQ(r->counters.sflow_skipped_records, 2u);
}

// ---- sample types ----

TEST(SflowDecoder, UnknownEnterpriseAndDiscardSamplesAreSkipped) {
  const Bytes discarded = xdr_record(5, Bytes(28, 0));
  const Bytes unknown = xdr_record(9, Bytes(4, 0));
  const Bytes enterprise = xdr_record((9u << 12) | 1, Bytes(16, 0));
  auto r = run(datagram({discarded, unknown, enterprise, flow_sample({})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(r->counters.sflow_discard_samples, 1u);
  EXPECT_EQ(r->counters.sflow_skipped_samples, 2u);
  EXPECT_EQ(r->counters.total_errors(), 0u);
}

TEST(SflowDecoder, CounterSampleUpdatesTheStoreAndMakesNoRow) {
  InterfaceCounterStore store(16);
  auto r = run(datagram({counter_sample({generic_counters(5), ethernet_counters()})}), &store);
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  EXPECT_EQ(r->size(), 0u);
  EXPECT_EQ(r->counters.records, 0u);
  EXPECT_EQ(r->counters.sflow_counter_samples, 1u);
  const decode::InterfaceCounters* e = store.find(v4(192, 0, 2, 99), 5);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->has_generic);
  EXPECT_TRUE(e->has_ethernet);
  EXPECT_EQ(e->sub_agent, 7u);
  EXPECT_EQ(e->sample_sequence, 77u);
  EXPECT_EQ(e->updated_ns, kReceiveNs);
  const decode::GenericInterfaceCounters& g = e->generic;
  EXPECT_EQ(g.if_index, 5u);
  EXPECT_EQ(g.if_type, 6u);
  EXPECT_EQ(g.if_speed, 10'000'000'000ull);
  EXPECT_EQ(g.if_direction, 1u);
  EXPECT_EQ(g.if_status, 3u);
  EXPECT_EQ(g.in_octets, 0x0000000100000002ull);
  EXPECT_EQ(g.in_ucast_pkts, 11u);
  EXPECT_EQ(g.in_multicast_pkts, 12u);
  EXPECT_EQ(g.in_broadcast_pkts, 13u);
  EXPECT_EQ(g.in_discards, 14u);
  EXPECT_EQ(g.in_errors, 15u);
  EXPECT_EQ(g.in_unknown_protos, 16u);
  EXPECT_EQ(g.out_octets, 0x0000000300000004ull);
  EXPECT_EQ(g.out_ucast_pkts, 21u);
  EXPECT_EQ(g.out_multicast_pkts, 22u);
  EXPECT_EQ(g.out_broadcast_pkts, 23u);
  EXPECT_EQ(g.out_discards, 24u);
  EXPECT_EQ(g.out_errors, 25u);
  EXPECT_EQ(g.promiscuous_mode, 0u);
  const decode::EthernetInterfaceCounters& eth = e->ethernet;
  EXPECT_EQ(eth.alignment_errors, 101u);
  EXPECT_EQ(eth.fcs_errors, 102u);
  EXPECT_EQ(eth.single_collision_frames, 103u);
  EXPECT_EQ(eth.multiple_collision_frames, 104u);
  EXPECT_EQ(eth.sqe_test_errors, 105u);
  EXPECT_EQ(eth.deferred_transmissions, 106u);
  EXPECT_EQ(eth.late_collisions, 107u);
  EXPECT_EQ(eth.excessive_collisions, 108u);
  EXPECT_EQ(eth.internal_mac_transmit_errors, 109u);
  EXPECT_EQ(eth.carrier_sense_errors, 110u);
  EXPECT_EQ(eth.frame_too_longs, 111u);
  EXPECT_EQ(eth.internal_mac_receive_errors, 112u);
  EXPECT_EQ(eth.symbol_errors, 113u);
}

TEST(SflowDecoder, ExpandedCounterSampleAndLatestValuesWin) {
  InterfaceCounterStore store(16);
  {
    auto r = run(datagram({expanded_counter_sample({generic_counters(9)}, 0, 9)}), &store);
    ASSERT_EQ(r->status, DecodeStatus::kOk);
  }
  ByteWriter w;
  w.u32(9).u32(6).u64(1000).u32(1).u32(3).u64(5555).zeros(24).u64(6666).zeros(24);
  {
    auto r = run(datagram({expanded_counter_sample({xdr_record(1, w.data())}, 0, 9)}), &store);
    ASSERT_EQ(r->status, DecodeStatus::kOk);
  }
  ASSERT_EQ(store.size(), 1u);
  const decode::InterfaceCounters* e = store.find(v4(192, 0, 2, 99), 9);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->generic.in_octets, 5555u);
  EXPECT_EQ(e->generic.out_octets, 6666u);
  EXPECT_FALSE(e->has_ethernet);
  EXPECT_EQ(e->sample_sequence, 78u);
}

TEST(SflowDecoder, EthernetCountersAloneAreKeyedByTheDataSource) {
  InterfaceCounterStore store(16);
  auto r = run(datagram({counter_sample({ethernet_counters()}, 12)}), &store);
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  const decode::InterfaceCounters* e = store.find(v4(192, 0, 2, 99), 12);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->has_generic);
  EXPECT_TRUE(e->has_ethernet);
  EXPECT_EQ(e->ethernet.symbol_errors, 113u);

  // A VLAN data source (type 1) is not an interface: nothing to key Ethernet counters by.
  auto r2 = run(datagram({counter_sample({ethernet_counters()}, (1u << 24) | 13)}), &store);
  EXPECT_EQ(r2->status, DecodeStatus::kOk);
  EXPECT_EQ(store.size(), 1u);
}

TEST(SflowDecoder, CounterSampleOtherRecordsSkippedAndNoStoreIsFine) {
  const Bytes processor = xdr_record(1001, Bytes(28, 1));
  auto r = run(datagram({counter_sample({processor, generic_counters(3)})}));
  EXPECT_EQ(r->status, DecodeStatus::kOk);
  EXPECT_EQ(r->counters.sflow_counter_samples, 1u);
  EXPECT_EQ(r->counters.sflow_skipped_records, 1u);
}

TEST(SflowDecoder, FullCounterStoreIsNotADecodeError) {
  InterfaceCounterStore store(1);
  auto r =
      run(datagram({counter_sample({generic_counters(1)}), counter_sample({generic_counters(2)})}),
          &store);
  EXPECT_EQ(r->status, DecodeStatus::kOk);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.refused(), 1u);
}

TEST(SflowDecoder, TrailingBytesAfterTheSamplesArePadding) {
  Bytes d = datagram({flow_sample({})});
  d.insert(d.end(), 8, 0);
  auto r = run(d);
  EXPECT_EQ(r->status, DecodeStatus::kOk);
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(r->counters.padding_bytes, 8u);
}

TEST(SflowDecoder, PaddingAfterTheRecordsOfASample) {
  Bytes sample = flow_sample({raw_header(eth_ipv4_tcp(), 10)});
  sample.insert(sample.end(), 4, 0);
  put_u32(sample, 4, static_cast<uint32_t>(sample.size() - 8));
  auto r = run(datagram({sample, flow_sample({})}));
  EXPECT_EQ(r->status, DecodeStatus::kOk);
  EXPECT_EQ(r->size(), 2u);
  EXPECT_EQ(r->counters.padding_bytes, 4u);
}

TEST(SflowDecoder, NoFreeBlockCountsTheSample) {
  CollectingOutput none(0);
  DecodeCounters c;
  const Bytes d = datagram({flow_sample({}), flow_sample({})});
  EXPECT_EQ(decode::decode_sflow(std::as_bytes(std::span(d)), meta(), none.output(), c, nullptr),
            DecodeStatus::kOk);
  EXPECT_EQ(c.block_unavailable, 2u);
  EXPECT_EQ(c.records, 0u);
}

TEST(SflowDecoder, DispatchedByDecodeDatagram) {
  const Bytes d = datagram(
      {flow_sample({raw_header(eth_ipv4_tcp(), 100)}), counter_sample({generic_counters(4)})});
  const auto bytes = std::as_bytes(std::span(d));
  EXPECT_EQ(decode::detect_flow_type(bytes), FlowType::kSflow5);
  decode::TemplateCache templates;
  InterfaceCounterStore store(8);
  CollectingOutput out;
  DecodeCounters c;
  EXPECT_EQ(decode::decode_datagram(bytes, meta(), templates, out.output(), c, &store),
            DecodeStatus::kOk);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(
      decode::decode_datagram_as(FlowType::kSflow5, bytes, meta(), templates, out.output(), c),
      DecodeStatus::kOk);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(c.datagrams, 2u);
  // An sFlow listener that receives NetFlow v5 counts a bad version.
  Bytes nf5(24, 0);
  nf5[1] = 5;
  EXPECT_EQ(decode::decode_datagram_as(FlowType::kSflow5, std::as_bytes(std::span(nf5)), meta(),
                                       templates, out.output(), c),
            DecodeStatus::kBadVersion);
}

// ---- malformed datagrams: each bumps exactly one error counter ----

TEST(SflowDecoder, RejectsShortDatagram) {
  expect_fault({0, 0, 0, 5, 0, 0}, DecodeStatus::kTruncated);
  Bytes d = datagram({});
  d.resize(27);  // the header with an IPv4 agent is 28 bytes
  expect_fault(d, DecodeStatus::kTruncated);
  Bytes d6 = datagram_v6_agent({});
  d6.resize(30);
  expect_fault(d6, DecodeStatus::kTruncated);
}

TEST(SflowDecoder, RejectsOtherVersions) {
  Bytes d = datagram({flow_sample({})});
  put_u32(d, 0, 4);
  expect_fault(d, DecodeStatus::kBadVersion);
}

TEST(SflowDecoder, RejectsUnknownAgentAddressType) {
  for (uint32_t type : {0u, 3u, 0xffffffffu}) {
    Bytes d = datagram({flow_sample({})});
    put_u32(d, 4, type);
    expect_fault(d, DecodeStatus::kBadAddress);
  }
}

TEST(SflowDecoder, MissingSamplesAreTruncationButEarlierRowsStay) {
  auto r = run(datagram({flow_sample({})}, 3));
  EXPECT_EQ(r->status, DecodeStatus::kTruncated);
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(r->counters.total_errors(), 1u);
  expect_fault(datagram({flow_sample({})}, 2), DecodeStatus::kTruncated);
  expect_fault(datagram({}, 0xfffffffeu), DecodeStatus::kTruncated);
}

TEST(SflowDecoder, RejectsSampleLongerThanDatagram) {
  Bytes d = datagram({flow_sample({})});
  put_u32(d, kSampleLength, static_cast<uint32_t>(d.size() - kSampleBody + 1));
  expect_fault(d, DecodeStatus::kBadSample);
  put_u32(d, kSampleLength, 0xffffffffu);
  expect_fault(d, DecodeStatus::kBadSample);
}

TEST(SflowDecoder, RejectsSampleShorterThanItsFixedPart) {
  for (const Bytes& sample : {flow_sample({}), expanded_flow_sample({}, 1, 0, 1, 0, 2),
                              counter_sample({}), expanded_counter_sample({}, 0, 1)}) {
    Bytes s = sample;
    s.resize(s.size() - 4);
    put_u32(s, 4, static_cast<uint32_t>(s.size() - 8));
    expect_fault(datagram({s}), DecodeStatus::kBadSample);
  }
}

TEST(SflowDecoder, RejectsRecordLongerThanSample) {
  Bytes d = datagram({flow_sample({raw_header(eth_ipv4_tcp(), 100)})});
  const uint32_t record_length = static_cast<uint32_t>(d.size() - kFirstRecordBody);
  put_u32(d, kFirstRecordLength, record_length + 4);
  expect_fault(d, DecodeStatus::kBadSample);
  put_u32(d, kFirstRecordLength, 0xfffffffcu);
  expect_fault(d, DecodeStatus::kBadSample);
}

TEST(SflowDecoder, RejectsRecordCountBeyondSample) {
  Bytes s = flow_sample({extended_switch(1, 2)});
  put_u32(s, 8 + 28, 2);  // the record count: one more record than the sample holds
  expect_fault(datagram({s}), DecodeStatus::kBadSample);
  Bytes c = counter_sample({generic_counters(1)});
  put_u32(c, 8 + 8, 0xffffffffu);
  expect_fault(datagram({c}), DecodeStatus::kBadSample);
}

TEST(SflowDecoder, RejectsHeaderLongerThanItsRecord) {
  Bytes s = flow_sample({raw_header(eth_ipv4_tcp(), 100)});
  const size_t header_length_at = 8 + 32 + 8 + 12;
  put_u32(s, header_length_at, 57);  // 54 captured bytes padded to 56
  expect_fault(datagram({s}), DecodeStatus::kBadSample);
  put_u32(s, header_length_at, 0xfffffff0u);
  expect_fault(datagram({s}), DecodeStatus::kBadSample);
  put_u32(s, header_length_at, 56);  // the padding may be counted: still inside the record
  auto r = run(datagram({s}));
  EXPECT_EQ(r->status, DecodeStatus::kOk);
}

// A record of `format` whose body is `length` bytes long.
Bytes short_record_sample(uint32_t format, size_t length) {
  return flow_sample({xdr_record(format, Bytes(length, 0))});
}

TEST(SflowDecoder, RejectsRecordsShorterThanTheirStructure) {
  expect_fault(datagram({short_record_sample(1, 15)}), DecodeStatus::kBadSample);
  expect_fault(datagram({short_record_sample(2, 23)}), DecodeStatus::kBadSample);
  expect_fault(datagram({short_record_sample(3, 31)}), DecodeStatus::kBadSample);
  expect_fault(datagram({short_record_sample(4, 55)}), DecodeStatus::kBadSample);
  expect_fault(datagram({short_record_sample(1001, 15)}), DecodeStatus::kBadSample);
  expect_fault(datagram({short_record_sample(1002, 3)}), DecodeStatus::kBadSample);
  expect_fault(datagram({short_record_sample(1003, 3)}), DecodeStatus::kBadSample);
  // Counter records.
  expect_fault(datagram({counter_sample({xdr_record(1, Bytes(87, 0))})}), DecodeStatus::kBadSample);
  expect_fault(datagram({counter_sample({xdr_record(2, Bytes(51, 0))})}), DecodeStatus::kBadSample);
}

TEST(SflowDecoder, RejectsExtendedRouterCutInsideItsAddressOrMasks) {
  ByteWriter w;
  w.u32(1).ipv4(10, 0, 0, 1).u32(24);  // dst_mask missing
  expect_fault(datagram({flow_sample({xdr_record(1002, w.data())})}), DecodeStatus::kBadSample);
  ByteWriter w6;
  w6.u32(2).zeros(12);  // 12 of 16 address bytes
  expect_fault(datagram({flow_sample({xdr_record(1002, w6.data())})}), DecodeStatus::kBadSample);
}

TEST(SflowDecoder, RejectsUnknownNextHopAddressType) {
  ByteWriter w;
  w.u32(7).zeros(16);
  expect_fault(datagram({flow_sample({xdr_record(1002, w.data())})}), DecodeStatus::kBadAddress);
  expect_fault(datagram({flow_sample({xdr_record(1003, w.data())})}), DecodeStatus::kBadAddress);
}

TEST(SflowDecoder, UnknownNextHopTypeZeroIsVoid) {
  ByteWriter w;
  w.u32(0).u32(8).u32(16);
  auto r = run(datagram({flow_sample({xdr_record(1002, w.data())})}));
  ASSERT_EQ(r->status, DecodeStatus::kOk);
  EXPECT_TRUE(r->block().next_hop[r->row()].is_zero());
  EXPECT_EQ(r->block().src_mask[r->row()], 8);
}

TEST(SflowDecoder, RejectsGatewayWithListsPastItsEnd) {
  const Bytes good = extended_gateway(1, 2, {3, 4}, 1);
  const size_t body = 8;  // after the record's format and length words
  // Offsets in the gateway body: next hop (8), as, src_as, src_peer_as (12), segment count,
  // segment type, AS count, 2 ASes, community count, 1 community, localpref.
  const size_t segments_at = body + 8 + 12;
  const size_t as_count_at = segments_at + 8;
  const size_t communities_at = as_count_at + 4 + 8;
  auto with = [&](size_t at, uint32_t v) {
    Bytes g = good;
    put_u32(g, at, v);
    return datagram({flow_sample({g})});
  };
  expect_fault(with(segments_at, 2), DecodeStatus::kBadSample);
  expect_fault(with(segments_at, 0xffffffffu), DecodeStatus::kBadSample);
  expect_fault(with(as_count_at, 3), DecodeStatus::kBadSample);
  expect_fault(with(as_count_at, 0x40000001u), DecodeStatus::kBadSample);
  expect_fault(with(communities_at, 2), DecodeStatus::kBadSample);
  expect_fault(with(communities_at, 0xffffffffu), DecodeStatus::kBadSample);
  Bytes no_localpref = good;
  no_localpref.resize(no_localpref.size() - 4);
  put_u32(no_localpref, 4, static_cast<uint32_t>(no_localpref.size() - 8));
  expect_fault(datagram({flow_sample({no_localpref})}), DecodeStatus::kBadSample);
}

TEST(SflowDecoder, FaultySampleIsSkippedAndTheNextOneDecoded) {
  Bytes bad = flow_sample({xdr_record(3, Bytes(8, 0))});  // sampled IPv4 of 8 bytes
  auto r = run(datagram({flow_sample({raw_header(eth_ipv4_tcp(), 1)}), bad,
                         counter_sample({xdr_record(1, Bytes(4, 0))}),
                         flow_sample({raw_header(eth_ipv4_tcp(), 3)})}));
  EXPECT_EQ(r->status, DecodeStatus::kBadSample);
  EXPECT_EQ(r->counters.total_errors(), 1u);  // one datagram, one error
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(r->block(0).bytes[r->row(0)], 1u);
  EXPECT_EQ(r->block(1).bytes[r->row(1)], 3u);
}

TEST(SflowDecoder, EverySuffixCutIsHandled) {
  // Decoding each prefix of a datagram holding every record type never reads out of bounds
  // (ASan) and always reports one outcome.
  const Bytes d =
      datagram({flow_sample({raw_header(eth_ipv4_tcp(), 1514), sampled_ethernet(1, 0x800),
                             sampled_ipv4(1, 6, 1, 2, 3, 4), sampled_ipv6(1, 17, 1, 2, 3, 4),
                             extended_switch(1, 2), extended_router_v4(1, 2, 3, 4, 5, 6),
                             extended_gateway(1, 2, {3, 4}, 2)}),
                expanded_flow_sample(
                    {raw_header(cat({ethernet(0x86dd), ipv6(6), tcp(1, 2, 3)}), 9)}, 1, 0, 1, 0, 2),
                counter_sample({generic_counters(1), ethernet_counters()}),
                expanded_counter_sample({generic_counters(2)}, 0, 2)});
  InterfaceCounterStore store(8);
  for (size_t n = 0; n <= d.size(); ++n) {
    const Bytes cut(d.begin(), d.begin() + static_cast<ptrdiff_t>(n));
    auto r = run(cut, &store);
    EXPECT_EQ(r->counters.total_errors(), r->status == DecodeStatus::kOk ? 0u : 1u) << n;
    if (n == d.size()) {
      EXPECT_EQ(r->status, DecodeStatus::kOk);
      EXPECT_EQ(r->size(), 2u);
    }
  }
}

}  // namespace
}  // namespace flowgate
