#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace flowgate::dataplane {

// How the exporter thread sleeps until the workers have work for it, instead of waking every
// millisecond or so to look. A wake-up costs a VM ~30-40 us of CPU (a sleeping vCPU halts and
// is woken by the host), so one per burst of blocks rather than one per millisecond is most of
// an idle or lightly loaded collector's CPU.
//
// The sleeper announces itself, then checks for work, then sleeps on a futex word; a producer
// publishes its work, then takes the announcement back and, if there was one, bumps the word and
// wakes the sleeper. Both sides exchange the same flag (a read-modify-write, acquire and
// release), so one of the two exchanges comes first: if the sleeper's, the producer reads its
// announcement and wakes it (a futex wait that has not started yet returns at once, the word
// having changed since it was read); if the producer's, the sleeper's exchange reads what it
// wrote, so the work published before it is visible to the sleeper's check. Producers ring per
// block handed over, never per packet: one locked instruction when nobody sleeps, and a
// syscall when somebody does.
class Doorbell {
 public:
  // Exporter side: returns once `ready()` is true after the sleeper announced itself, a producer
  // rang, `timeout_ns` passed, or a signal arrived.
  template <typename Ready>
  void wait(uint64_t timeout_ns, Ready ready) noexcept {
    const uint32_t seen = word_.load(std::memory_order_acquire);
    sleeping_.exchange(true, std::memory_order_acq_rel);
    if (!ready()) {
      const timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000),
                             static_cast<long>(timeout_ns % 1'000'000'000)};
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAIT_PRIVATE, seen, &timeout,
              nullptr, 0);
    }
    sleeping_.store(false, std::memory_order_relaxed);
  }

  // Producer side, after the work is published: wakes the sleeper if there is one.
  void ring() noexcept {
    if (!sleeping_.exchange(false, std::memory_order_acq_rel)) return;
    word_.fetch_add(1, std::memory_order_release);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
    wakes_.fetch_add(1, std::memory_order_relaxed);
  }

  // Whether the exporter side has announced a sleep it has not returned from.
  bool sleeping() const noexcept { return sleeping_.load(std::memory_order_relaxed); }
  // Times a producer found the sleeper and woke it.
  uint64_t wakes() const noexcept { return wakes_.load(std::memory_order_relaxed); }

 private:
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                std::atomic<uint32_t>::is_always_lock_free);
  std::atomic<uint32_t> word_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<uint64_t> wakes_{0};
};

}  // namespace flowgate::dataplane
