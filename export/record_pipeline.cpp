#include "export/record_pipeline.hpp"

#include <sys/time.h>

#include <algorithm>

#include "export/dashboard_window.hpp"

namespace flowgate::exporter {
namespace {

constexpr uint64_t kFlushCheckMs = 10'000;  // the reference checks for due keys every 10 s

uint64_t wall_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

uint64_t aggregation_table_bytes(const config::Config& config, uint32_t keys) {
  return Aggregator::table_bytes(RecordPipeline::aggregator_config(config, keys));
}

uint32_t auto_max_keys(const config::Config& config, uint64_t available_bytes) {
  const auto fits = [&](uint32_t keys) {
    return aggregation_table_bytes(config, keys) <= available_bytes / kAutoMemoryShare;
  };
  if (fits(kAutoMaxKeys)) return kAutoMaxKeys;
  if (!fits(kAutoMinKeys)) return kAutoMinKeys;
  // The tables grow with the keys (in power-of-two steps for the index and the roll-up), so
  // the largest count that fits is found by bisection.
  uint32_t lo = kAutoMinKeys, hi = kAutoMaxKeys;  // fits(lo), !fits(hi)
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

AggregatorConfig RecordPipeline::aggregator_config(const config::Config& config) {
  return aggregator_config(config, config.aggregation.max_keys != 0
                                       ? config.aggregation.max_keys
                                       : config::AggregationConfig::kUnsizedMaxKeys);
}

AggregatorConfig RecordPipeline::aggregator_config(const config::Config& config,
                                                   uint32_t max_keys) {
  AggregatorConfig ac;
  ac.flush_interval_ms = config.aggregation.flush_interval_ms;
  ac.port_rollup_threshold = config.aggregation.port_rollup_threshold;
  ac.rollup_refresh_ms = config.aggregation.rollup_refresh_ms;
  ac.max_keys = max_keys;
  // The roll-up trackers are sized like the aggregation table; what they cannot hold keeps
  // its port and is counted.
  ac.rollup_capacity = std::max<uint32_t>(1024, ac.max_keys);
  for (const config::Listener& l : config.listeners) {
    ac.listener_namespace.push_back(static_cast<uint16_t>(l.input));
  }
  return ac;
}

RecordPipeline::RecordPipeline(const config::Config& config, bool aggregate, std::string host,
                               std::vector<std::unique_ptr<Sink>> sinks, std::string collector_ip)
    : config_(config),
      sinks_(std::move(sinks)),
      aggregated_block_(std::make_unique<decode::FlowBlock>()),
      aggregated_(aggregated_block_.get(), &RecordPipeline::on_aggregated, this),
      max_batch_records_(UINT32_MAX),
      batch_interval_ms_(UINT64_MAX) {
  for (const config::Input& in : config.inputs) {
    EncoderConfig ec;
    ec.host = host;
    ec.device_namespace = in.device_namespace;
    for (const auto& [k, v] : in.tags) {
      if (k == "host") {
        ec.host = v;  // the host tag overrides the collector's name, as in Datakit
      } else {
        ec.tags.emplace_back(k, v);
      }
    }
    encoders_.emplace_back(ec);
    point_encoders_.emplace_back(ec, in.source, collector_ip);
  }
  if (encoders_.empty()) {
    encoders_.emplace_back(EncoderConfig{host, "namespace", {}});
    point_encoders_.emplace_back(EncoderConfig{host, "namespace", {}}, "netflow", collector_ip);
  }
  for (const auto& s : sinks_) {
    if (s->encoding() == SinkEncoding::kLogPoints) want_points_ = true;
  }
  if (sinks_.size() == 1 && !want_points_) in_place_ = sinks_.front().get();
  // The tightest output bounds the batch, so no sink waits longer than it asked.
  // (The Output defaults, 1024 records and 1 s, apply when there is none.) Larger batches than
  // 1024 are allowed: ClickHouse wants thousands of rows per INSERT.
  for (const config::Output& o : config.outputs) {
    max_batch_records_ = std::min(max_batch_records_, o.batch_records);
    batch_interval_ms_ = std::min(batch_interval_ms_, o.flush_interval_ms);
  }
  if (config.outputs.empty()) {
    max_batch_records_ = config::Output{}.batch_records;
    batch_interval_ms_ = config::Output{}.flush_interval_ms;
  }
  if (aggregate) aggregator_ = std::make_unique<Aggregator>(aggregator_config(config));
  const size_t reserve_records = std::min<size_t>(max_batch_records_, 16384);
  batch_.reserve(reserve_records * 1024);
  if (want_points_) points_.reserve(reserve_records * 1536);
  for (const auto& sink : sinks_) {
    SinkFigures f;
    f.name = sink->name();
    sink_figures_.push_back(std::move(f));
  }
}

decode::FlowBlock* RecordPipeline::on_aggregated(void* ctx, decode::FlowBlock* full) noexcept {
  auto* self = static_cast<RecordPipeline*>(ctx);
  if (full != nullptr) {
    self->encode_block(*full);
    full->clear();
  }
  return full;
}

void RecordPipeline::encode_block(const decode::FlowBlock& b) {
  const uint64_t flush_ms = wall_ms();
  if (dashboard_ != nullptr) dashboard_->add(b, now_ms_);
  for (uint32_t r = 0; r < b.size; ++r) {
    const uint16_t l = b.listener[r];
    const uint32_t input = l < config_.listeners.size() ? config_.listeners[l].input : 0;
    if (batch_records_ == 0) batch_started_ms_ = now_ms_;
    const size_t e = std::min<size_t>(input, encoders_.size() - 1);
    const JsonEncoder& encoder = encoders_[e];
    // Straight into the sink's own buffer when it takes that: no batch to copy from.
    char* room = in_place_ != nullptr ? in_place_->reserve(encoder.max_record_size()) : nullptr;
    if (room != nullptr) {
      in_place_->commit(encoder.write(room, b, r, flush_ms));
      ++in_place_records_;
      if (++batch_records_ >= max_batch_records_) flush_batch();
      continue;
    }
    if (batch_.size() - batch_used_ < encoder.max_record_size()) {
      batch_.resize(std::max(batch_.size() * 2, batch_used_ + encoder.max_record_size()));
    }
    const size_t line = batch_used_;
    batch_used_ = static_cast<size_t>(encoder.write(batch_.data() + line, b, r, flush_ms) -
                                      batch_.data());
    if (want_points_) {
      point_encoders_[e].encode_with_message(
          b, r, flush_ms, std::string_view(batch_.data() + line, batch_used_ - line), points_);
    }
    if (++batch_records_ >= max_batch_records_) flush_batch();
  }
}

void RecordPipeline::flush_batch() {
  if (batch_records_ == 0) return;
  for (size_t i = 0; i < sinks_.size(); ++i) {
    Sink& s = *sinks_[i];
    const std::string_view text = s.encoding() == SinkEncoding::kLogPoints
                                      ? std::string_view(points_)
                                      : std::string_view(batch_.data(), batch_used_);
    const uint64_t started = monotonic_ns();
    const uint32_t copied = batch_records_ - in_place_records_;
    const bool ok = (in_place_records_ == 0 || s.write_in_place(in_place_records_)) &&
                    (copied == 0 || s.write(text, copied));
    sink_figures_[i].record(ok, monotonic_ns() - started);
    if (!ok) ++write_failures_;
  }
  written_ += batch_records_;
  in_place_records_ = 0;
  batch_used_ = 0;
  points_.clear();
  batch_records_ = 0;
}

void RecordPipeline::add(const decode::FlowBlock& block, uint64_t now_ms) {
  now_ms_ = now_ms;
  if (aggregator_ != nullptr) {
    aggregator_->add(block, now_ms, aggregated_);
  } else {
    encode_block(block);
  }
}

void RecordPipeline::tick(uint64_t now_ms) {
  now_ms_ = now_ms;
  if (aggregator_ != nullptr) {
    if (next_flush_check_ms_ == 0) next_flush_check_ms_ = now_ms + kFlushCheckMs;
    if (now_ms >= next_flush_check_ms_) {
      aggregator_->flush_due(now_ms, aggregated_);
      on_aggregated(this, aggregated_.block());
      next_flush_check_ms_ = now_ms + kFlushCheckMs;
    }
  }
  if (batch_records_ > 0 && now_ms >= batch_started_ms_ + batch_interval_ms_) {
    flush_batch();
    for (auto& s : sinks_) s->flush();
  }
}

void RecordPipeline::finish(uint64_t now_ms) {
  now_ms_ = now_ms;
  if (aggregator_ != nullptr) aggregator_->flush_all(aggregated_);
  on_aggregated(this, aggregated_.block());
  flush_batch();
  for (auto& s : sinks_) s->flush();
  for (auto& s : sinks_) s->finish();
}

void RecordPipeline::reopen_sinks() {
  flush_batch();
  for (auto& s : sinks_) s->reopen();
}

const std::vector<SinkFigures>& RecordPipeline::sink_figures() noexcept {
  for (size_t i = 0; i < sinks_.size(); ++i) {
    const SinkCounters* c = sinks_[i]->counters();
    if (c == nullptr) continue;
    SinkFigures& f = sink_figures_[i];
    const SinkDelivery d = c->load();
    f.has_delivery = true;
    f.delivery = d;
    f.sent = d.batches_sent;
    f.retried = d.batches_retried;
    f.spooled = d.batches_spooled;
    f.dropped = d.batches_dropped;
    f.latency_buckets = d.latency_buckets;
    f.latency_count = d.batches_sent;
    f.latency_sum_seconds = static_cast<double>(d.batch_latency_us_sum) / 1e6;
  }
  return sink_figures_;
}

}  // namespace flowgate::exporter
