#include "dataplane/pcap_source.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/dataplane/frame_builder.hpp"

namespace flowgate::dataplane {
namespace {

using testing::concat;
using testing::Frame;
using testing::kDst4;
using testing::kDst6;
using testing::kSrc4;
using testing::kSrc6;
using testing::V6;

constexpr uint64_t kSecond = 1'000'000'000;

std::string corpus(const char* relative) {
  return std::string(FLOWGATE_CORPUS_DIR) + "/" + relative;
}

// A file path in a directory of this test's own, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("flowgate-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
             std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path file(const char* name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct Seen {
  decode::IpAddress src;
  decode::IpAddress dst;
  uint16_t src_port;
  uint16_t dst_port;
  std::vector<uint8_t> payload;
  uint64_t receive_ns;
};

std::vector<Seen> read_all(PcapSource& source, PcapStatus* status = nullptr) {
  std::vector<Seen> seen;
  const PcapStatus s = source.run([&](const UdpDatagram& d) {
    const auto* p = reinterpret_cast<const uint8_t*>(d.payload.data());
    seen.push_back({d.src, d.dst, d.src_port, d.dst_port, {p, p + d.payload.size()}, d.receive_ns});
  });
  if (status) *status = s;
  return seen;
}

TEST(PcapSource, MissingFileIsReported) {
  PcapSource source;
  EXPECT_EQ(source.open("/nonexistent/flowgate.pcap"), PcapStatus::kOpenFailed);
  EXPECT_NE(source.error().find("/nonexistent/flowgate.pcap"), std::string::npos);
  // Nothing open, nothing to run.
  EXPECT_EQ(source.run([](const UdpDatagram&) {}), PcapStatus::kNotOpen);
}

TEST(PcapSource, NotACaptureIsReported) {
  TempDir dir;
  {
    std::ofstream out(dir.file("junk.pcap"));
    out << "this is not a capture file at all\n";
  }
  PcapSource source;
  EXPECT_EQ(source.open(dir.file("junk.pcap")), PcapStatus::kOpenFailed);
  EXPECT_FALSE(source.error().empty());
}

TEST(PcapSource, UnsupportedLinkTypeIsReported) {
  TempDir dir;
  testing::write_pcap(dir.file("wifi.pcap"), 105, {});  // LINKTYPE_IEEE802_11
  PcapSource source;
  EXPECT_EQ(source.open(dir.file("wifi.pcap")), PcapStatus::kUnsupportedLinkType);
  EXPECT_NE(source.error().find("105"), std::string::npos);
}

TEST(PcapSource, LinkTypesFromDlt) {
  EXPECT_EQ(link_type_from_dlt(DLT_EN10MB), LinkType::kEthernet);
  EXPECT_EQ(link_type_from_dlt(DLT_RAW), LinkType::kRaw);
  EXPECT_EQ(link_type_from_dlt(DLT_LOOP), LinkType::kLoop);
  EXPECT_EQ(link_type_from_dlt(DLT_LINUX_SLL2), LinkType::kLinuxSll2);
  EXPECT_EQ(link_type_from_dlt(DLT_IEEE802_11), std::nullopt);
}

TEST(PcapSource, GraylogNetflow5) {
  PcapSource source;
  ASSERT_EQ(source.open(corpus("graylog-plugin-netflow/netflow-data/netflow5.pcap")),
            PcapStatus::kOk)
      << source.error();
  EXPECT_EQ(source.link_type(), LinkType::kEthernet);
  PcapStatus status{};
  const auto seen = read_all(source, &status);
  EXPECT_EQ(status, PcapStatus::kOk);
  ASSERT_EQ(seen.size(), 3u);
  size_t bytes = 0;
  for (const Seen& s : seen) {
    EXPECT_EQ(s.src, testing::v4(192, 168, 1, 1));
    EXPECT_EQ(s.dst, testing::v4(192, 168, 1, 100));
    EXPECT_EQ(s.src_port, 39359);
    EXPECT_EQ(s.dst_port, 2055);
    ASSERT_GE(s.payload.size(), 2u);
    EXPECT_EQ(s.payload[1], 5);  // NetFlow version 5
    bytes += s.payload.size();
  }
  EXPECT_EQ(bytes, 264u);                               // tshark: sum of udp.length - 8
  EXPECT_EQ(seen[0].receive_ns, 1500986281035371000u);  // microsecond file, scaled to ns
  EXPECT_EQ(source.counters().frames, 3u);
  EXPECT_EQ(source.counters().udp_datagrams, 3u);
}

TEST(PcapSource, NprobeNetflow9) {
  PcapSource source;
  ASSERT_EQ(source.open(corpus("graylog-plugin-netflow/netflow-data/nprobe-netflow9-3.pcap")),
            PcapStatus::kOk)
      << source.error();
  const auto seen = read_all(source);
  ASSERT_EQ(seen.size(), 72u);
  size_t bytes = 0;
  for (const Seen& s : seen) {
    EXPECT_EQ(s.src, testing::v4(127, 0, 0, 1));
    EXPECT_EQ(s.src_port, 58904);
    EXPECT_EQ(s.dst_port, 2055);
    bytes += s.payload.size();
  }
  EXPECT_EQ(bytes, 50236u);
  EXPECT_EQ(seen[1].receive_ns, 1502190458137340000u);
}

TEST(PcapSource, PmacctIpv6Exporter) {
  PcapSource source;
  ASSERT_EQ(source.open(corpus("pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap")),
            PcapStatus::kOk)
      << source.error();
  const auto seen = read_all(source);
  ASSERT_EQ(seen.size(), 5u);
  const V6 exporter = {0x2a, 0x02, 0x0a, 0x90, 0x40, 0x07, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x54};
  size_t bytes = 0;
  for (const Seen& s : seen) {
    EXPECT_EQ(s.src, testing::v6(exporter));
    EXPECT_EQ(s.src_port, 50399);
    EXPECT_EQ(s.dst_port, 9992);
    ASSERT_GE(s.payload.size(), 2u);
    EXPECT_EQ(s.payload[1], 10);  // IPFIX version 10
    bytes += s.payload.size();
  }
  EXPECT_EQ(bytes, 1228u);
  EXPECT_EQ(seen[1].receive_ns, 1672534805001000000u);
}

TEST(PcapSource, PmacctLinuxCooked) {
  PcapSource source;
  ASSERT_EQ(
      source.open(corpus("pmacct/112-IPFIXv10-CISCO-options-map-reassignment/traffic-00.pcap")),
      PcapStatus::kOk)
      << source.error();
  EXPECT_EQ(source.link_type(), LinkType::kLinuxSll);
  const auto seen = read_all(source);
  ASSERT_EQ(seen.size(), 21u);
  const V6 exporter = {0x20, 0x01, 0x0d, 0xb8, 0, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  size_t bytes = 0;
  size_t from_61853 = 0;
  for (const Seen& s : seen) {
    EXPECT_EQ(s.src, testing::v6(exporter));
    EXPECT_TRUE(s.src_port == 61853 || s.src_port == 65156) << s.src_port;
    from_61853 += s.src_port == 61853;
    EXPECT_EQ(s.dst_port, 9991);
    bytes += s.payload.size();
  }
  EXPECT_EQ(from_61853, 10u);  // tshark: 10 from port 61853, 11 from 65156
  EXPECT_EQ(bytes, 11124u);
}

TEST(PcapSource, PmacctMixedWithBmpOverTcp) {
  PcapSource source;
  ASSERT_EQ(
      source.open(corpus("pmacct/400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources/traffic-01.pcap")),
      PcapStatus::kOk)
      << source.error();
  const auto seen = read_all(source);
  EXPECT_EQ(seen.size(), 277u);
  EXPECT_EQ(source.counters().frames, 300u);
  EXPECT_EQ(source.counters().not_udp, 23u);
  size_t bytes = 0;
  for (const Seen& s : seen) bytes += s.payload.size();
  EXPECT_EQ(bytes, 52880u);
}

TEST(PcapSource, WholeCorpusParsesWithoutErrors) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(FLOWGATE_CORPUS_DIR)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.find(".pcap") == std::string::npos) continue;
    PcapSource source;
    ASSERT_EQ(source.open(entry.path().string()), PcapStatus::kOk) << source.error();
    size_t datagrams = 0;
    EXPECT_EQ(source.run([&](const UdpDatagram&) { ++datagrams; }), PcapStatus::kOk);
    const PacketCounters& c = source.counters();
    EXPECT_EQ(c.truncated, 0u) << entry.path();
    EXPECT_EQ(c.bad_header, 0u) << entry.path();
    EXPECT_EQ(c.udp_datagrams, datagrams);
    EXPECT_GT(datagrams, 0u) << entry.path();
    EXPECT_EQ(c.frames,
              c.udp_frames + c.fragments + c.not_ip + c.not_udp + c.truncated + c.bad_header);
    ++files;
  }
  EXPECT_GT(files, 0u);
}

// A written capture: fragmented datagrams on every link type the parser knows.
Frame v4_fragment(const Frame& datagram, size_t off, size_t n, uint16_t id) {
  testing::Ipv4Options o;
  o.id = id;
  o.offset = static_cast<uint16_t>(off);
  o.more_fragments = off + n < datagram.size();
  return testing::ipv4(kSrc4, kDst4, std::span(datagram).subspan(off, n), o);
}

Frame v6_fragment(const Frame& datagram, size_t off, size_t n, uint32_t id) {
  return testing::ipv6(
      kSrc6, kDst6, 44,
      concat({testing::ipv6_fragment_header(kIpProtoUdp, static_cast<uint16_t>(off),
                                            off + n < datagram.size(), id),
              std::span(datagram).subspan(off, n)}));
}

Frame bsd_family(uint32_t family) {
  return {static_cast<uint8_t>(family), static_cast<uint8_t>(family >> 8),
          static_cast<uint8_t>(family >> 16), static_cast<uint8_t>(family >> 24)};
}

TEST(PcapSource, ReassemblesFragmentsFromAWrittenCapture) {
  const Frame d4 = testing::udp(2055, 9995, testing::payload_of(2992, 4));  // 3000 bytes
  const Frame d6 = testing::udp(4739, 4740, testing::payload_of(2992, 6));
  const Frame whole =
      testing::ipv4(kSrc4, kDst4, testing::udp(2055, 9995, testing::payload_of(10)));
  struct Case {
    uint32_t linktype;
    Frame (*wrap4)(const Frame&);
    Frame (*wrap6)(const Frame&);
  };
  const Case cases[] = {
      {1,
       [](const Frame& ip) {
         return testing::ethernet(0x0800, ip, {0x88a8, 0x8100});
       },
       [](const Frame& ip) { return testing::ethernet(0x86dd, ip); }},
      {101, [](const Frame& ip) { return ip; }, [](const Frame& ip) { return ip; }},
      {228, [](const Frame& ip) { return ip; }, nullptr},
      {229, nullptr, [](const Frame& ip) { return ip; }},
      {0,
       [](const Frame& ip) {
         return concat({bsd_family(2), ip});
       },
       [](const Frame& ip) {
         return concat({bsd_family(30), ip});
       }},
      {108,
       [](const Frame& ip) {
         return concat({Frame{0, 0, 0, 2}, ip});
       },
       [](const Frame& ip) {
         return concat({Frame{0, 0, 0, 24}, ip});
       }},
      {113,
       [](const Frame& ip) {
         return concat({Frame{0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00}, ip});
       },
       [](const Frame& ip) {
         return concat({Frame{0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd}, ip});
       }},
      {276,
       [](const Frame& ip) {
         return concat(
             {Frame{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}, ip});
       },
       [](const Frame& ip) {
         return concat(
             {Frame{0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}, ip});
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.linktype);
    std::vector<testing::PcapRecord> records;
    uint64_t t = 1700000000 * kSecond + 123456789;
    size_t expected = 0;
    if (c.wrap4) {
      // Out of order: last, first, middle. Completes on the third frame.
      records.push_back({t += 1000, c.wrap4(v4_fragment(d4, 2400, 600, 99)), 0});
      records.push_back({t += 1000, c.wrap4(v4_fragment(d4, 0, 1200, 99)), 0});
      records.push_back({t += 1000, c.wrap4(v4_fragment(d4, 1200, 1200, 99)), 0});
      records.push_back({t += 1000, c.wrap4(whole), 0});
      expected += 2;
    }
    if (c.wrap6) {
      records.push_back({t += 1000, c.wrap6(v6_fragment(d6, 0, 1232, 0xabcdef01)), 0});
      records.push_back({t += 1000, c.wrap6(v6_fragment(d6, 1232, 1232, 0xabcdef01)), 0});
      records.push_back({t += 1000, c.wrap6(v6_fragment(d6, 2464, 536, 0xabcdef01)), 0});
      expected += 1;
    }
    TempDir dir;
    testing::write_pcap(dir.file("frags.pcap"), c.linktype, records);
    PcapSource source;
    ASSERT_EQ(source.open(dir.file("frags.pcap")), PcapStatus::kOk) << source.error();
    const auto seen = read_all(source);
    ASSERT_EQ(seen.size(), expected);
    size_t i = 0;
    if (c.wrap4) {
      EXPECT_EQ(seen[i].src, testing::v4(192, 0, 2, 1));
      EXPECT_EQ(seen[i].src_port, 2055);
      EXPECT_EQ(seen[i].payload, testing::payload_of(2992, 4));
      EXPECT_EQ(seen[i].receive_ns, records[2].ns);  // the frame that completed it
      ++i;
      EXPECT_EQ(seen[i].payload, testing::payload_of(10));
      EXPECT_EQ(seen[i].receive_ns, records[3].ns);
      ++i;
    }
    if (c.wrap6) {
      EXPECT_EQ(seen[i].src, testing::v6(kSrc6));
      EXPECT_EQ(seen[i].dst, testing::v6(kDst6));
      EXPECT_EQ(seen[i].src_port, 4739);
      EXPECT_EQ(seen[i].payload, testing::payload_of(2992, 6));
      EXPECT_EQ(seen[i].receive_ns, records.back().ns);
    }
    const PacketCounters& counters = source.counters();
    EXPECT_EQ(counters.frames, records.size());
    EXPECT_EQ(counters.udp_datagrams, expected);
    EXPECT_EQ(counters.reassembled, (c.wrap4 ? 1u : 0u) + (c.wrap6 ? 1u : 0u));
    EXPECT_EQ(counters.fragments, (c.wrap4 ? 3u : 0u) + (c.wrap6 ? 3u : 0u));
    EXPECT_EQ(source.reassembly_counters().completed, counters.reassembled);
  }
}

TEST(PcapSource, CountsWhatItCannotDeliver) {
  const Frame udp = testing::ipv4(kSrc4, kDst4, testing::udp(1, 2, testing::payload_of(100)));
  Frame cut = testing::ethernet(0x0800, udp);
  const auto original = static_cast<uint32_t>(cut.size());
  cut.resize(60);  // cut short by a snap length of 60
  testing::Ipv4Options tcp;
  tcp.protocol = 6;
  const Frame mismatch =
      testing::ipv4(kSrc4, kDst4, testing::udp(1, 2, testing::payload_of(100), 8 + 50));
  const std::vector<testing::PcapRecord> records = {
      {1, cut, original},
      {2, testing::ethernet(testing::kEtherArp, Frame(28, 0)), 0},
      {3, testing::ethernet(0x0800, testing::ipv4(kSrc4, kDst4, Frame(20, 0), tcp)), 0},
      {4, testing::ethernet(0x0800, mismatch), 0},
      {5, testing::ethernet(0x0800, Frame(10, 0x45)), 0},
      {6, testing::ethernet(0x0800, Frame(20, 0x35)), 0},
  };
  TempDir dir;
  testing::write_pcap(dir.file("mixed.pcap"), 1, records);
  PcapSource source;
  ASSERT_EQ(source.open(dir.file("mixed.pcap")), PcapStatus::kOk) << source.error();
  const auto seen = read_all(source);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].payload.size(), 50u);
  const PacketCounters& c = source.counters();
  EXPECT_EQ(c.frames, 6u);
  EXPECT_EQ(c.truncated, 2u);
  EXPECT_EQ(c.not_ip, 1u);
  EXPECT_EQ(c.not_udp, 1u);
  EXPECT_EQ(c.bad_header, 1u);
  EXPECT_EQ(c.udp_frames, 1u);
  EXPECT_EQ(c.udp_length_mismatch, 1u);

  std::vector<std::string> names;
  c.for_each([&](std::string_view name, std::string_view help, uint64_t) {
    EXPECT_FALSE(help.empty());
    names.emplace_back(name);
  });
  EXPECT_EQ(names.front(), "frames");
  EXPECT_NE(std::find(names.begin(), names.end(), "udp_length_mismatch"), names.end());
}

TEST(PcapSource, NextFrameThenEndOfFile) {
  TempDir dir;
  testing::write_pcap(dir.file("one.pcap"), 101,
                      {{42 * kSecond + 7, testing::ipv4(kSrc4, kDst4, testing::udp(1, 2, {})), 0}});
  PcapSource source;
  ASSERT_EQ(source.open(dir.file("one.pcap")), PcapStatus::kOk);
  decode::Bytes frame;
  uint64_t ns = 0;
  ASSERT_EQ(source.next_frame(frame, ns), PcapStatus::kOk);
  EXPECT_EQ(frame.size(), 28u);
  EXPECT_EQ(ns, 42 * kSecond + 7);
  EXPECT_EQ(source.next_frame(frame, ns), PcapStatus::kEndOfFile);
  // Moving keeps the open file and the counters.
  PcapSource moved = std::move(source);
  EXPECT_EQ(moved.next_frame(frame, ns), PcapStatus::kEndOfFile);
}

}  // namespace
}  // namespace flowgate::dataplane
