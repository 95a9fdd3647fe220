// The template state file: what a restart loads must decode data exactly as the templates the
// exporter sent did; a damaged file is refused whole; a failed write keeps the old file.

#include "decode/template_state.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/collector_harness.hpp"
#include "tests/support/decoder_harness.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate {
namespace {

using decode::StateLoadFigures;
using decode::StateStatus;
using testing::DecoderHarness;
using testing::Payload;

constexpr uint64_t kHourNs = 3600ull * 1'000'000'000;

// Template-only and data-only datagrams of one NetFlow v9 and one IPFIX exporter, and IPFIX
// with sampling options (Cisco IOS XR, the rate comes from options data).
struct Exports {
  std::vector<Payload> v9_templates, v9_data, ipfix_templates, ipfix_data, sampled;
};

Exports exports() {
  Exports e;
  e.v9_templates = testing::file_payloads("goflow2/bin/netflow9_TestDecodeNetFlowV9_template_L14.bin");
  e.v9_data = testing::file_payloads("goflow2/bin/netflow9_TestDecodeNetFlowV9_data_L118.bin");
  e.ipfix_templates = testing::file_payloads("logstash-codec-netflow/dat/ipfix_test_mikrotik_tpl.dat");
  e.ipfix_data = testing::file_payloads("logstash-codec-netflow/dat/ipfix_test_mikrotik_data258.dat");
  e.sampled = testing::capture_payloads("pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap");
  return e;
}

void decode_all(DecoderHarness& h, const std::vector<Payload>& payloads, bool ipfix) {
  for (const Payload& p : payloads) {
    if (ipfix) {
      h.ipfix(p);
    } else {
      h.netflow9(p);
    }
  }
}

std::vector<uint8_t> state_of(const decode::TemplateCache& cache, uint64_t saved_ns) {
  std::vector<std::vector<uint8_t>> bodies(1);
  decode::append_template_state(cache, bodies[0]);
  return decode::template_state_file(bodies, saved_ns);
}

// What a user compares: the records' addresses, ports, counters and sampling rate.
std::vector<std::string> records(const DecoderHarness& h) {
  std::vector<std::string> out;
  for (size_t i = 0; i < h.size(); ++i) {
    const decode::FlowBlock& b = h.block(i);
    const uint32_t r = h.row(i);
    std::string s;
    for (uint8_t x : b.src_addr[r].bytes) s += std::to_string(x) + ".";
    for (uint8_t x : b.dst_addr[r].bytes) s += std::to_string(x) + ".";
    s += " " + std::to_string(b.src_port[r]) + " " + std::to_string(b.dst_port[r]) + " " +
         std::to_string(b.bytes[r]) + " " + std::to_string(b.packets[r]) + " " +
         std::to_string(b.sampling_rate[r]) + " " + std::to_string(b.start_ms[r]) + " " +
         std::to_string(b.end_ms[r]);
    out.push_back(s);
  }
  return out;
}

TEST(TemplateState, LoadedTemplatesDecodeDataAsTheSentOnesDid) {
  const Exports e = exports();
  DecoderHarness sent;  // learns from the exporters
  decode_all(sent, e.v9_templates, false);
  decode_all(sent, e.ipfix_templates, true);
  sent.meta.exporter_port = 4739;  // another exporter key for the sampled stream
  decode_all(sent, e.sampled, true);
  ASSERT_GT(sent.counters.sampling_rates_learned, 0u);
  const uint32_t templates = sent.templates.template_count();
  ASSERT_GE(templates, 3u);

  const std::vector<uint8_t> file = state_of(sent.templates, DecoderHarness::kReceiveNs);
  std::span<const uint8_t> body;
  ASSERT_EQ(decode::parse_template_state(file, body), StateStatus::kOk);

  DecoderHarness restarted;
  StateLoadFigures f;
  decode::load_template_state(body, DecoderHarness::kReceiveNs, kHourNs, restarted.templates, f);
  EXPECT_EQ(f.templates, templates);
  EXPECT_GT(f.options, 0u);
  EXPECT_EQ(f.stale, 0u);
  EXPECT_EQ(f.refused, 0u);
  EXPECT_EQ(restarted.templates.template_count(), templates);

  // Data only: both decode it the same, from the first datagram, sampling rate included.
  const size_t before = sent.size();
  for (DecoderHarness* h : {&sent, &restarted}) {
    h->meta.exporter_port = DecoderHarness{}.meta.exporter_port;
    decode_all(*h, e.v9_data, false);
    decode_all(*h, e.ipfix_data, true);
    h->meta.exporter_port = 4739;
  }
  // The sampled stream's data comes after its templates in the same capture: decode it again.
  const size_t sampled_from = sent.size();
  decode_all(sent, e.sampled, true);
  decode_all(restarted, e.sampled, true);
  std::vector<std::string> a = records(sent);
  a.erase(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(before));
  const std::vector<std::string> b = records(restarted);
  ASSERT_GT(b.size(), 0u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(restarted.counters.pending_buffered, 0u);
  bool sampled_rate = false;
  for (size_t i = sampled_from - before; i < b.size(); ++i) {
    sampled_rate |= restarted.block(i).sampling_rate[restarted.row(i)] != 0;
  }
  EXPECT_TRUE(sampled_rate) << "the sampling rate learned before the restart applies";
}

TEST(TemplateState, EntriesOlderThanTheTemplateTimeoutAreNotLoaded) {
  const Exports e = exports();
  DecoderHarness sent;
  decode_all(sent, e.v9_templates, false);
  const std::vector<uint8_t> file = state_of(sent.templates, DecoderHarness::kReceiveNs);
  std::span<const uint8_t> body;
  ASSERT_EQ(decode::parse_template_state(file, body), StateStatus::kOk);

  DecoderHarness later;
  StateLoadFigures f;
  decode::load_template_state(body, DecoderHarness::kReceiveNs + 2 * kHourNs, kHourNs,
                              later.templates, f);
  EXPECT_EQ(f.templates, 0u);
  EXPECT_EQ(f.stale, sent.templates.template_count());
  EXPECT_EQ(later.templates.template_count(), 0u);
  decode_all(later, e.v9_data, false);
  EXPECT_EQ(later.size(), 0u);
  EXPECT_GT(later.counters.pending_buffered, 0u);
}

TEST(TemplateState, LoadedTemplatesExpireWithTheTimeoutFromTheirLastRefresh) {
  const Exports e = exports();
  DecoderHarness sent;
  decode_all(sent, e.v9_templates, false);
  const std::vector<uint8_t> file = state_of(sent.templates, DecoderHarness::kReceiveNs);
  std::span<const uint8_t> body;
  ASSERT_EQ(decode::parse_template_state(file, body), StateStatus::kOk);

  decode::TemplateCacheLimits limits;
  limits.template_ttl_ns = kHourNs;
  DecoderHarness restarted(limits);
  StateLoadFigures f;
  const uint64_t start = DecoderHarness::kReceiveNs + kHourNs / 2;
  decode::load_template_state(body, start, kHourNs, restarted.templates, f);
  ASSERT_GT(f.templates, 0u);
  EXPECT_EQ(restarted.templates.expire_templates(start), 0u);
  // One hour after the exporter last sent them, not after the restart.
  EXPECT_EQ(restarted.templates.expire_templates(DecoderHarness::kReceiveNs + kHourNs),
            f.templates);
  EXPECT_EQ(restarted.templates.template_count(), 0u);
}

TEST(TemplateState, TheNewestCopyOfATemplateWins) {
  // Two shards saved one template: the one its exporter reaches re-sent it later.
  const Exports e = exports();
  DecoderHarness older, newer;
  decode_all(older, e.v9_templates, false);
  newer.meta.receive_ns += 1000;
  decode_all(newer, e.v9_templates, false);
  std::vector<std::vector<uint8_t>> bodies(2);
  decode::append_template_state(newer.templates, bodies[0]);
  decode::append_template_state(older.templates, bodies[1]);
  const std::vector<uint8_t> file = decode::template_state_file(bodies, newer.meta.receive_ns);
  std::span<const uint8_t> body;
  ASSERT_EQ(decode::parse_template_state(file, body), StateStatus::kOk);
  DecoderHarness restarted;
  StateLoadFigures f;
  decode::load_template_state(body, newer.meta.receive_ns, kHourNs, restarted.templates, f);
  EXPECT_EQ(f.templates, newer.templates.template_count());
  const uint32_t e0 = restarted.templates.exporter_index(
      {newer.meta.exporter, newer.meta.exporter_port, decode::FlowType::kNetflow9});
  uint64_t refreshed = 0;
  restarted.templates.for_each_template([&](const auto&, uint32_t d, const auto& t, auto, uint64_t r) {
    EXPECT_EQ(restarted.templates.refreshed_ns(e0, d, t.id), r);
    refreshed = r;
  });
  EXPECT_EQ(refreshed, newer.meta.receive_ns);
}

TEST(TemplateState, LoadedExportersLeaveHalfTheExporterTableForLiveOnes) {
  const Exports e = exports();
  DecoderHarness sent;
  for (uint16_t port = 1; port <= 8; ++port) {
    sent.meta.exporter_port = port;
    decode_all(sent, e.v9_templates, false);
  }
  const std::vector<uint8_t> file = state_of(sent.templates, DecoderHarness::kReceiveNs);
  std::span<const uint8_t> body;
  ASSERT_EQ(decode::parse_template_state(file, body), StateStatus::kOk);
  decode::TemplateCacheLimits limits;
  limits.max_exporters = 8;
  DecoderHarness restarted(limits);
  StateLoadFigures f;
  decode::load_template_state(body, DecoderHarness::kReceiveNs, kHourNs, restarted.templates, f);
  EXPECT_EQ(restarted.templates.exporter_count(), 4u);
  EXPECT_EQ(f.templates, sent.templates.template_count() / 2);
  EXPECT_EQ(f.refused, sent.templates.template_count() / 2);
  // A live exporter still finds room.
  restarted.meta.exporter_port = 100;
  decode_all(restarted, e.v9_templates, false);
  EXPECT_EQ(restarted.templates.exporter_count(), 5u);
  EXPECT_EQ(restarted.counters.error(decode::DecodeStatus::kExporterLimit), 0u);
}

class TemplateStateFile : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    DecoderHarness h;
    decode_all(h, exports().v9_templates, false);
    good_ = state_of(h.templates, DecoderHarness::kReceiveNs);
    ASSERT_GT(good_.size(), decode::kTemplateStateHeaderBytes);
  }
  StateStatus parse(const std::vector<uint8_t>& file) const {
    std::span<const uint8_t> body;
    return decode::parse_template_state(file, body);
  }
  std::string path() const { return dir_.path() + "/templates.state"; }

  testing::TempDir dir_;
  std::vector<uint8_t> good_;
};

TEST_F(TemplateStateFile, ACorruptByteIsACheckedFailure) {
  std::vector<uint8_t> bad = good_;
  bad[bad.size() / 2 + decode::kTemplateStateHeaderBytes / 2] ^= 0x40;
  EXPECT_EQ(parse(bad), StateStatus::kBadChecksum);
}

TEST_F(TemplateStateFile, ATruncatedFileIsRefused) {
  std::vector<uint8_t> cut = good_;
  cut.resize(cut.size() - 3);
  EXPECT_EQ(parse(cut), StateStatus::kTruncated);
  cut.resize(10);
  EXPECT_EQ(parse(cut), StateStatus::kTruncated);
  EXPECT_EQ(parse({}), StateStatus::kTruncated);
}

TEST_F(TemplateStateFile, AnotherVersionOrAnotherFileIsRefused) {
  std::vector<uint8_t> other = good_;
  other[8] = decode::kTemplateStateVersion + 1;
  EXPECT_EQ(parse(other), StateStatus::kBadVersion);
  std::vector<uint8_t> text(good_.size(), 'x');
  EXPECT_EQ(parse(text), StateStatus::kBadMagic);
  std::vector<uint8_t> longer = good_;
  longer.push_back(0);
  EXPECT_EQ(parse(longer), StateStatus::kBadRecord);
}

TEST_F(TemplateStateFile, WritesAtomicallyAndReadsBack) {
  std::string error;
  ASSERT_TRUE(decode::probe_template_state_path(path(), error)) << error;
  EXPECT_EQ(decode::read_template_state_file(path(), good_), StateStatus::kMissing);
  DecoderHarness h;
  decode_all(h, exports().v9_templates, false);
  good_ = state_of(h.templates, DecoderHarness::kReceiveNs);
  ASSERT_TRUE(decode::write_template_state_file(path(), good_, error)) << error;
  std::vector<uint8_t> read;
  ASSERT_EQ(decode::read_template_state_file(path(), read), StateStatus::kOk);
  EXPECT_EQ(read, good_);
  EXPECT_FALSE(std::filesystem::exists(path() + ".tmp"));
}

TEST_F(TemplateStateFile, AFailedWriteLeavesTheOldFileIntact) {
  std::string error;
  ASSERT_TRUE(decode::write_template_state_file(path(), good_, error)) << error;
  // The temporary name is taken by a directory: the write fails before touching the file.
  std::filesystem::create_directory(path() + ".tmp");
  std::vector<uint8_t> other = good_;
  other[decode::kTemplateStateHeaderBytes] ^= 1;
  EXPECT_FALSE(decode::write_template_state_file(path(), other, error));
  EXPECT_NE(error.find(".tmp"), std::string::npos) << error;
  EXPECT_FALSE(decode::probe_template_state_path(path(), error));
  std::vector<uint8_t> read;
  ASSERT_EQ(decode::read_template_state_file(path(), read), StateStatus::kOk);
  EXPECT_EQ(read, good_);
  EXPECT_EQ(parse(read), StateStatus::kOk);
}

}  // namespace
}  // namespace flowgate
