#pragma once

#include <cstdint>

#include "decode/flow_block.hpp"

namespace flowgate::decode {

// Where a decoder appends records. When the current block fills, the owner's refill function
// takes the full block (to hand it down the pipeline) and returns an empty one, or nullptr when
// none is available; the decoder then drops the record and counts it (block_unavailable).
// A function pointer rather than std::function: no allocation, no type erasure on the hot path.
class FlowOutput {
 public:
  using Refill = FlowBlock* (*)(void* ctx, FlowBlock* full) noexcept;
  static constexpr uint32_t kNoRow = UINT32_MAX;

  FlowOutput(FlowBlock* block, Refill refill, void* ctx) noexcept
      : block_(block), refill_(refill), ctx_(ctx) {}

  // Returns the row index of a fresh zeroed row in block(), or kNoRow.
  uint32_t next_row() noexcept {
    if (block_ == nullptr || block_->full()) {
      block_ = refill_ != nullptr ? refill_(ctx_, block_) : nullptr;
      if (block_ == nullptr || block_->full()) return kNoRow;
    }
    return block_->append_row();
  }
  // As next_row(), but the row is not zeroed: the caller writes every column.
  uint32_t next_row_uninit() noexcept {
    if (block_ == nullptr || block_->full()) {
      block_ = refill_ != nullptr ? refill_(ctx_, block_) : nullptr;
      if (block_ == nullptr || block_->full()) return kNoRow;
    }
    return block_->append_row_uninit();
  }
  // Reserves up to `want` consecutive rows of block(), starting at `first`, and returns how
  // many (0 when no block is available). The rows are not initialised: the caller writes every
  // column of each. Fewer than `want` are returned when the block fills; the caller writes
  // them, then asks again for the rest (which refills).
  uint32_t next_rows(uint32_t want, uint32_t& first) noexcept {
    if (block_ == nullptr || block_->full()) {
      block_ = refill_ != nullptr ? refill_(ctx_, block_) : nullptr;
      if (block_ == nullptr || block_->full()) return 0;
    }
    first = block_->size;
    const uint32_t room = FlowBlock::kCapacity - first;
    const uint32_t n = want < room ? want : room;
    block_->size += n;
    return n;
  }
  FlowBlock* block() const noexcept { return block_; }

 private:
  FlowBlock* block_;
  Refill refill_;
  void* ctx_;
};

}  // namespace flowgate::decode
