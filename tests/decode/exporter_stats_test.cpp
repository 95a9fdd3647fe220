// ExporterStats: per export stream traffic and sequence-number loss, for each protocol's idea
// of what the sequence counts (v5 flows, v9 packets, IPFIX data records, sFlow datagrams),
// driven through decode_datagram as the workers call it.

#include "decode/exporter_stats.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <vector>

#include "decode/datagram_decoder.hpp"
#include "tests/support/byte_writer.hpp"
#include "tests/support/decoder_harness.hpp"
#include "tests/support/flow_wire.hpp"

namespace flowgate {
namespace {

using decode::ExporterRow;
using decode::ExporterStats;
using decode::FlowType;
using testing::ByteWriter;
using testing::DecoderHarness;
using testing::FlowDatagram;
using testing::ipv4;
using testing::V5Header;
using testing::V5Record;

class Streams : public ::testing::Test {
 protected:
  void feed(const std::vector<uint8_t>& d) {
    decode::decode_datagram(std::as_bytes(std::span(d)), h_.meta, h_.templates, h_.out.output(),
                            h_.counters, nullptr, &stats_);
  }
  const ExporterRow& row(FlowType type, uint32_t domain) {
    const ExporterRow* r = stats_.find(h_.meta.exporter, h_.meta.exporter_port, type, domain);
    EXPECT_NE(r, nullptr);
    static const ExporterRow kNone;
    return r != nullptr ? *r : kNone;
  }

  // A v5 datagram of `flows` records numbered from `sequence`.
  static std::vector<uint8_t> v5(uint32_t sequence, int flows, uint8_t engine_id = 0) {
    V5Header h;
    h.sequence = sequence;
    h.engine_id = engine_id;
    std::vector<V5Record> records(static_cast<size_t>(flows), V5Record{.src = 0x0a000001,
                                                                       .dst = 0x0a000002,
                                                                       .packets = 1,
                                                                       .bytes = 100});
    return testing::netflow5(h, records);
  }

  // A v9 datagram with a two-field template and `records` data records.
  static std::vector<uint8_t> v9(uint32_t sequence, int records, uint32_t source_id = 7) {
    ByteWriter body;
    for (int i = 0; i < records; ++i) body.u32(0x0a000001).u32(100);
    return testing::v9::datagram(source_id, sequence)
        .template_set(256, {{8, 4}, {1, 4}})
        .data_set(256, body)
        .build();
  }

  // An IPFIX message with `records` data records (template included unless `data_only`).
  static std::vector<uint8_t> ipfix(uint32_t sequence, int records, bool with_template = true) {
    ByteWriter body;
    for (int i = 0; i < records; ++i) body.u32(0x0a000001).u64(100);
    FlowDatagram d = FlowDatagram::ipfix(1'700'000'000, 3, sequence);
    if (with_template) d.template_set(300, {{8, 4}, {1, 8}});
    return d.data_set(300, body).build();
  }

  // An sFlow v5 datagram with no samples from agent 198.51.100.9.
  static std::vector<uint8_t> sflow(uint32_t sequence, uint32_t sub_agent = 1) {
    ByteWriter w;
    w.u32(5).u32(1).u32(0xc6336409).u32(sub_agent).u32(sequence).u32(1000).u32(0);
    return w.data();
  }

  DecoderHarness h_;
  ExporterStats stats_{16};
};

TEST_F(Streams, CountsDatagramsBytesAndRecordsPerStreamAndListener) {
  const auto a = v5(0, 3);
  feed(a);
  feed(v5(3, 2));
  feed(v5(0, 4, /*engine_id=*/9));
  const ExporterRow& r = row(FlowType::kNetflow5, 0);
  EXPECT_EQ(r.datagrams, 2u);
  EXPECT_EQ(r.records, 5u);
  EXPECT_EQ(r.bytes, a.size() + 24 + 2 * 48);
  EXPECT_EQ(r.first_seen_ns, DecoderHarness::kReceiveNs);
  EXPECT_EQ(row(FlowType::kNetflow5, 9).records, 4u);
  EXPECT_EQ(stats_.size(), 2u);
  EXPECT_EQ(stats_.listeners()[3].datagrams, 3u);
  EXPECT_EQ(stats_.listeners()[3].records, 9u);
}

TEST_F(Streams, NetflowV5SequenceCountsFlows) {
  feed(v5(100, 5));  // anchors: 105 expected next
  feed(v5(105, 5));  // in order
  feed(v5(113, 2));  // 110..112 lost
  const ExporterRow& r = row(FlowType::kNetflow5, 0);
  EXPECT_EQ(r.sequence.lost, 3u);
  EXPECT_EQ(r.lost_records, 3u);
  EXPECT_EQ(r.sequence.resets, 0u);
  feed(v5(110, 3));  // the late datagram: reordered, not a reset
  EXPECT_EQ(r.sequence.reordered, 1u);
  EXPECT_EQ(r.late_records, 3u);
  feed(v5(115, 1));  // the expectation did not move back
  EXPECT_EQ(r.sequence.lost, 3u);
}

TEST_F(Streams, NetflowV5BigBackwardStepIsAReset) {
  feed(v5(50'000, 5));
  feed(v5(10, 5));  // more than 1000 behind: the exporter restarted
  feed(v5(15, 5));
  const ExporterRow& r = row(FlowType::kNetflow5, 0);
  EXPECT_EQ(r.sequence.resets, 1u);
  EXPECT_EQ(r.sequence.lost, 0u);
  EXPECT_EQ(r.sequence.reordered, 0u);
}

TEST_F(Streams, SequenceWrapsModulo32Bits) {
  feed(v5(0xfffffffe, 2));
  feed(v5(0, 2));
  feed(v5(3, 1));  // one lost after the wrap
  const ExporterRow& r = row(FlowType::kNetflow5, 0);
  EXPECT_EQ(r.sequence.resets, 0u);
  EXPECT_EQ(r.sequence.lost, 1u);
}

TEST_F(Streams, FarForwardJumpIsAReset) {
  feed(v5(10, 1));
  feed(v5(10 + (1u << 25), 1));
  const ExporterRow& r = row(FlowType::kNetflow5, 0);
  EXPECT_EQ(r.sequence.resets, 1u);
  EXPECT_EQ(r.sequence.lost, 0u);
}

TEST_F(Streams, NetflowV9SequenceCountsPacketsAndEstimatesRecords) {
  feed(v9(1, 4));
  feed(v9(2, 4));
  feed(v9(5, 4));  // packets 3 and 4 lost: about 2 x 4 records
  const ExporterRow& r = row(FlowType::kNetflow9, 7);
  EXPECT_EQ(r.records, 12u);
  EXPECT_EQ(r.sequence.lost, 2u);
  EXPECT_EQ(r.lost_records, 8u);
  feed(v9(3, 4));  // late
  EXPECT_EQ(r.sequence.reordered, 1u);
  EXPECT_EQ(r.late_records, 4u);
  feed(v9(1, 4));  // 5 behind: within v9's window of 100, still reordering
  EXPECT_EQ(r.sequence.resets, 0u);
  feed(v9(6, 4));
  EXPECT_EQ(r.sequence.lost, 2u);
  feed(v9(500, 4));  // ahead: 493 lost
  EXPECT_EQ(r.sequence.lost, 495u);
  feed(v9(200, 4));  // 301 behind: more than v9's 100, a reset
  EXPECT_EQ(r.sequence.resets, 1u);
  EXPECT_EQ(r.sequence.reordered, 2u);
}

TEST_F(Streams, IpfixSequenceCountsDataRecords) {
  feed(ipfix(0, 3));   // records 0..2
  feed(ipfix(3, 2));   // 3..4
  feed(ipfix(10, 1));  // 5..9 lost
  const ExporterRow& r = row(FlowType::kIpfix, 3);
  EXPECT_EQ(r.records, 6u);
  EXPECT_EQ(r.sequence.lost, 5u);
  EXPECT_EQ(r.lost_records, 5u);
  EXPECT_EQ(r.templates, 0u);  // filled by the TemplateCache owner, not here
}

TEST_F(Streams, IpfixReanchorsWhenDataWaitsForItsTemplate) {
  // Data before its template: held, so the message's record count is unknown. The stream
  // re-anchors on the next message rather than counting a gap it cannot measure.
  feed(ipfix(0, 3, /*with_template=*/false));
  feed(ipfix(3, 2));  // releases the 3 held records and decodes 2
  feed(ipfix(8, 1));
  const ExporterRow& r = row(FlowType::kIpfix, 3);
  EXPECT_EQ(r.sets_pending, 1u);
  EXPECT_EQ(r.sequence.lost, 0u);
  feed(ipfix(9, 1));
  feed(ipfix(12, 1));  // 10, 11 lost
  EXPECT_EQ(r.sequence.lost, 2u);
}

TEST_F(Streams, SflowSequenceCountsDatagramsPerSubAgent) {
  feed(sflow(1, 1));
  feed(sflow(1, 2));
  feed(sflow(2, 1));
  feed(sflow(4, 1));  // 3 lost on sub-agent 1
  feed(sflow(2, 2));  // sub-agent 2 in order
  const auto agent = ipv4(198, 51, 100, 9);
  const ExporterRow* one = stats_.find(agent, h_.meta.exporter_port, FlowType::kSflow5, 1);
  const ExporterRow* two = stats_.find(agent, h_.meta.exporter_port, FlowType::kSflow5, 2);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(one->sequence.lost, 1u);
  EXPECT_EQ(two->sequence.lost, 0u);
  EXPECT_EQ(one->datagrams, 3u);
  feed(sflow(3, 1));  // late
  EXPECT_EQ(one->sequence.reordered, 1u);
  feed(sflow(1, 1));  // 4 behind, within sFlow's window of 1000: reordered too
  feed(sflow(1u << 25, 1));  // far ahead: reset
  feed(sflow(5, 1));  // far behind: reset
  EXPECT_EQ(one->sequence.resets, 2u);  // the far jump ahead, then the far step back
}

TEST_F(Streams, OverflowGoesToTheOtherRow) {
  ExporterStats small(2);
  for (uint8_t id = 0; id < 5; ++id) {
    const auto d = v5(0, 1, id);
    decode::decode_datagram(std::as_bytes(std::span(d)), h_.meta, h_.templates, h_.out.output(),
                            h_.counters, nullptr, &small);
  }
  EXPECT_EQ(small.size(), 2u);
  EXPECT_EQ(small.overflow(), 3u);
  EXPECT_EQ(small.other().datagrams, 3u);
  EXPECT_EQ(small.other().records, 3u);
}

// A full table does not keep a stream that went away for good: a new stream takes the row of
// the one heard from least recently once that was an hour ago (by receive times), and before
// that is summed into "other".
TEST_F(Streams, ANewStreamTakesTheRowOfOneIdleForAnHour) {
  ExporterStats small(2);
  const auto at = [&](uint8_t engine, uint64_t ns) {
    h_.meta.receive_ns = ns;
    const auto d = v5(0, 1, engine);
    decode::decode_datagram(std::as_bytes(std::span(d)), h_.meta, h_.templates, h_.out.output(),
                            h_.counters, nullptr, &small);
  };
  const auto held = [&](uint8_t engine) {
    return small.find(h_.meta.exporter, h_.meta.exporter_port, FlowType::kNetflow5,
                      engine) != nullptr;
  };
  constexpr uint64_t kMinute = 60ull * 1'000'000'000;
  at(0, 1 * kMinute);
  at(1, 2 * kMinute);
  at(1, 30 * kMinute);  // stream 1 stays busy
  at(2, 60 * kMinute);  // stream 0 has been quiet for 59 minutes: not yet
  EXPECT_EQ(small.overflow(), 1u);
  EXPECT_EQ(small.reclaimed(), 0u);
  EXPECT_FALSE(held(2));
  at(2, 61 * kMinute);  // an hour since stream 0: its row goes to stream 2
  EXPECT_EQ(small.reclaimed(), 1u);
  EXPECT_EQ(small.overflow(), 1u);
  EXPECT_EQ(small.size(), 2u);
  EXPECT_FALSE(held(0));
  EXPECT_TRUE(held(1));
  ASSERT_TRUE(held(2));
  EXPECT_EQ(small.find(h_.meta.exporter, h_.meta.exporter_port, FlowType::kNetflow5, 2)->datagrams,
            1u) << "a fresh row: what stream 0 counted is not carried over";
  at(3, 62 * kMinute);  // stream 1 was last heard at 30 minutes: not idle yet
  EXPECT_EQ(small.overflow(), 2u);
  EXPECT_EQ(small.reclaimed(), 1u);
}

TEST_F(Streams, DecodeErrorsAreCountedAndDoNotAdvanceTheSequence) {
  feed(v5(0, 2));
  const auto full = v5(2, 2);
  const std::vector<uint8_t> bad(full.begin(), full.end() - 10);  // truncated
  feed(bad);
  feed(v5(4, 1));  // re-anchored after the faulty datagram: no loss invented
  feed(v5(5, 1));
  const ExporterRow& r = row(FlowType::kNetflow5, 0);
  EXPECT_EQ(r.decode_errors, 1u);
  EXPECT_EQ(r.sequence.lost, 0u);
  EXPECT_EQ(stats_.listeners()[3].decode_errors, 1u);
}

}  // namespace
}  // namespace flowgate
