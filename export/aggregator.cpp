#include "export/aggregator.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace flowgate::exporter {

using decode::FlowBlock;

uint64_t Aggregator::hash(const Key& k) noexcept {
  static_assert(sizeof(Key) % 8 == 0 && std::has_unique_object_representations_v<Key>);
  uint64_t w[sizeof(Key) / 8];
  std::memcpy(w, &k, sizeof(Key));
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (uint64_t x : w) {
    h ^= x;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  return h | 1;  // never 0
}

Aggregator::Aggregator(AggregatorConfig config)
    : config_(std::move(config)),
      rollup_(config_.port_rollup_threshold, config_.rollup_capacity) {
  config_.max_keys = std::max<uint32_t>(config_.max_keys, 1);
  entries_.resize(config_.max_keys);
  index_.assign(std::bit_ceil(config_.max_keys * 2), 0);
  index_hash_.assign(index_.size(), 0);
}

void Aggregator::add(const FlowBlock& b, uint64_t now_ms, decode::FlowOutput& out) noexcept {
  if (next_rotation_ms_ == 0) next_rotation_ms_ = now_ms + config_.rollup_refresh_ms;
  const size_t mask = index_.size() - 1;
  constexpr uint32_t kAhead = 8;  // records between a roll-up prefetch and its use
  for (uint32_t r = 0; r < b.size; ++r) {
    if (const uint32_t a = r + kAhead; a < b.size) {
      rollup_.prefetch(b.src_addr[a], b.dst_addr[a], b.src_port[a], b.dst_port[a]);
    }
    Key k{};
    k.exporter = b.exporter_addr[r];
    k.src = b.src_addr[r];
    k.dst = b.dst_addr[r];
    k.in_if = b.in_if[r];
    k.src_port = b.src_port[r];
    k.dst_port = b.dst_port[r];
    const uint16_t l = b.listener[r];
    k.ns = l < config_.listener_namespace.size() ? config_.listener_namespace[l] : 0;
    k.protocol = b.protocol[r];
    k.tos = b.tos[r];
    switch (rollup_.add(k.src, k.dst, k.src_port, k.dst_port)) {
      case EphemeralPort::kSource:
        k.src_port = 0;
        k.rollup = FlowBlock::kRollupSrcPort;
        break;
      case EphemeralPort::kDestination:
        k.dst_port = 0;
        k.rollup = FlowBlock::kRollupDstPort;
        break;
      case EphemeralPort::kNone: break;
    }

    const uint64_t h = hash(k);
    size_t i = h & mask;
    for (; index_[i] != 0; i = (i + 1) & mask) {
      if (index_hash_[i] == h && entries_[index_[i] - 1].key == k) break;
    }
    if (index_[i] != 0) {
      Entry& e = entries_[index_[i] - 1];
      e.bytes += b.bytes[r];
      e.packets += b.packets[r];
      e.start_ms = std::min(e.start_ms, b.start_ms[r]);
      e.end_ms = std::max(e.end_ms, b.end_ms[r]);
      e.tcp_flags |= b.tcp_flags[r];
      ++merged_;
      continue;
    }
    if (live_ == config_.max_keys) {
      emit_oldest(out);
      ++flushed_early_;
      // The removal may have shifted entries back: find the free bucket again.
      for (i = h & mask; index_[i] != 0; i = (i + 1) & mask) {
      }
    }
    const uint32_t slot = (head_ + live_) % config_.max_keys;
    Entry& e = entries_[slot];
    e.key = k;
    e.first_seen_ms = now_ms;
    e.bytes = b.bytes[r];
    e.packets = b.packets[r];
    e.start_ms = b.start_ms[r];
    e.end_ms = b.end_ms[r];
    e.src_mac = b.src_mac[r];
    e.dst_mac = b.dst_mac[r];
    e.next_hop = b.next_hop[r];
    e.out_if = b.out_if[r];
    e.sampling_rate = b.sampling_rate[r];
    e.observation_domain = b.observation_domain[r];
    e.sequence = b.sequence[r];
    e.src_as = b.src_as[r];
    e.dst_as = b.dst_as[r];
    e.exporter_port = b.exporter_port[r];
    e.ether_type = b.ether_type[r];
    e.vlan = b.vlan[r];
    e.listener = b.listener[r];
    e.tcp_flags = b.tcp_flags[r];
    e.src_mask = b.src_mask[r];
    e.dst_mask = b.dst_mask[r];
    e.direction = b.direction[r];
    e.flow_type = b.flow_type[r];
    index_[i] = slot + 1;
    index_hash_[i] = h;
    ++live_;
  }
}

void Aggregator::erase_index(uint32_t bucket) noexcept {
  // Backward-shift deletion keeps linear probing correct without tombstones.
  const size_t mask = index_.size() - 1;
  size_t i = bucket;
  index_[i] = 0;
  for (size_t j = (i + 1) & mask; index_[j] != 0; j = (j + 1) & mask) {
    const size_t home = index_hash_[j] & mask;
    const bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      index_[i] = index_[j];
      index_hash_[i] = index_hash_[j];
      index_[j] = 0;
      i = j;
    }
  }
}

void Aggregator::emit_oldest(decode::FlowOutput& out) noexcept {
  Entry& e = entries_[head_];
  const uint64_t h = hash(e.key);
  const size_t mask = index_.size() - 1;
  for (size_t i = h & mask; index_[i] != 0; i = (i + 1) & mask) {
    if (index_[i] == head_ + 1) {
      erase_index(static_cast<uint32_t>(i));
      break;
    }
  }
  const uint32_t r = out.next_row_uninit();
  if (r == decode::FlowOutput::kNoRow) {
    ++dropped_;
  } else {
    FlowBlock& b = *out.block();
    b.exporter_addr[r] = e.key.exporter;
    b.src_addr[r] = e.key.src;
    b.dst_addr[r] = e.key.dst;
    b.next_hop[r] = e.next_hop;
    b.bytes[r] = e.bytes;
    b.packets[r] = e.packets;
    b.start_ms[r] = e.start_ms;
    b.end_ms[r] = e.end_ms;
    b.src_mac[r] = e.src_mac;
    b.dst_mac[r] = e.dst_mac;
    b.in_if[r] = e.key.in_if;
    b.out_if[r] = e.out_if;
    b.sampling_rate[r] = e.sampling_rate;
    b.observation_domain[r] = e.observation_domain;
    b.sequence[r] = e.sequence;
    b.src_as[r] = e.src_as;
    b.dst_as[r] = e.dst_as;
    b.src_port[r] = e.key.src_port;  // 0 on a rolled-up side, which is written as "*"
    b.dst_port[r] = e.key.dst_port;
    b.exporter_port[r] = e.exporter_port;
    b.ether_type[r] = e.ether_type;
    b.vlan[r] = e.vlan;
    b.listener[r] = e.listener;
    b.protocol[r] = e.key.protocol;
    b.tos[r] = e.key.tos;
    b.tcp_flags[r] = e.tcp_flags;
    b.src_mask[r] = e.src_mask;
    b.dst_mask[r] = e.dst_mask;
    b.direction[r] = e.direction;
    b.flow_type[r] = e.flow_type;
    b.port_rollup[r] = e.key.rollup;
    ++flushed_;
  }
  head_ = (head_ + 1) % config_.max_keys;
  --live_;
}

void Aggregator::flush_due(uint64_t now_ms, decode::FlowOutput& out) noexcept {
  // Entries are in first-seen order, and all wait the same interval: the due ones are a prefix.
  while (live_ > 0 && entries_[head_].first_seen_ms + config_.flush_interval_ms <= now_ms) {
    emit_oldest(out);
  }
  if (next_rotation_ms_ != 0 && now_ms >= next_rotation_ms_) {
    rollup_.rotate();
    next_rotation_ms_ = now_ms + config_.rollup_refresh_ms;
  }
}

void Aggregator::flush_all(decode::FlowOutput& out) noexcept {
  while (live_ > 0) emit_oldest(out);
}

}  // namespace flowgate::exporter
