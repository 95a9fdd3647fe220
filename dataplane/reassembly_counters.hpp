#pragma once

#include <cstdint>
#include <string_view>

namespace flowgate::dataplane {

// Fragment reassembly events. fragments, completed and duplicates count what went well; the
// others are drop reasons, one per drop: timed_out, evicted, overlaps, not_udp and malformed
// count datagrams, too_big and bad the fragment that caused the drop. X(member, help)
#define FLOWGATE_REASSEMBLY_COUNTERS(X)                                                       \
  X(fragments, "fragments stored for reassembly")                                             \
  X(completed, "UDP datagrams reassembled from fragments")                                    \
  X(timed_out, "incomplete datagrams abandoned after the reassembly timeout")                 \
  X(evicted, "incomplete datagrams evicted, least recently used first, to make room")         \
  X(overlaps, "datagrams dropped because two of their fragments overlapped (RFC 5722)")       \
  X(duplicates, "exact duplicate fragments ignored (RFC 8200 section 4.5)")                   \
  X(too_big, "fragments reaching past the largest possible IP datagram, with their datagram") \
  X(bad, "fragments not a multiple of 8 bytes, or disagreeing on where the datagram ends")    \
  X(not_udp, "reassembled datagrams whose IPv6 extension headers led to no UDP header")       \
  X(malformed, "reassembled datagrams with a truncated or malformed UDP or extension header")

struct ReassemblyCounters {
#define FLOWGATE_X(m, h) uint64_t m = 0;
  FLOWGATE_REASSEMBLY_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X

  // Calls f(name, help, value) for every counter, in declaration order.
  template <class F>
  void for_each(F&& f) const {
#define FLOWGATE_X(m, h) f(std::string_view{#m}, std::string_view{h}, m);
    FLOWGATE_REASSEMBLY_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
  }
  // Datagrams (or fragments) dropped, whatever the reason.
  uint64_t failures() const noexcept {
    return timed_out + evicted + overlaps + too_big + bad + not_udp + malformed;
  }
  // Sums another worker's counters into this one.
  void add(const ReassemblyCounters& o) noexcept {
#define FLOWGATE_X(m, h) m += o.m;
    FLOWGATE_REASSEMBLY_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
  }
};

}  // namespace flowgate::dataplane
