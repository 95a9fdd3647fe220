#include "export/dashboard_window.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <tuple>

#include "decode/hash.hpp"
#include "export/ip_protocol_names.hpp"
#include "export/text_format.hpp"

namespace flowgate::exporter {
namespace {

constexpr uint64_t kMinuteMs = 60'000;
constexpr uint32_t kRolledUpPort = 65536;  // port roll-up's "*"

// One mix of an (address, device) pair: cheaper than hashing both addresses in full, and the
// device's low half (all of an IPv4 one) is what tells devices apart.
uint64_t endpoint_hash(const decode::IpAddress& a, const decode::IpAddress& device) noexcept {
  uint64_t w[2];
  uint64_t d[2];
  std::memcpy(w, a.bytes.data(), 16);
  std::memcpy(d, device.bytes.data(), 16);
  return decode::mix64(w[0] ^ std::rotl(w[1], 17) ^ std::rotl(d[1], 41));
}

std::string ip_text(const decode::IpAddress& a) {
  std::string s;
  append_ip(s, a, AddressFamily::kIpv4);
  return s;
}

// The `top` largest entries by bytes (then records, then label, so the order is stable), and
// the rest summed into one "other" entry.
std::vector<DashboardWindow::Entry> top_of(std::vector<DashboardWindow::Entry> all,
                                           const DashboardWindow::Totals& other, uint32_t top) {
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    if (a.totals.bytes != b.totals.bytes) return a.totals.bytes > b.totals.bytes;
    if (a.totals.records != b.totals.records) return a.totals.records > b.totals.records;
    return std::tie(a.label, a.device) < std::tie(b.label, b.device);
  });
  DashboardWindow::Entry rest{"other", "", other};
  if (all.size() > top) {
    for (size_t i = top; i < all.size(); ++i) rest.totals.add(all[i].totals);
    all.resize(top);
  }
  if (rest.totals.records > 0) all.push_back(std::move(rest));
  return all;
}

}  // namespace

template <typename Key>
DashboardWindow::Table<Key>::Table(uint32_t capacity) : capacity_(capacity) {
  // At most half full, so probes stay short and always end at a free slot.
  const size_t slots = std::bit_ceil(std::max<size_t>(size_t{capacity} * 2, 8));
  keys_.resize(slots);
  totals_.resize(slots);
  used_.assign(slots, 0);
}

template <typename Key>
void DashboardWindow::Table<Key>::add(const Key& key, uint64_t hash, uint64_t bytes,
                                      uint64_t packets, uint64_t records) noexcept {
  const size_t mask = used_.size() - 1;
  for (size_t i = static_cast<size_t>(hash) & mask;; i = (i + 1) & mask) {
    if (used_[i] == 0) {
      if (size_ == capacity_) {
        other_.add(bytes, packets, records);
        return;
      }
      used_[i] = 1;
      keys_[i] = key;
      totals_[i] = {};
      totals_[i].add(bytes, packets, records);
      ++size_;
      return;
    }
    if (keys_[i] == key) {
      totals_[i].add(bytes, packets, records);
      return;
    }
  }
}

template <typename Key>
void DashboardWindow::Table<Key>::clear() noexcept {
  if (size_ > 0) std::fill(used_.begin(), used_.end(), 0);
  size_ = 0;
  other_ = {};
}

void DashboardWindow::Bucket::reset(uint64_t m) noexcept {
  minute = m;
  total = {};
  sources.clear();
  destinations.clear();
  source_ports.clear();
  destination_ports.clear();
  protocols.fill({});
  flow_types.fill({});
}

DashboardWindow::DashboardWindow(uint32_t minutes, uint32_t max_keys)
    : minutes_(std::max<uint32_t>(minutes, 1)), max_keys_(std::max<uint32_t>(max_keys, 1)) {
  buckets_.reserve(minutes_);
  for (uint32_t i = 0; i < minutes_; ++i) buckets_.emplace_back(max_keys_);
}

void DashboardWindow::add(const decode::FlowBlock& b, uint64_t now_ms) {
  const uint64_t minute = now_ms / kMinuteMs;
  if (now_ms / 1000 != second_) {
    second_ = now_ms / 1000;
    records_this_second_ = 0;
  }
  const uint32_t stride = records_this_second_ < kExactPerSecond ? 1 : kSampleStride;
  records_this_second_ += b.size;
  const std::lock_guard<std::mutex> lock(mutex_);
  Bucket& k = buckets_[minute % minutes_];
  if (k.minute != minute) k.reset(minute);
  for (uint32_t r = 0; r < b.size; ++r) {
    const uint64_t bytes = b.bytes[r];
    const uint64_t packets = b.packets[r];
    k.total.add(bytes, packets);
    k.protocols[b.protocol[r]].add(bytes, packets);
    k.flow_types[static_cast<size_t>(b.flow_type[r]) % k.flow_types.size()].add(bytes, packets);
  }
  for (uint32_t r = 0; r < b.size; ++r) {
    if (stride != 1) {
      // A random one in kSampleStride (an LCG's top bits): a fixed stride would alias with
      // the period of records within an exporter's datagrams.
      sample_state_ = sample_state_ * 6364136223846793005ull + 1442695040888963407ull;
      if ((sample_state_ >> 61) != 0) continue;
    }
    const uint64_t bytes = b.bytes[r] * stride;
    const uint64_t packets = b.packets[r] * stride;
    k.sources.add(Endpoint{b.src_addr[r], b.exporter_addr[r]},
                  endpoint_hash(b.src_addr[r], b.exporter_addr[r]), bytes, packets, stride);
    k.destinations.add(Endpoint{b.dst_addr[r], b.exporter_addr[r]},
                       endpoint_hash(b.dst_addr[r], b.exporter_addr[r]), bytes, packets, stride);
    const uint32_t sp = (b.port_rollup[r] & decode::FlowBlock::kRollupSrcPort) != 0
                            ? kRolledUpPort
                            : b.src_port[r];
    const uint32_t dp = (b.port_rollup[r] & decode::FlowBlock::kRollupDstPort) != 0
                            ? kRolledUpPort
                            : b.dst_port[r];
    // Fibonacci hashing: ports are small integers, a multiply spreads them.
    k.source_ports.add(sp, (sp * 0x9e3779b97f4a7c15ull) >> 32, bytes, packets, stride);
    k.destination_ports.add(dp, (dp * 0x9e3779b97f4a7c15ull) >> 32, bytes, packets, stride);
  }
}

DashboardWindow::Summary DashboardWindow::summary(uint64_t now_ms, uint32_t top) const {
  const uint64_t now_minute = now_ms / kMinuteMs;
  const uint64_t first = now_minute + 1 >= minutes_ ? now_minute + 1 - minutes_ : 0;
  Summary s;
  s.minutes = minutes_;
  // Merged over the minutes: std::map keeps this off the per-record path simple.
  std::map<std::pair<std::string, std::string>, Totals> sources, destinations;
  std::map<uint32_t, Totals> source_ports, destination_ports;
  std::array<Totals, 256> protocols{};
  std::array<Totals, 8> flow_types{};
  Totals other_src, other_dst, other_sp, other_dp;
  for (uint64_t m = first; m <= now_minute; ++m) s.series.push_back({m * kMinuteMs, {}});
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (const Bucket& k : buckets_) {
      if (k.minute == UINT64_MAX || k.minute < first || k.minute > now_minute) continue;
      s.series[k.minute - first].totals = k.total;
      s.total.add(k.total);
      k.sources.for_each([&](const Endpoint& e, const Totals& t) {
        sources[{ip_text(e.address), ip_text(e.device)}].add(t);
      });
      k.destinations.for_each([&](const Endpoint& e, const Totals& t) {
        destinations[{ip_text(e.address), ip_text(e.device)}].add(t);
      });
      k.source_ports.for_each([&](uint32_t p, const Totals& t) { source_ports[p].add(t); });
      k.destination_ports.for_each([&](uint32_t p, const Totals& t) {
        destination_ports[p].add(t);
      });
      other_src.add(k.sources.other());
      other_dst.add(k.destinations.other());
      other_sp.add(k.source_ports.other());
      other_dp.add(k.destination_ports.other());
      for (size_t i = 0; i < protocols.size(); ++i) protocols[i].add(k.protocols[i]);
      for (size_t i = 0; i < flow_types.size(); ++i) flow_types[i].add(k.flow_types[i]);
    }
  }
  auto endpoints = [&](const auto& map, const Totals& other) {
    std::vector<Entry> all;
    all.reserve(map.size());
    for (const auto& [key, t] : map) all.push_back({key.first, key.second, t});
    return top_of(std::move(all), other, top);
  };
  auto ports = [&](const auto& map, const Totals& other) {
    std::vector<Entry> all;
    all.reserve(map.size());
    for (const auto& [key, t] : map) {
      all.push_back({key == kRolledUpPort ? "*" : std::to_string(key), "", t});
    }
    return top_of(std::move(all), other, top);
  };
  s.sources = endpoints(sources, other_src);
  s.destinations = endpoints(destinations, other_dst);
  s.source_ports = ports(source_ports, other_sp);
  s.destination_ports = ports(destination_ports, other_dp);
  std::vector<Entry> all;
  for (size_t i = 0; i < protocols.size(); ++i) {
    if (protocols[i].records > 0) {
      all.push_back({std::string(ip_protocol_name(static_cast<uint8_t>(i))), "", protocols[i]});
    }
  }
  s.protocols = top_of(std::move(all), {}, top);
  all.clear();
  for (size_t i = 0; i < flow_types.size(); ++i) {
    if (flow_types[i].records > 0) {
      all.push_back({std::string(decode::flow_type_name(static_cast<decode::FlowType>(i))), "",
                     flow_types[i]});
    }
  }
  s.flow_types = top_of(std::move(all), {}, top);
  return s;
}

}  // namespace flowgate::exporter
