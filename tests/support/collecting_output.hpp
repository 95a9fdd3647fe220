#pragma once

#include <memory>
#include <vector>

#include "decode/flow_output.hpp"

namespace flowgate::testing {

// A FlowOutput whose refill keeps every full block, for tests that inspect all records.
// Tests may allocate; the data path never uses this.
class CollectingOutput {
 public:
  explicit CollectingOutput(size_t max_blocks = SIZE_MAX)
      : max_blocks_(max_blocks), output_(nullptr, &CollectingOutput::refill, this) {}

  decode::FlowOutput& output() { return output_; }

  // Number of records collected so far.
  size_t size() const {
    size_t n = 0;
    for (const auto& b : blocks_) n += b->size;
    return n;
  }

  // Visits each record as (block, row) in decode order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& b : blocks_) {
      for (uint32_t r = 0; r < b->size; ++r) fn(*b, r);
    }
  }

  // The i-th record as (block, row).
  std::pair<const decode::FlowBlock*, uint32_t> at(size_t i) const {
    for (const auto& b : blocks_) {
      if (i < b->size) return {b.get(), static_cast<uint32_t>(i)};
      i -= b->size;
    }
    return {nullptr, 0};
  }

 private:
  static decode::FlowBlock* refill(void* ctx, decode::FlowBlock* /*full*/) noexcept {
    auto* self = static_cast<CollectingOutput*>(ctx);
    if (self->blocks_.size() >= self->max_blocks_) return nullptr;
    self->blocks_.push_back(std::make_unique<decode::FlowBlock>());
    return self->blocks_.back().get();
  }

  size_t max_blocks_;
  std::vector<std::unique_ptr<decode::FlowBlock>> blocks_;
  decode::FlowOutput output_;
};

}  // namespace flowgate::testing
