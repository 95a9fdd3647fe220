#pragma once

#include <cstdint>

namespace flowgate::dataplane {

// Worker counters that are not decode reasons. X(member, help)
#define FLOWGATE_WORKER_COUNTERS(X)                                                     \
  X(datagrams_received, "UDP datagrams received from the sockets")                       \
  X(blocks_sent, "FlowBlocks handed to the exporter thread")                             \
  X(ring_full, "FlowBlocks dropped because the ring to the exporter thread was full")    \
  X(ring_full_records, "records in the FlowBlocks dropped for a full ring")             \
  X(kernel_drops, "datagrams the kernel dropped on a full socket buffer (SO_RXQ_OVFL)")  \
  X(receive_errors, "recvmmsg failures other than 'no data'")

struct WorkerCounters {
#define FLOWGATE_X(m, h) uint64_t m = 0;
  FLOWGATE_WORKER_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
  void add(const WorkerCounters& o) noexcept {
#define FLOWGATE_X(m, h) m += o.m;
    FLOWGATE_WORKER_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
  }
};

}  // namespace flowgate::dataplane
