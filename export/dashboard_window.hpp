#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "decode/flow_block.hpp"
#include "decode/ip_address.hpp"

namespace flowgate::exporter {

// The dashboard's memory: what the record pipeline wrote (after aggregation) in the last few
// minutes, one bucket per wall-clock minute of writing, with bounded maps per dimension (keys
// past the bound are summed into an "other" entry). The exporter thread adds blocks; the
// metrics thread asks for a summary. One mutex, taken once per block and per request.
class DashboardWindow {
 public:
  struct Totals {
    uint64_t bytes = 0;
    uint64_t packets = 0;
    uint64_t records = 0;
    void add(uint64_t b, uint64_t p) noexcept {
      bytes += b;
      packets += p;
      ++records;
    }
    void add(const Totals& o) noexcept {
      bytes += o.bytes;
      packets += o.packets;
      records += o.records;
    }
  };
  struct Entry {
    std::string label;   // an address, a port, a protocol or flow type name; "other"
    std::string device;  // the exporter, for address entries
    Totals totals;
  };
  struct Point {
    uint64_t minute_ms = 0;  // start of the minute, ms since the Unix epoch
    Totals totals;
  };
  struct Summary {
    uint32_t minutes = 0;
    Totals total;
    std::vector<Point> series;  // oldest first, one per minute of the window
    std::vector<Entry> sources, destinations, source_ports, destination_ports, protocols,
        flow_types;
  };

  explicit DashboardWindow(uint32_t minutes = 15, uint32_t max_keys = 1024);

  void add(const decode::FlowBlock& block, uint64_t now_ms);
  // The last `minutes_` minutes up to now_ms; `top` entries per dimension by bytes.
  Summary summary(uint64_t now_ms, uint32_t top) const;

 private:
  struct Endpoint {
    decode::IpAddress address;
    decode::IpAddress device;
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
  };
  struct EndpointHash {
    size_t operator()(const Endpoint& e) const noexcept;
  };
  template <typename Map>
  struct Bounded {
    Map map;
    Totals other;
  };
  struct Bucket {
    uint64_t minute = UINT64_MAX;  // minutes since the epoch; UINT64_MAX: unused
    Totals total;
    Bounded<std::unordered_map<Endpoint, Totals, EndpointHash>> sources, destinations;
    Bounded<std::unordered_map<uint32_t, Totals>> source_ports, destination_ports;
    std::array<Totals, 256> protocols{};
    std::array<Totals, 8> flow_types{};
    void reset(uint64_t m);
  };

  uint32_t minutes_;
  uint32_t max_keys_;
  mutable std::mutex mutex_;
  std::vector<Bucket> buckets_;
};

}  // namespace flowgate::exporter
