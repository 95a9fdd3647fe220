#include "export/json_encoder.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "export/ip_protocol_names.hpp"

namespace flowgate::exporter {
namespace {

using decode::Direction;
using decode::FlowBlock;
using decode::FlowType;
using decode::IpAddress;

IpAddress v4(const char* text) {
  uint8_t b[4];
  EXPECT_EQ(inet_pton(AF_INET, text, b), 1) << text;
  return IpAddress::from_v4_bytes(b);
}

IpAddress v6(const char* text) {
  uint8_t b[16];
  EXPECT_EQ(inet_pton(AF_INET6, text, b), 1) << text;
  return IpAddress::from_v6_bytes(b);
}

// The DESIGN.md example record.
constexpr std::string_view kDesignExample =
    R"({"flush_timestamp":1692077978547,"type":"netflow5","sampling_rate":0,"direction":"ingress",)"
    R"("start":1692077976,"end":1692077976,"bytes":668,"packets":1588,"ether_type":"IPv4",)"
    R"("ip_protocol":"TCP","device":{"namespace":"namespace"},"exporter":{"ip":"10.200.14.142"},)"
    R"("source":{"ip":"130.240.103.204","port":"4627","mac":"00:00:00:00:00:00","mask":"130.240.96.0/20"},)"
    R"("destination":{"ip":"152.222.36.168","port":"424","mac":"00:00:00:00:00:00","mask":"152.0.0.0/8"},)"
    R"("ingress":{"interface":{"index":0}},"egress":{"interface":{"index":0}},)"
    R"("host":"collector-1","tcp_flags":["SYN","ACK"],"next_hop":{"ip":"20.104.52.139"}})"
    "\n";

uint32_t append_design_example(FlowBlock& b) {
  const uint32_t r = b.append_row();
  b.flow_type[r] = FlowType::kNetflow5;
  b.start_ms[r] = 1692077976'123;
  b.end_ms[r] = 1692077976'999;
  b.bytes[r] = 668;
  b.packets[r] = 1588;
  b.ether_type[r] = 0x0800;
  b.protocol[r] = 6;
  b.exporter_addr[r] = v4("10.200.14.142");
  b.src_addr[r] = v4("130.240.103.204");
  b.src_port[r] = 4627;
  b.src_mask[r] = 20;
  b.dst_addr[r] = v4("152.222.36.168");
  b.dst_port[r] = 424;
  b.dst_mask[r] = 8;
  b.tcp_flags[r] = 0x12;
  b.next_hop[r] = v4("20.104.52.139");
  return r;
}

EncoderConfig design_config() {
  EncoderConfig c;
  c.host = "collector-1";
  c.device_namespace = "namespace";
  return c;
}

// The record's keys, in order, as DESIGN.md lists them (without user tags).
const std::vector<std::string> kAllKeys = {
    "flush_timestamp", "type",        "sampling_rate", "direction",   "start",  "end",
    "bytes",           "packets",     "ether_type",    "ip_protocol", "device", "exporter",
    "source",          "destination", "ingress",       "egress",      "host",   "tcp_flags",
    "next_hop"};

std::vector<std::string> keys_of(simdjson::dom::object o) {
  std::vector<std::string> keys;
  for (auto field : o) keys.emplace_back(field.key);
  return keys;
}

// An element or an element lookup's result (o["key"]).
template <typename Element>
std::vector<std::string> keys_of(Element e) {
  simdjson::dom::object o;
  EXPECT_EQ(e.get(o), simdjson::SUCCESS);
  return keys_of(o);
}

// Parses one line into an object; the parser must outlive it.
simdjson::dom::object parse(simdjson::dom::parser& parser, std::string_view line) {
  simdjson::dom::object o;
  const auto error = parser.parse(line.data(), line.size()).get(o);
  EXPECT_EQ(error, simdjson::SUCCESS) << line;
  return o;
}

template <typename Element>
std::string str(Element e) {
  std::string_view s;
  EXPECT_EQ(e.get(s), simdjson::SUCCESS);
  return std::string(s);
}

template <typename Element>
uint64_t num(Element e) {
  uint64_t v = 0;
  EXPECT_EQ(e.get(v), simdjson::SUCCESS);
  return v;
}

template <typename Element>
std::vector<std::string> strings(Element e) {
  std::vector<std::string> out;
  simdjson::dom::array a;
  EXPECT_EQ(e.get(a), simdjson::SUCCESS);
  for (simdjson::dom::element item : a) out.push_back(str(item));
  return out;
}

std::string encode_one(const JsonEncoder& enc, const FlowBlock& b, uint32_t r, uint64_t flush_ms,
                       uint8_t rollup = 0) {
  std::string out;
  enc.encode(b, r, flush_ms, out, rollup);
  EXPECT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  EXPECT_LE(out.size(), enc.max_record_size());
  return out;
}

TEST(JsonEncoder, ReproducesTheDesignExampleExactly) {
  auto b = std::make_unique<FlowBlock>();
  const uint32_t r = append_design_example(*b);
  const JsonEncoder enc(design_config());
  EXPECT_EQ(encode_one(enc, *b, r, 1692077978547), kDesignExample);
}

TEST(JsonEncoder, Ipv4RecordHasEveryKeyInOrderWithItsValue) {
  auto b = std::make_unique<FlowBlock>();
  const uint32_t r = b->append_row();
  b->flow_type[r] = FlowType::kNetflow9;
  b->sampling_rate[r] = 512;
  b->direction[r] = Direction::kIngress;
  b->start_ms[r] = 1700000000'000;
  b->end_ms[r] = 1700000059'999;
  b->bytes[r] = 18446744073709551615ull;
  b->packets[r] = 4294967296ull;
  b->ether_type[r] = 0x0800;
  b->protocol[r] = 17;
  b->exporter_addr[r] = v4("192.0.2.1");
  b->src_addr[r] = v4("10.1.2.3");
  b->src_port[r] = 53;
  b->src_mac[r] = 0x001122334455ull;
  b->src_mask[r] = 24;
  b->dst_addr[r] = v4("198.51.100.77");
  b->dst_port[r] = 65535;
  b->dst_mac[r] = 0xaabbccddeeffull;
  b->dst_mask[r] = 30;
  b->in_if[r] = 7;
  b->out_if[r] = 4294967295u;
  b->tcp_flags[r] = 0;
  b->next_hop[r] = v4("10.1.2.254");

  EncoderConfig c;
  c.host = "edge-7";
  c.device_namespace = "core";
  c.tags = {{"env", "prod"}, {"site", "fra1"}};
  const JsonEncoder enc(c);
  const std::string line = encode_one(enc, *b, r, 1700000060123);

  simdjson::dom::parser parser;
  const auto o = parse(parser, line);
  std::vector<std::string> expected_keys = kAllKeys;
  std::erase(expected_keys, "tcp_flags");  // no flags set
  expected_keys.push_back("env");
  expected_keys.push_back("site");
  EXPECT_EQ(keys_of(o), expected_keys);

  EXPECT_EQ(num(o["flush_timestamp"]), 1700000060123u);
  EXPECT_EQ(str(o["type"]), "netflow9");
  EXPECT_EQ(num(o["sampling_rate"]), 512u);
  EXPECT_EQ(str(o["direction"]), "ingress");
  EXPECT_EQ(num(o["start"]), 1700000000u);
  EXPECT_EQ(num(o["end"]), 1700000059u);
  EXPECT_EQ(num(o["bytes"]), 18446744073709551615ull);
  EXPECT_EQ(num(o["packets"]), 4294967296ull);
  EXPECT_EQ(str(o["ether_type"]), "IPv4");
  EXPECT_EQ(str(o["ip_protocol"]), "UDP");
  EXPECT_EQ(keys_of(o["device"]), std::vector<std::string>{"namespace"});
  EXPECT_EQ(str(o["device"]["namespace"]), "core");
  EXPECT_EQ(keys_of(o["exporter"]), std::vector<std::string>{"ip"});
  EXPECT_EQ(str(o["exporter"]["ip"]), "192.0.2.1");
  const std::vector<std::string> endpoint_keys = {"ip", "port", "mac", "mask"};
  EXPECT_EQ(keys_of(o["source"]), endpoint_keys);
  EXPECT_EQ(str(o["source"]["ip"]), "10.1.2.3");
  EXPECT_EQ(str(o["source"]["port"]), "53");
  EXPECT_EQ(str(o["source"]["mac"]), "00:11:22:33:44:55");
  EXPECT_EQ(str(o["source"]["mask"]), "10.1.2.0/24");
  EXPECT_EQ(keys_of(o["destination"]), endpoint_keys);
  EXPECT_EQ(str(o["destination"]["ip"]), "198.51.100.77");
  EXPECT_EQ(str(o["destination"]["port"]), "65535");
  EXPECT_EQ(str(o["destination"]["mac"]), "aa:bb:cc:dd:ee:ff");
  EXPECT_EQ(str(o["destination"]["mask"]), "198.51.100.76/30");
  EXPECT_EQ(keys_of(o["ingress"]), std::vector<std::string>{"interface"});
  EXPECT_EQ(keys_of(o["ingress"]["interface"]), std::vector<std::string>{"index"});
  EXPECT_EQ(num(o["ingress"]["interface"]["index"]), 7u);
  EXPECT_EQ(keys_of(o["egress"]), std::vector<std::string>{"interface"});
  EXPECT_EQ(num(o["egress"]["interface"]["index"]), 4294967295u);
  EXPECT_EQ(str(o["host"]), "edge-7");
  EXPECT_EQ(keys_of(o["next_hop"]), std::vector<std::string>{"ip"});
  EXPECT_EQ(str(o["next_hop"]["ip"]), "10.1.2.254");
  EXPECT_EQ(str(o["env"]), "prod");
  EXPECT_EQ(str(o["site"]), "fra1");
}

TEST(JsonEncoder, Ipv6RecordHasEveryKeyInOrderWithItsValue) {
  auto b = std::make_unique<FlowBlock>();
  const uint32_t r = b->append_row();
  b->flow_type[r] = FlowType::kIpfix;
  b->direction[r] = Direction::kEgress;
  b->start_ms[r] = 999;  // floor to seconds
  b->end_ms[r] = 1000;
  b->bytes[r] = 1500;
  b->packets[r] = 1;
  b->ether_type[r] = 0x86dd;
  b->protocol[r] = 58;
  b->exporter_addr[r] = v6("2001:db8:ffff::1");
  b->src_addr[r] = v6("2001:0db8:0000:0000:0001:0000:0000:0001");
  b->src_port[r] = 0;
  b->src_mask[r] = 48;
  b->dst_addr[r] = v6("fe80::a:b:c:d");
  b->dst_port[r] = 34304;  // ICMPv6 echo request as routers export it: type * 256 + code
  b->dst_mask[r] = 10;
  b->in_if[r] = 1;
  b->out_if[r] = 2;
  b->tcp_flags[r] = 0x3f;
  b->next_hop[r] = v6("2001:db8::fffe");

  const JsonEncoder enc(design_config());
  const std::string line = encode_one(enc, *b, r, 5);

  simdjson::dom::parser parser;
  const auto o = parse(parser, line);
  EXPECT_EQ(keys_of(o), kAllKeys);
  EXPECT_EQ(num(o["flush_timestamp"]), 5u);
  EXPECT_EQ(str(o["type"]), "ipfix");
  EXPECT_EQ(num(o["sampling_rate"]), 0u);
  EXPECT_EQ(str(o["direction"]), "egress");
  EXPECT_EQ(num(o["start"]), 0u);
  EXPECT_EQ(num(o["end"]), 1u);
  EXPECT_EQ(str(o["ether_type"]), "IPv6");
  EXPECT_EQ(str(o["ip_protocol"]), "IPv6-ICMP");
  EXPECT_EQ(str(o["exporter"]["ip"]), "2001:db8:ffff::1");
  EXPECT_EQ(str(o["source"]["ip"]), "2001:db8::1:0:0:1");
  EXPECT_EQ(str(o["source"]["port"]), "0");
  EXPECT_EQ(str(o["source"]["mac"]), "00:00:00:00:00:00");
  EXPECT_EQ(str(o["source"]["mask"]), "2001:db8::/48");
  EXPECT_EQ(str(o["destination"]["ip"]), "fe80::a:b:c:d");
  EXPECT_EQ(str(o["destination"]["port"]), "34304");
  EXPECT_EQ(str(o["destination"]["mask"]), "fe80::/10");
  EXPECT_EQ(num(o["ingress"]["interface"]["index"]), 1u);
  EXPECT_EQ(num(o["egress"]["interface"]["index"]), 2u);
  EXPECT_EQ(strings(o["tcp_flags"]),
            (std::vector<std::string>{"FIN", "SYN", "RST", "PSH", "ACK", "URG"}));
  EXPECT_EQ(str(o["next_hop"]["ip"]), "2001:db8::fffe");
}

TEST(JsonEncoder, AbsentAddressesPrintAsTheZeroAddressOfTheRecordsFamily) {
  auto b = std::make_unique<FlowBlock>();
  const uint32_t r4 = b->append_row();
  b->ether_type[r4] = 0x0800;
  b->src_mask[r4] = 16;
  const uint32_t r6 = b->append_row();
  b->ether_type[r6] = 0x86dd;
  b->dst_mask[r6] = 64;
  const uint32_t unknown = b->append_row();  // ether type 0: the key is left out, IPv4 zeros

  const JsonEncoder enc(design_config());
  simdjson::dom::parser parser;
  {
    const auto o = parse(parser, encode_one(enc, *b, r4, 1));
    EXPECT_EQ(str(o["ether_type"]), "IPv4");
    EXPECT_EQ(str(o["exporter"]["ip"]), "0.0.0.0");
    EXPECT_EQ(str(o["source"]["ip"]), "0.0.0.0");
    EXPECT_EQ(str(o["source"]["mask"]), "0.0.0.0/16");
    EXPECT_EQ(str(o["destination"]["ip"]), "0.0.0.0");
    EXPECT_EQ(str(o["destination"]["mask"]), "0.0.0.0/0");
    EXPECT_EQ(str(o["next_hop"]["ip"]), "0.0.0.0");
    EXPECT_EQ(str(o["type"]), "unknown");
  }
  {
    const auto o = parse(parser, encode_one(enc, *b, r6, 1));
    EXPECT_EQ(str(o["ether_type"]), "IPv6");
    EXPECT_EQ(str(o["exporter"]["ip"]), "::");
    EXPECT_EQ(str(o["source"]["ip"]), "::");
    EXPECT_EQ(str(o["source"]["mask"]), "::/0");
    EXPECT_EQ(str(o["destination"]["ip"]), "::");
    EXPECT_EQ(str(o["destination"]["mask"]), "::/64");
    EXPECT_EQ(str(o["next_hop"]["ip"]), "::");
  }
  {
    const auto o = parse(parser, encode_one(enc, *b, unknown, 1));
    std::vector<std::string> expected = kAllKeys;
    std::erase(expected, "ether_type");
    std::erase(expected, "tcp_flags");
    EXPECT_EQ(keys_of(o), expected);
    EXPECT_EQ(str(o["source"]["ip"]), "0.0.0.0");
    EXPECT_EQ(str(o["next_hop"]["ip"]), "0.0.0.0");
    EXPECT_EQ(str(o["ip_protocol"]), "HOPOPT");
  }
}

TEST(JsonEncoder, OtherEtherTypesLeaveTheKeyOut) {
  auto b = std::make_unique<FlowBlock>();
  const uint32_t r = b->append_row();
  b->ether_type[r] = 0x8100;
  b->src_addr[r] = v4("10.0.0.1");
  const JsonEncoder enc(design_config());
  simdjson::dom::parser parser;
  const auto o = parse(parser, encode_one(enc, *b, r, 1));
  EXPECT_EQ(o["ether_type"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(str(o["source"]["ip"]), "10.0.0.1");
}

TEST(JsonEncoder, TcpFlagsNamedInBitOrderAndLeftOutWhenNone) {
  static constexpr const char* kNames[6] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG"};
  auto b = std::make_unique<FlowBlock>();
  for (int flags = 0; flags < 256; ++flags) {
    const uint32_t r = b->append_row();
    b->tcp_flags[r] = static_cast<uint8_t>(flags);
  }
  const JsonEncoder enc(design_config());
  simdjson::dom::parser parser;
  for (uint32_t r = 0; r < b->size; ++r) {
    const auto o = parse(parser, encode_one(enc, *b, r, 1));
    std::vector<std::string> expected;
    for (int bit = 0; bit < 6; ++bit) {
      if ((r & (1u << bit)) != 0) expected.emplace_back(kNames[bit]);
    }
    if (expected.empty()) {
      EXPECT_EQ(o["tcp_flags"].error(), simdjson::NO_SUCH_FIELD) << r;
    } else {
      EXPECT_EQ(strings(o["tcp_flags"]), expected) << r;
      const auto keys = keys_of(o);
      ASSERT_EQ(keys.size(), kAllKeys.size() - 1);  // no ether_type
      EXPECT_EQ(keys[15], "host");
      EXPECT_EQ(keys[16], "tcp_flags");
      EXPECT_EQ(keys[17], "next_hop");
    }
  }
}

TEST(JsonEncoder, ProtocolNamedOrNumbered) {
  auto b = std::make_unique<FlowBlock>();
  for (int p = 0; p < 256; ++p) {
    const uint32_t r = b->append_row();
    b->protocol[r] = static_cast<uint8_t>(p);
  }
  const JsonEncoder enc(design_config());
  simdjson::dom::parser parser;
  for (uint32_t r = 0; r < b->size; ++r) {
    const auto o = parse(parser, encode_one(enc, *b, r, 1));
    EXPECT_EQ(str(o["ip_protocol"]), ip_protocol_name(static_cast<uint8_t>(r)));
  }
  EXPECT_EQ(str(parse(parser, encode_one(enc, *b, 47, 1))["ip_protocol"]), "GRE");
  EXPECT_EQ(str(parse(parser, encode_one(enc, *b, 50, 1))["ip_protocol"]), "ESP");
  EXPECT_EQ(str(parse(parser, encode_one(enc, *b, 132, 1))["ip_protocol"]), "SCTP");
  EXPECT_EQ(str(parse(parser, encode_one(enc, *b, 200, 1))["ip_protocol"]), "200");
  EXPECT_EQ(str(parse(parser, encode_one(enc, *b, 253, 1))["ip_protocol"]), "253");
}

TEST(JsonEncoder, ConfiguredStringsAreEscaped) {
  EncoderConfig c;
  c.host = "host \"one\"\\";
  c.device_namespace = "ns\nwith\tcontrol\x01";
  c.tags = {{"quote\"key", "back\\slash"},
            {"unicode", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"},
            {"bad\xff", "utf8\xc3"},
            {"", ""},
            {"</script>", "a&b<c>"}};
  const JsonEncoder enc(c);
  auto b = std::make_unique<FlowBlock>();
  const uint32_t r = append_design_example(*b);
  simdjson::dom::parser parser;
  const auto o = parse(parser, encode_one(enc, *b, r, 1692077978547));

  std::vector<std::string> expected_keys = kAllKeys;
  for (const char* k : {"quote\"key", "unicode", "bad\xef\xbf\xbd", "", "</script>"}) {
    expected_keys.emplace_back(k);
  }
  EXPECT_EQ(keys_of(o), expected_keys);
  EXPECT_EQ(str(o["host"]), "host \"one\"\\");
  EXPECT_EQ(str(o["device"]["namespace"]), "ns\nwith\tcontrol\x01");
  EXPECT_EQ(str(o["quote\"key"]), "back\\slash");
  EXPECT_EQ(str(o["unicode"]), "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
  EXPECT_EQ(str(o["bad\xef\xbf\xbd"]), "utf8\xef\xbf\xbd");
  EXPECT_EQ(str(o[""]), "");
  EXPECT_EQ(str(o["</script>"]), "a&b<c>");
}

TEST(JsonEncoder, RolledUpPortsAreWrittenAsStar) {
  auto b = std::make_unique<FlowBlock>();
  const uint32_t none = append_design_example(*b);
  const uint32_t src = append_design_example(*b);
  b->port_rollup[src] = FlowBlock::kRollupSrcPort;
  const uint32_t dst = append_design_example(*b);
  b->port_rollup[dst] = FlowBlock::kRollupDstPort;

  const JsonEncoder enc(design_config());
  simdjson::dom::parser parser;
  auto ports = [&](uint32_t r, uint8_t extra) {
    const auto o = parse(parser, encode_one(enc, *b, r, 1, extra));
    return str(o["source"]["port"]) + " " + str(o["destination"]["port"]);
  };
  EXPECT_EQ(ports(none, 0), "4627 424");
  EXPECT_EQ(ports(src, 0), "* 424");
  EXPECT_EQ(ports(dst, 0), "4627 *");
  // The argument asks for the same without the column.
  EXPECT_EQ(ports(none, FlowBlock::kRollupSrcPort), "* 424");
  EXPECT_EQ(ports(none, FlowBlock::kRollupDstPort), "4627 *");
  EXPECT_EQ(ports(src, FlowBlock::kRollupDstPort), "* *");
}

// The encoder remembers the text of the last flush timestamp and of 64 frequent addresses
// (exporter, next hop): one encoder over many records, with addresses that return, collide in
// its table, change family and are absent, writes exactly what a fresh encoder writes for each.
TEST(JsonEncoder, RememberedTextNeverGoesStale) {
  auto b = std::make_unique<FlowBlock>();
  const JsonEncoder kept(design_config());
  uint64_t x = 12345;
  const auto next = [&x] {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 33;
  };
  uint64_t flush_ms = 1692077978547;
  int checked = 0;
  for (int i = 0; i < 20'000; ++i) {
    b->clear();
    const uint32_t r = append_design_example(*b);
    const uint64_t pick = next();
    const uint32_t v4_value = 0x0a000000u | static_cast<uint32_t>(pick % 300);  // 300 exporters
    if (pick % 7 == 0) {
      uint8_t bytes[16] = {0x20, 0x01, 0x0d, 0xb8};
      bytes[15] = static_cast<uint8_t>(pick % 200);
      b->exporter_addr[r] = IpAddress::from_v6_bytes(bytes);
    } else {
      b->exporter_addr[r] = IpAddress::from_v4(v4_value);
    }
    b->next_hop[r] =
        pick % 5 == 0 ? IpAddress{} : IpAddress::from_v4(0xc0a80000u | (pick >> 9) % 90);
    b->ether_type[r] = pick % 11 == 0 ? 0x86dd : 0x0800;  // family of an absent next hop
    if (pick % 3 == 0) flush_ms += pick % 2000;
    const JsonEncoder fresh(design_config());
    ASSERT_EQ(encode_one(kept, *b, r, flush_ms), encode_one(fresh, *b, r, flush_ms)) << i;
    ++checked;
  }
  EXPECT_EQ(checked, 20'000);
}

TEST(JsonEncoder, AppendsToAReusedBufferOneLinePerRecord) {
  auto b = std::make_unique<FlowBlock>();
  for (uint32_t i = 0; i < 100; ++i) {
    const uint32_t r = append_design_example(*b);
    b->bytes[r] = i;
    if (i % 2 == 1) {
      b->ether_type[r] = 0x86dd;
      b->src_addr[r] = v6("2001:db8::1");
    }
  }
  const JsonEncoder enc(design_config());
  std::string out;
  for (int round = 0; round < 2; ++round) {
    out.clear();
    for (uint32_t r = 0; r < b->size; ++r) enc.encode(*b, r, 1692077978547, out);
    const size_t capacity = out.capacity();
    simdjson::dom::parser parser;
    size_t begin = 0;
    uint32_t r = 0;
    while (begin < out.size()) {
      const size_t end = out.find('\n', begin);
      ASSERT_NE(end, std::string::npos);
      const auto o = parse(parser, std::string_view(out).substr(begin, end - begin));
      EXPECT_EQ(num(o["bytes"]), r);
      EXPECT_EQ(str(o["source"]["ip"]), r % 2 == 1 ? "2001:db8::1" : "130.240.103.204");
      begin = end + 1;
      ++r;
    }
    EXPECT_EQ(r, b->size);
    out.clear();
    EXPECT_EQ(out.capacity(), capacity);
  }
}

TEST(JsonEncoder, WorstCaseRecordFitsTheReservation) {
  auto b = std::make_unique<FlowBlock>();
  const uint32_t r = b->append_row();
  b->flow_type[r] = FlowType::kNetflow5;
  b->direction[r] = Direction::kIngress;
  b->sampling_rate[r] = UINT32_MAX;
  b->start_ms[r] = b->end_ms[r] = b->bytes[r] = b->packets[r] = UINT64_MAX;
  b->ether_type[r] = 0x86dd;
  b->protocol[r] = 134;  // RSVP-E2E-IGNORE, the longest name
  const IpAddress all = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  b->exporter_addr[r] = b->src_addr[r] = b->dst_addr[r] = b->next_hop[r] = all;
  b->src_port[r] = b->dst_port[r] = 65535;
  b->src_mac[r] = b->dst_mac[r] = UINT64_MAX;
  b->src_mask[r] = b->dst_mask[r] = 128;
  b->in_if[r] = b->out_if[r] = UINT32_MAX;
  b->tcp_flags[r] = 0xff;

  EncoderConfig c = design_config();
  c.tags = {{"k", std::string(300, '"')}};
  const JsonEncoder enc(c);
  std::string out = "prefix";
  enc.encode(*b, r, UINT64_MAX, out);
  EXPECT_EQ(out.substr(0, 6), "prefix");
  const std::string line = out.substr(6);
  EXPECT_LE(line.size(), enc.max_record_size());
  // The reservation is an honest bound, not a wild one.
  EXPECT_GE(line.size() + 64, enc.max_record_size());
  simdjson::dom::parser parser;
  const auto o = parse(parser, line);
  EXPECT_EQ(str(o["k"]), std::string(300, '"'));
  EXPECT_EQ(str(o["source"]["mask"]), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
  EXPECT_EQ(str(o["source"]["mac"]), "ff:ff:ff:ff:ff:ff");
}

TEST(JsonEncoder, VeryLongConfiguredStrings) {
  EncoderConfig c = design_config();
  c.tags = {{"long", std::string(5000, 'x')}, {"escaped", std::string(1000, '\n')}};
  const JsonEncoder enc(c);
  EXPECT_GT(enc.max_record_size(), 7000u);
  auto b = std::make_unique<FlowBlock>();
  const uint32_t r = append_design_example(*b);
  std::string out = "prefix";
  enc.encode(*b, r, 1692077978547, out);
  enc.encode(*b, r, 1692077978547, out);
  ASSERT_EQ(out.substr(0, 6), "prefix");
  const std::string_view lines = std::string_view(out).substr(6);
  const size_t first_end = lines.find('\n');
  ASSERT_NE(first_end, std::string_view::npos);
  EXPECT_EQ(lines.size(), 2 * (first_end + 1));
  EXPECT_EQ(lines.substr(0, first_end + 1), lines.substr(first_end + 1));
  // The record is the design example with the tags before its closing brace.
  EXPECT_EQ(lines.substr(0, kDesignExample.size() - 2),
            kDesignExample.substr(0, kDesignExample.size() - 2));
  simdjson::dom::parser parser;
  const auto o = parse(parser, lines.substr(0, first_end));
  EXPECT_EQ(str(o["long"]), std::string(5000, 'x'));
  EXPECT_EQ(str(o["escaped"]), std::string(1000, '\n'));
}

}  // namespace
}  // namespace flowgate::exporter
