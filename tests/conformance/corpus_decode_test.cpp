// Every capture and payload of the conformance corpus decodes without a fault, except the
// inputs the corpus READMEs describe as deliberately broken, which fail with the right reason.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/pcap_source.hpp"
#include "decode/datagram_decoder.hpp"
#include "decode/interface_counter_store.hpp"
#include "tests/support/collecting_output.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/datagram_split.hpp"

namespace flowgate {
namespace {

namespace fs = std::filesystem;
using decode::DecodeStatus;

// Deliberately broken inputs (corpus READMEs) and the status each must produce.
const std::map<std::string, DecodeStatus>& broken() {
  static const std::map<std::string, DecodeStatus> m = {
      // logstash negative tests: a v5 header whose count disagrees with the datagram.
      {"netflow5_test_invalid01.dat", DecodeStatus::kBadCount},
      {"netflow5_test_invalid02.dat", DecodeStatus::kBadCount},
      // vflow: header length 1366 but only 214 bytes ("truncated on purpose").
      {"ipfix__init_unknownDatasetMessage_L118.bin", DecodeStatus::kBadLength},
      // vflow: a message whose sets do not add up to its length (tshark flags it malformed);
      // the first fault in it is a template record that runs past its set.
      {"ipfix__init_multiMessage_L58.bin", DecodeStatus::kBadTemplate},
  };
  return m;
}

struct CorpusRun {
  decode::TemplateCache templates;
  decode::InterfaceCounterStore interface_counters;
  decode::DecodeCounters counters;
  testing::CollectingOutput out;

  DecodeStatus decode(std::span<const uint8_t> bytes) {
    decode::DatagramMeta meta;
    meta.exporter = decode::IpAddress::from_v4(0xc0000201);
    meta.exporter_port = 4444;
    return decode::decode_datagram(std::as_bytes(bytes), meta, templates, out.output(), counters,
                                   &interface_counters);
  }
};

void check_payload_file(CorpusRun& run, const fs::path& file) {
  const std::vector<uint8_t> bytes = testing::read_file(file);
  ASSERT_FALSE(bytes.empty()) << file;
  const auto it = broken().find(file.filename().string());
  for (std::span<const uint8_t> dg : testing::split_datagrams(bytes)) {
    const DecodeStatus s = run.decode(dg);
    if (it != broken().end()) {
      EXPECT_EQ(s, it->second) << file;
    } else {
      EXPECT_EQ(s, DecodeStatus::kOk) << file << ": " << decode::decode_status_name(s);
    }
  }
}

// Payload files in an order that sends templates before data: within a directory, names
// sorted, with template files ("tpl") first.
std::vector<fs::path> payload_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".dat" || ext == ".bin") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    const bool ta = a.filename().string().find("tpl") != std::string::npos ||
                    a.filename().string().find("template") != std::string::npos;
    const bool tb = b.filename().string().find("tpl") != std::string::npos ||
                    b.filename().string().find("template") != std::string::npos;
    return ta != tb ? ta : a < b;
  });
  return files;
}

TEST(CorpusDecode, EveryPayloadFileDecodes) {
  size_t files = 0;
  for (const char* dir : {"logstash-codec-netflow/dat", "graylog-plugin-netflow/netflow-data",
                          "goflow2/bin", "vflow/bin"}) {
    CorpusRun run;
    for (const fs::path& f : payload_files(testing::corpus_dir() / dir)) {
      check_payload_file(run, f);
      ++files;
    }
    EXPECT_GT(run.counters.records, 0u) << dir;
  }
  EXPECT_EQ(files, 92u + 7u + 7u + 9u);
}

TEST(CorpusDecode, EveryCaptureDecodes) {
  size_t captures = 0;
  for (const auto& e : fs::recursive_directory_iterator(testing::corpus_dir())) {
    if (e.path().extension() != ".pcap") continue;
    SCOPED_TRACE(e.path().string());
    CorpusRun run;
    dataplane::PcapSource src;
    ASSERT_EQ(src.open(e.path().string()), dataplane::PcapStatus::kOk) << src.error();
    uint64_t datagrams = 0;
    const auto s = src.run([&](const dataplane::UdpDatagram& d) {
      ++datagrams;
      decode::DatagramMeta meta = d.meta(0);
      const DecodeStatus st = decode::decode_datagram(d.payload, meta, run.templates,
                                                      run.out.output(), run.counters,
                                                      &run.interface_counters);
      EXPECT_EQ(st, DecodeStatus::kOk) << decode::decode_status_name(st);
    });
    EXPECT_EQ(s, dataplane::PcapStatus::kOk);
    EXPECT_GT(datagrams, 0u);
    EXPECT_EQ(run.counters.datagrams, datagrams);  // every UDP datagram in the corpus is an export
    EXPECT_EQ(run.counters.total_errors(), 0u);
    ++captures;
  }
  EXPECT_EQ(captures, 30u);
}

}  // namespace
}  // namespace flowgate
