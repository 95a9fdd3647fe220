#include "export/log_point_encoder.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/reference_flow.hpp"

namespace flowgate::exporter {
namespace {

using decode::FlowBlock;
using decode::IpAddress;


TEST(LogPointEncoder, WritesDatakitsLogPointInLineProtocol) {
  EncoderConfig json{"collector-1", "namespace", {{"site", "par 1"}}};
  LogPointEncoder enc(json, "netflow", "192.0.2.7");
  auto b = testing::reference_flow();
  std::string out;
  std::string scratch;
  enc.encode(*b, 0, 1692077978547, out, scratch);

  const std::string prefix = "netflow,host=collector-1,ip=192.0.2.7,site=par\\ 1 message=\"{";
  ASSERT_EQ(out.compare(0, prefix.size(), prefix), 0) << out;
  // The message is the JSON record with its quotes escaped.
  EXPECT_NE(out.find("\\\"type\\\":\\\"netflow5\\\""), std::string::npos) << out;
  const std::string fields =
      "\",status=\"OK\",bytes=668i,dest_ip=\"152.222.36.168\",dest_port=\"424\","
      "device_ip=\"10.200.14.142\",ip_protocol=\"TCP\",source_ip=\"130.240.103.204\","
      "source_port=\"4627\",type=\"netflow5\" 1692077978547000000\n";
  ASSERT_GE(out.size(), fields.size());
  EXPECT_EQ(out.substr(out.size() - fields.size()), fields) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1);  // one line
}

TEST(LogPointEncoder, RolledUpPortsAreStars) {
  LogPointEncoder enc(EncoderConfig{"h", "namespace", {}}, "netflow", "127.0.0.1");
  auto b = testing::reference_flow();
  b->port_rollup[0] = FlowBlock::kRollupSrcPort;
  std::string out;
  std::string scratch;
  enc.encode(*b, 0, 1, out, scratch);
  EXPECT_NE(out.find("source_port=\"*\""), std::string::npos) << out;
  EXPECT_NE(out.find("dest_port=\"424\""), std::string::npos) << out;
}

TEST(LogPointEncoder, EscapesMeasurementAndTags) {
  EncoderConfig json{"my host", "namespace", {{"k=1", "a,b"}}};
  LogPointEncoder enc(json, "net flow", "::1");
  auto b = testing::reference_flow();
  std::string out;
  std::string scratch;
  enc.encode(*b, 0, 1, out, scratch);
  EXPECT_EQ(out.rfind("net\\ flow,host=my\\ host,ip=::1,k\\=1=a\\,b message=", 0), 0u) << out;
}

}  // namespace
}  // namespace flowgate::exporter
