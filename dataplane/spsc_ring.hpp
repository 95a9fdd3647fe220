#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace flowgate::dataplane {

// A bounded single-producer single-consumer ring (Seastar's smp queue, DPDK's rte_ring in SP/SC
// mode): the producer owns head_, the consumer owns tail_, each on its own cache line, and each
// side caches the other's index so that most operations touch no shared line. try_push never
// blocks: a full ring is the caller's counted drop.
template <typename T>
class SpscRing {
 public:
  explicit SpscRing(size_t capacity)
      : slots_(std::bit_ceil(capacity < 2 ? size_t{2} : capacity)), mask_(slots_.size() - 1) {}

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // Producer side.
  bool try_push(T value) noexcept {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head - cached_tail_ == slots_.size()) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head - cached_tail_ == slots_.size()) return false;
    }
    slots_[head & mask_] = value;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer side.
  bool try_pop(T& value) noexcept {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == cached_head_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail == cached_head_) return false;
    }
    value = slots_[tail & mask_];
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Approximate: exact only when called by the producer or consumer while the other is idle.
  size_t size() const noexcept {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }
  size_t capacity() const noexcept { return slots_.size(); }

 private:
  static constexpr size_t kLine = 64;

  std::vector<T> slots_;
  const size_t mask_;
  alignas(kLine) std::atomic<size_t> head_{0};  // written by the producer
  size_t cached_tail_ = 0;                       // producer's view of tail_
  alignas(kLine) std::atomic<size_t> tail_{0};  // written by the consumer
  size_t cached_head_ = 0;                       // consumer's view of head_
};

}  // namespace flowgate::dataplane
