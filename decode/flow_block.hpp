#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "decode/flow_type.hpp"
#include "decode/ip_address.hpp"
#include "decode/prefetch.hpp"

namespace flowgate::decode {

// A fixed-capacity columnar batch of decoded flow records (DESIGN.md "FlowBlock is columnar").
// One array per field of the emitted record plus what aggregation and metrics need. Rows are
// appended with append_row(), which zeroes the new row so a template that lacks a field leaves
// a well-defined default. Blocks are allocated once (they are ~160 KiB) and reused via clear().
struct FlowBlock {
  static constexpr uint32_t kCapacity = 1024;

  uint32_t size = 0;
  // Bits of kFlowColumns whose column is zero in every row, the rows past `size` too: the
  // template decoder need not zero them again for a template that lacks them, nor fetch their
  // lines (which then stay unwritten, in the reading core's cache as much as the writing
  // one's). Only the template decoder sets bits, through filled_zero: a full block whose every
  // row it zeroed a column of has that column's bit from clear() on. Every other way of
  // appending rows clears both, as a column written other than through the template decoder
  // must.
  uint64_t zero_columns = 0;
  // Columns the template decoder zeroed in every row from 0 to `size` of this fill.
  uint64_t filled_zero = 0;

  std::array<IpAddress, kCapacity> src_addr;
  std::array<IpAddress, kCapacity> dst_addr;
  std::array<IpAddress, kCapacity> next_hop;
  std::array<IpAddress, kCapacity> exporter_addr;  // UDP source (NetFlow/IPFIX), agent (sFlow)

  std::array<uint64_t, kCapacity> bytes;
  std::array<uint64_t, kCapacity> packets;
  std::array<uint64_t, kCapacity> start_ms;  // ms since the Unix epoch
  std::array<uint64_t, kCapacity> end_ms;
  std::array<uint64_t, kCapacity> src_mac;  // 48-bit MAC in the low bits, first octet highest
  std::array<uint64_t, kCapacity> dst_mac;

  std::array<uint32_t, kCapacity> in_if;
  std::array<uint32_t, kCapacity> out_if;
  std::array<uint32_t, kCapacity> sampling_rate;       // 0 when unknown
  std::array<uint32_t, kCapacity> observation_domain;  // v9 source ID, IPFIX domain, sFlow sub-agent
  std::array<uint32_t, kCapacity> sequence;            // header sequence number of the datagram
  std::array<uint32_t, kCapacity> src_as;
  std::array<uint32_t, kCapacity> dst_as;

  std::array<uint16_t, kCapacity> src_port;
  std::array<uint16_t, kCapacity> dst_port;
  std::array<uint16_t, kCapacity> exporter_port;
  std::array<uint16_t, kCapacity> ether_type;  // 0x0800, 0x86dd, or 0 when unknown
  std::array<uint16_t, kCapacity> vlan;
  std::array<uint16_t, kCapacity> listener;  // index of the listener the datagram arrived on

  std::array<uint8_t, kCapacity> protocol;
  std::array<uint8_t, kCapacity> tos;
  std::array<uint8_t, kCapacity> tcp_flags;
  std::array<uint8_t, kCapacity> src_mask;
  std::array<uint8_t, kCapacity> dst_mask;
  std::array<Direction, kCapacity> direction;
  std::array<FlowType, kCapacity> flow_type;
  // Set by aggregation's port roll-up: kRollupSrcPort / kRollupDstPort mark a port that is
  // written as "*" (ephemeral). Decoders leave it 0.
  std::array<uint8_t, kCapacity> port_rollup;

  static constexpr uint8_t kRollupSrcPort = 1;
  static constexpr uint8_t kRollupDstPort = 2;

  bool full() const noexcept { return size == kCapacity; }
  void clear() noexcept {
    // Rows past a partial fill keep what an earlier fill left: only a full one tells.
    if (size == kCapacity) zero_columns = filled_zero;
    filled_zero = 0;
    size = 0;
  }

  // Appends a row without initialising it: for decoders that write every column (NetFlow v5).
  // The caller checks full() first.
  uint32_t append_row_uninit() noexcept {
    zero_columns = filled_zero = 0;
    return size++;
  }

  // Appends a zeroed row and returns its index. The caller checks full() first.
  uint32_t append_row() noexcept {
    zero_columns = filled_zero = 0;
    const uint32_t r = size++;
    src_addr[r] = {};
    dst_addr[r] = {};
    next_hop[r] = {};
    exporter_addr[r] = {};
    bytes[r] = packets[r] = start_ms[r] = end_ms[r] = src_mac[r] = dst_mac[r] = 0;
    in_if[r] = out_if[r] = sampling_rate[r] = observation_domain[r] = sequence[r] = 0;
    src_as[r] = dst_as[r] = 0;
    src_port[r] = dst_port[r] = exporter_port[r] = ether_type[r] = vlan[r] = listener[r] = 0;
    protocol[r] = tos[r] = tcp_flags[r] = src_mask[r] = dst_mask[r] = port_rollup[r] = 0;
    direction[r] = Direction::kIngress;
    flow_type[r] = FlowType::kUnknown;
    return r;
  }
};

// Every column of FlowBlock as (byte offset, element size), for code that fills a run of rows
// column by column (the template decoder zeroes the columns a template does not write). The
// zero bit pattern is every column's default, as append_row() writes it.
struct FlowColumn {
  uint32_t offset = 0;
  uint32_t size = 0;
};

#define FLOWGATE_FLOW_COLUMN(name) FlowColumn{offsetof(FlowBlock, name), sizeof(FlowBlock::name[0])}
inline constexpr std::array<FlowColumn, 31> kFlowColumns = {
    FLOWGATE_FLOW_COLUMN(src_addr),      FLOWGATE_FLOW_COLUMN(dst_addr),
    FLOWGATE_FLOW_COLUMN(next_hop),      FLOWGATE_FLOW_COLUMN(exporter_addr),
    FLOWGATE_FLOW_COLUMN(bytes),         FLOWGATE_FLOW_COLUMN(packets),
    FLOWGATE_FLOW_COLUMN(start_ms),      FLOWGATE_FLOW_COLUMN(end_ms),
    FLOWGATE_FLOW_COLUMN(src_mac),       FLOWGATE_FLOW_COLUMN(dst_mac),
    FLOWGATE_FLOW_COLUMN(in_if),         FLOWGATE_FLOW_COLUMN(out_if),
    FLOWGATE_FLOW_COLUMN(sampling_rate), FLOWGATE_FLOW_COLUMN(observation_domain),
    FLOWGATE_FLOW_COLUMN(sequence),      FLOWGATE_FLOW_COLUMN(src_as),
    FLOWGATE_FLOW_COLUMN(dst_as),        FLOWGATE_FLOW_COLUMN(src_port),
    FLOWGATE_FLOW_COLUMN(dst_port),      FLOWGATE_FLOW_COLUMN(exporter_port),
    FLOWGATE_FLOW_COLUMN(ether_type),    FLOWGATE_FLOW_COLUMN(vlan),
    FLOWGATE_FLOW_COLUMN(listener),      FLOWGATE_FLOW_COLUMN(protocol),
    FLOWGATE_FLOW_COLUMN(tos),           FLOWGATE_FLOW_COLUMN(tcp_flags),
    FLOWGATE_FLOW_COLUMN(src_mask),      FLOWGATE_FLOW_COLUMN(dst_mask),
    FLOWGATE_FLOW_COLUMN(direction),     FLOWGATE_FLOW_COLUMN(flow_type),
    FLOWGATE_FLOW_COLUMN(port_rollup),
};
#undef FLOWGATE_FLOW_COLUMN

// The bit of kFlowColumns (as in FlowBlock::zero_columns) that names the column at byte offset
// `column` of FlowBlock, e.g. column_bit(offsetof(FlowBlock, src_mac)); 0 for no column.
constexpr uint64_t column_bit(size_t column) noexcept {
  for (size_t i = 0; i < kFlowColumns.size(); ++i) {
    if (kFlowColumns[i].offset == column) return uint64_t{1} << i;
  }
  return 0;
}

// Calls fn(address) for each cache line that starts within rows [first, first + n) of a
// column of `b` among `columns` (bits of kFlowColumns), column by column (rows past the block's
// end are left out). Runs of rows that follow one another so name every line once: the line
// holding a run's first byte came with the run before.
template <typename Fn>
void for_each_line_in_rows(const FlowBlock& b, uint32_t first, uint32_t n, Fn&& fn,
                           uint64_t columns = ~uint64_t{0}) noexcept {
  if (first >= FlowBlock::kCapacity) return;
  n = std::min(n, FlowBlock::kCapacity - first);
  const auto base = reinterpret_cast<uintptr_t>(&b);
  // Unrolled, so that each column's loop is a branch of its own, whose trip count (the same
  // from one datagram to the next) is predicted: one shared loop mispredicted at every column.
#pragma GCC unroll 32
  for (size_t i = 0; i < kFlowColumns.size(); ++i) {
    if ((columns >> i & 1) == 0) continue;
    const FlowColumn& c = kFlowColumns[i];
    const uintptr_t begin = base + c.offset + uintptr_t{first} * c.size;
    const uintptr_t end = begin + uintptr_t{n} * c.size;
    for (uintptr_t line = (begin + 63) & ~uintptr_t{63}; line < end; line += 64) fn(line);
  }
}

// Starts fetching, to be written, the lines that start within rows [first, first + n) of each
// column. A decoder that fills a block a datagram at a time issues it for the rows the next
// datagram will take: their lines were last read by the exporter thread's core, and a store
// to each would otherwise wait for that core to give the line up. Measured at 25k datagrams/s
// of NetFlow v9, the worker's decode took ~40% fewer samples. The columns known to be zero
// are left out: a template that lacks them does not write them.
inline void prefetch_rows_for_write(FlowBlock& b, uint32_t first, uint32_t n) noexcept {
  for_each_line_in_rows(
      b, first, n,
      [](uintptr_t line) { prefetch_for_write(reinterpret_cast<const void*>(line)); },
      ~b.zero_columns);
}

// Whether every column in b.zero_columns is zero in every row: what tests and fuzz targets
// check after decoding (the decoder relies on it and does not zero such a column again).
inline bool zero_columns_hold(const FlowBlock& b) noexcept {
  const auto* base = reinterpret_cast<const unsigned char*>(&b);
  for (size_t i = 0; i < kFlowColumns.size(); ++i) {
    if ((b.zero_columns >> i & 1) == 0) continue;
    const FlowColumn& c = kFlowColumns[i];
    const unsigned char* p = base + c.offset;
    for (size_t k = 0; k < size_t{c.size} * FlowBlock::kCapacity; ++k) {
      if (p[k] != 0) return false;
    }
  }
  return true;
}

// A column added to FlowBlock but not listed above would be left uninitialised. Padding
// between the arrays is less than their alignment; a missing column is ≥ kCapacity bytes.
constexpr size_t flow_columns_bytes() noexcept {
  size_t n = 0;
  for (const FlowColumn& c : kFlowColumns) n += size_t{c.size} * FlowBlock::kCapacity;
  return n;
}
static_assert(sizeof(FlowBlock) - offsetof(FlowBlock, src_addr) - flow_columns_bytes() <
                  2 * alignof(FlowBlock),
              "kFlowColumns must list every FlowBlock column");

}  // namespace flowgate::decode
