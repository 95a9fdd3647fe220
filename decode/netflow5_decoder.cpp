#include "decode/netflow5_decoder.hpp"

#include "decode/byte_order.hpp"

namespace flowgate::decode {
namespace {

constexpr size_t kHeaderLength = 24;
constexpr size_t kRecordLength = 48;
constexpr uint16_t kMaxRecords = 30;

}  // namespace

DecodeStatus decode_netflow5(Bytes datagram, const DatagramMeta& meta, FlowOutput& out,
                             DecodeCounters& counters) noexcept {
  ++counters.datagrams;
  const auto* d = reinterpret_cast<const uint8_t*>(datagram.data());
  const size_t size = datagram.size();
  if (size < kHeaderLength) return counters.count(DecodeStatus::kTruncated);
  if (load_be16(d) != 5) return counters.count(DecodeStatus::kBadVersion);
  const uint16_t count = load_be16(d + 2);
  if (count == 0 || count > kMaxRecords) return counters.count(DecodeStatus::kBadCount);
  if (size < kHeaderLength + count * kRecordLength) return counters.count(DecodeStatus::kTruncated);

  const uint32_t uptime = load_be32(d + 4);
  const uint32_t unix_secs = load_be32(d + 8);
  const uint32_t unix_nsecs = load_be32(d + 12);
  const uint32_t sequence = load_be32(d + 16);
  const uint8_t engine_type = d[20];
  const uint8_t engine_id = d[21];
  // Top 2 bits: sampling mode, low 14 bits: the interval (0 = not sampled).
  const uint16_t sampling = load_be16(d + 22);
  const uint32_t rate = sampling & 0x3fff;
  const uint64_t export_ms = uint64_t{unix_secs} * 1000 + unix_nsecs / 1'000'000;

  const uint8_t* r = d + kHeaderLength;
  for (uint16_t i = 0; i < count; ++i, r += kRecordLength) {
    const uint32_t row = out.next_row_uninit();  // every column is written below
    if (row == FlowOutput::kNoRow) {
      counters.block_unavailable += count - i;
      break;
    }
    FlowBlock& b = *out.block();
    b.src_addr[row] = IpAddress::from_v4_bytes(r);
    b.dst_addr[row] = IpAddress::from_v4_bytes(r + 4);
    b.next_hop[row] = IpAddress::from_v4_bytes(r + 8);
    b.in_if[row] = load_be16(r + 12);
    b.out_if[row] = load_be16(r + 14);
    b.packets[row] = load_be32(r + 16);
    b.bytes[row] = load_be32(r + 20);
    // First/Last are sysUptime at the flow's first and last packet; the signed 32-bit
    // difference to the header's uptime survives the 49.7-day wrap.
    const auto first_age = static_cast<int32_t>(uptime - load_be32(r + 24));
    const auto last_age = static_cast<int32_t>(uptime - load_be32(r + 28));
    b.start_ms[row] = static_cast<uint64_t>(static_cast<int64_t>(export_ms) - first_age);
    b.end_ms[row] = static_cast<uint64_t>(static_cast<int64_t>(export_ms) - last_age);
    b.src_port[row] = load_be16(r + 32);
    b.dst_port[row] = load_be16(r + 34);
    b.tcp_flags[row] = r[37];
    b.protocol[row] = r[38];
    b.tos[row] = r[39];
    b.src_as[row] = load_be16(r + 40);
    b.dst_as[row] = load_be16(r + 42);
    b.src_mask[row] = r[44];
    b.dst_mask[row] = r[45];
    b.src_mac[row] = 0;
    b.dst_mac[row] = 0;
    b.vlan[row] = 0;
    b.port_rollup[row] = 0;
    b.direction[row] = Direction::kIngress;
    b.ether_type[row] = 0x0800;
    b.sampling_rate[row] = rate;
    b.exporter_addr[row] = meta.exporter;
    b.exporter_port[row] = meta.exporter_port;
    b.listener[row] = meta.listener;
    b.observation_domain[row] = (uint32_t{engine_type} << 8) | engine_id;
    b.sequence[row] = sequence;
    b.flow_type[row] = FlowType::kNetflow5;
    ++counters.records;
  }
  return DecodeStatus::kOk;
}

}  // namespace flowgate::decode
