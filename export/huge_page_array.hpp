#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace flowgate::exporter {

// A fixed-size, zero-filled array for the exporter's large hash tables (aggregation index and
// records, port roll-up trackers). They are read at random, one record at a time, and are many
// megabytes: on 4 KiB pages nearly every probe also misses the TLB and waits on a page walk,
// which cost more than the cache miss itself (perf put 40 % of the aggregator's time on the
// prefetch instructions alone). The memory is mapped anonymously and advised to the kernel as
// transparent huge pages (Debian's default THP mode is "madvise"), so one TLB entry covers
// 2 MiB. The whole table is faulted in when it is made (start-up): its memory is resident
// from the start, where an operator sees it, and the first traffic does not stall the exporter
// on page faults (a 4M-key table faulted in by its first records held the exporter long
// enough for the socket to drop datagrams).
template <typename T>
class HugePageArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "rows are zero bytes when mapped and are never destroyed");

 public:
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageArray() = default;
  // What an array of `count` rows reserves (whole huge pages).
  static constexpr size_t bytes_for(size_t count) noexcept {
    return (count * sizeof(T) + kHugePage - 1) / kHugePage * kHugePage;
  }

  explicit HugePageArray(size_t count) : size_(count) {
    if (count == 0) return;
    bytes_ = bytes_for(count);
    // Over-map by one huge page so the array can start on a 2 MiB boundary.
    const size_t mapped = bytes_ + kHugePage;
    void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    const auto base = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (base + kHugePage - 1) & ~(kHugePage - 1);
    if (aligned > base) munmap(p, aligned - base);
    if (const uintptr_t end = base + mapped, used = aligned + bytes_; end > used) {
      munmap(reinterpret_cast<void*>(used), end - used);
    }
    madvise(reinterpret_cast<void*>(aligned), bytes_, MADV_HUGEPAGE);  // a hint; 4 KiB if refused
    data_ = reinterpret_cast<T*>(aligned);
    populate();
  }
  ~HugePageArray() { release(); }

  HugePageArray(const HugePageArray&) = delete;
  HugePageArray& operator=(const HugePageArray&) = delete;
  HugePageArray(HugePageArray&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        bytes_(std::exchange(o.bytes_, 0)) {}
  HugePageArray& operator=(HugePageArray&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }

  T& operator[](size_t i) noexcept { return data_[i]; }
  const T& operator[](size_t i) const noexcept { return data_[i]; }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  // Bytes reserved for the table (what the caches' memory accounting reports).
  size_t reserved_bytes() const noexcept { return bytes_; }

 private:
  // Faults every page in now (after the huge-page advice, so they are huge pages where the
  // kernel has them): MADV_POPULATE_WRITE (Linux 5.14), else a write to each 4 KiB page.
  void populate() noexcept {
#ifndef MADV_POPULATE_WRITE
    constexpr int MADV_POPULATE_WRITE = 23;
#endif
    if (madvise(data_, bytes_, MADV_POPULATE_WRITE) == 0) return;
    auto* bytes = reinterpret_cast<volatile unsigned char*>(data_);
    for (size_t off = 0; off < bytes_; off += 4096) bytes[off] = 0;
  }

  void release() noexcept {
    if (data_ != nullptr) munmap(data_, bytes_);
    data_ = nullptr;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t bytes_ = 0;
};

}  // namespace flowgate::exporter
