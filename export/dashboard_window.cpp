#include "export/dashboard_window.hpp"

#include <algorithm>
#include <tuple>

#include "decode/hash.hpp"
#include "export/ip_protocol_names.hpp"
#include "export/text_format.hpp"

namespace flowgate::exporter {
namespace {

constexpr uint64_t kMinuteMs = 60'000;
constexpr uint32_t kRolledUpPort = 65536;  // port roll-up's "*"

template <typename Map, typename Key>
void add_bounded(Map& map, typename Map::mapped_type& other, const Key& key, uint32_t max_keys,
                 uint64_t bytes, uint64_t packets) {
  auto it = map.find(key);
  if (it == map.end()) {
    if (map.size() >= max_keys) {
      other.add(bytes, packets);
      return;
    }
    it = map.emplace(key, typename Map::mapped_type{}).first;
  }
  it->second.add(bytes, packets);
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

size_t DashboardWindow::EndpointHash::operator()(const Endpoint& e) const noexcept {
  return static_cast<size_t>(decode::hash_address(e.address, decode::hash_address(e.device, 0)));
}

void DashboardWindow::Bucket::reset(uint64_t m) {
  minute = m;
  total = {};
  sources.map.clear();
  sources.other = {};
  destinations.map.clear();
  destinations.other = {};
  source_ports.map.clear();
  source_ports.other = {};
  destination_ports.map.clear();
  destination_ports.other = {};
  protocols.fill({});
  flow_types.fill({});
}

DashboardWindow::DashboardWindow(uint32_t minutes, uint32_t max_keys)
    : minutes_(std::max<uint32_t>(minutes, 1)),
      max_keys_(std::max<uint32_t>(max_keys, 1)),
      buckets_(minutes_) {}

void DashboardWindow::add(const decode::FlowBlock& b, uint64_t now_ms) {
  const uint64_t minute = now_ms / kMinuteMs;
  const std::lock_guard<std::mutex> lock(mutex_);
  Bucket& k = buckets_[minute % minutes_];
  if (k.minute != minute) k.reset(minute);
  for (uint32_t r = 0; r < b.size; ++r) {
    const uint64_t bytes = b.bytes[r];
    const uint64_t packets = b.packets[r];
    k.total.add(bytes, packets);
    add_bounded(k.sources.map, k.sources.other, Endpoint{b.src_addr[r], b.exporter_addr[r]},
                max_keys_, bytes, packets);
    add_bounded(k.destinations.map, k.destinations.other,
                Endpoint{b.dst_addr[r], b.exporter_addr[r]}, max_keys_, bytes, packets);
    const uint32_t sp = (b.port_rollup[r] & decode::FlowBlock::kRollupSrcPort) != 0
                            ? kRolledUpPort
                            : b.src_port[r];
    const uint32_t dp = (b.port_rollup[r] & decode::FlowBlock::kRollupDstPort) != 0
                            ? kRolledUpPort
                            : b.dst_port[r];
    add_bounded(k.source_ports.map, k.source_ports.other, sp, max_keys_, bytes, packets);
    add_bounded(k.destination_ports.map, k.destination_ports.other, dp, max_keys_, bytes,
                packets);
    k.protocols[b.protocol[r]].add(bytes, packets);
    k.flow_types[static_cast<size_t>(b.flow_type[r]) % k.flow_types.size()].add(bytes, packets);
  }
}

DashboardWindow::Summary DashboardWindow::summary(uint64_t now_ms, uint32_t top) const {
  const uint64_t now_minute = now_ms / kMinuteMs;
  const uint64_t first = now_minute + 1 >= minutes_ ? now_minute + 1 - minutes_ : 0;
  Summary s;
  s.minutes = minutes_;
  std::unordered_map<Endpoint, Totals, EndpointHash> sources, destinations;
  std::unordered_map<uint32_t, Totals> source_ports, destination_ports;
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
      for (const auto& [key, t] : k.sources.map) sources[key].add(t);
      for (const auto& [key, t] : k.destinations.map) destinations[key].add(t);
      for (const auto& [key, t] : k.source_ports.map) source_ports[key].add(t);
      for (const auto& [key, t] : k.destination_ports.map) destination_ports[key].add(t);
      other_src.add(k.sources.other);
      other_dst.add(k.destinations.other);
      other_sp.add(k.source_ports.other);
      other_dp.add(k.destination_ports.other);
      for (size_t i = 0; i < protocols.size(); ++i) protocols[i].add(k.protocols[i]);
      for (size_t i = 0; i < flow_types.size(); ++i) flow_types[i].add(k.flow_types[i]);
    }
  }
  auto endpoints = [&](const auto& map, const Totals& other) {
    std::vector<Entry> all;
    all.reserve(map.size());
    for (const auto& [key, t] : map) all.push_back({ip_text(key.address), ip_text(key.device), t});
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
