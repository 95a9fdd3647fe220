#pragma once

namespace flowgate::decode {

// Starts loading the cache line holding `p` into all cache levels (prefetcht0), for a table
// probe a few records later (the aggregator, the port roll-up). Written as an asm statement
// because GCC 12 (Debian 12's compiler) at -O2 and -O3 silently dropped __builtin_prefetch and
// _mm_prefetch in the port roll-up's prefetch() once it was inlined behind a branch: the binary
// had no prefetch instruction for the roll-up at all (objdump), so every probe waited on its
// miss. A volatile asm is kept.
inline void prefetch(const void* p) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

// Starts loading the line holding `p` to be written (prefetchw: owned, so the store that
// follows does not wait for the line to be fetched and the other cores' copies invalidated).
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1);
#endif
}

}  // namespace flowgate::decode
