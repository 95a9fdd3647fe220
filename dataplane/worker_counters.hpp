#pragma once

#include <cstdint>

namespace flowgate::dataplane {

// Worker counters that are not decode reasons. The frame-level ones (rx_frames .. tx_failed)
// count only in the modes that see frames (dpdk, af_packet). X(member, help)
#define FLOWGATE_WORKER_COUNTERS(X)                                                     \
  X(datagrams_received, "UDP datagrams to a listener handed to the decoder")             \
  X(blocks_sent, "FlowBlocks handed to the exporter thread")                             \
  X(ring_full, "FlowBlocks dropped because the ring to the exporter thread was full")    \
  X(ring_full_records, "records in the FlowBlocks dropped for a full ring")             \
  X(kernel_drops, "packets the kernel dropped: socket buffer (SO_RXQ_OVFL) or ring full (tp_drops)") \
  X(receive_errors, "recvmmsg failures other than 'no data'")                           \
  X(receive_calls, "recvmmsg calls that returned datagrams (socket mode): datagrams_received " \
                   "over these is the batch a call reads")                             \
  X(coalesce_waits, "waits a worker took for datagrams to gather after emptying its sockets " \
                    "(socket mode): datagrams_received over these is what gathers in a wait") \
  X(rx_frames, "frames received from the NIC queue or packet ring")                      \
  X(rx_bytes, "bytes of those frames")                                                   \
  X(multi_segment, "frames that arrived in chained buffers and were read through")       \
  X(oversize, "frames longer than 64 KiB, dropped")                                      \
  X(non_listener, "UDP datagrams to a port no listener has, dropped")                    \
  X(reassembly_failures, "fragmented datagrams abandoned: timed out, evicted, overlapping or bad") \
  X(control_replies, "ARP, ICMP echo and neighbour advertisement replies sent")          \
  X(tx_failed, "replies that could not be sent (no TX queue, buffer or descriptor)")     \
  X(rx_paused, "polls skipped because no FlowBlock was free: the exporter is behind")

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
