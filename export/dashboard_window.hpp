#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
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
    void add(uint64_t b, uint64_t p, uint64_t r = 1) noexcept {
      bytes += b;
      packets += p;
      records += r;
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

  // Totals, protocol mix and flow types count every record. The top-N tables do too up to
  // kExactPerSecond records a second; above that they take one record in kSampleStride,
  // weighted by kSampleStride, so that a busy exporter thread spends its time on the outputs
  // (heavy hitters, which is what the panels show, survive sampling).
  static constexpr uint64_t kExactPerSecond = 100'000;
  static constexpr uint32_t kSampleStride = 8;  // the sampler takes the LCG's top 3 bits
  void add(const decode::FlowBlock& block, uint64_t now_ms);
  // The last `minutes_` minutes up to now_ms; `top` entries per dimension by bytes.
  Summary summary(uint64_t now_ms, uint32_t top) const;

 private:
  struct Endpoint {
    decode::IpAddress address;
    decode::IpAddress device;
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
  };
  // A fixed-capacity open-addressing table of Totals (a record costs a hash and a probe or
  // two, no allocation); keys past the capacity go to `other`.
  template <typename Key>
  class Table {
   public:
    explicit Table(uint32_t capacity);
    void add(const Key& key, uint64_t hash, uint64_t bytes, uint64_t packets,
             uint64_t records = 1) noexcept;
    void clear() noexcept;
    template <typename Fn>
    void for_each(Fn&& fn) const {
      for (size_t i = 0; i < used_.size(); ++i) {
        if (used_[i] != 0) fn(keys_[i], totals_[i]);
      }
    }
    const Totals& other() const noexcept { return other_; }

   private:
    std::vector<Key> keys_;
    std::vector<Totals> totals_;
    std::vector<uint8_t> used_;
    uint32_t size_ = 0;
    uint32_t capacity_;
    Totals other_;
  };
  struct Bucket {
    explicit Bucket(uint32_t max_keys)
        : sources(max_keys), destinations(max_keys), source_ports(max_keys),
          destination_ports(max_keys) {}
    uint64_t minute = UINT64_MAX;  // minutes since the epoch; UINT64_MAX: unused
    Totals total;
    Table<Endpoint> sources, destinations;
    Table<uint32_t> source_ports, destination_ports;
    std::array<Totals, 256> protocols{};
    std::array<Totals, 8> flow_types{};
    void reset(uint64_t m) noexcept;
  };

  uint32_t minutes_;
  uint32_t max_keys_;
  uint64_t second_ = 0;            // the wall-clock second records are being counted in
  uint64_t records_this_second_ = 0;
  uint64_t sample_state_ = 0x853c49e6748fea9bull;
  mutable std::mutex mutex_;
  std::vector<Bucket> buckets_;
};

}  // namespace flowgate::exporter
