#include "export/http_sink.hpp"

#include "export/sink_figures.hpp"

#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "export/text_format.hpp"

namespace flowgate::exporter {
namespace {

constexpr uint64_t kReportIntervalUs = 10'000'000;

uint64_t mono_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

uint64_t random_u64() {
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
    v = mono_us() * 0x9e3779b97f4a7c15ull;
  }
  return v;
}

// Copies a JSON string starting at in[i] == '"' to out; returns the index after its end.
size_t copy_string(std::string_view in, size_t i, std::string& out) {
  const size_t from = i++;
  while (i < in.size() && in[i] != '"') i += in[i] == '\\' ? 2 : 1;
  i = std::min(i + 1, in.size());
  out.append(in.substr(from, i - from));
  return i;
}

// Copies a scalar or array value starting at in[i]; returns the index after it.
size_t copy_value(std::string_view in, size_t i, std::string& out) {
  if (i < in.size() && in[i] == '"') return copy_string(in, i, out);
  int depth = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (c == '"') {
      i = copy_string(in, i, out);
      continue;
    }
    if (depth == 0 && (c == ',' || c == '}')) break;
    if (c == '[') ++depth;
    if (c == ']') --depth;
    out += c;
    ++i;
  }
  return i;
}

}  // namespace

uint32_t clickhouse_rows(std::string_view in, uint64_t batch_id, std::string& out) {
  uint32_t row = 0;
  std::string prefix;             // "source_" inside "source":{...}
  std::vector<size_t> prefix_at;  // prefix length before each open object
  size_t i = 0;
  while (i < in.size()) {
    if (in[i] != '{') {  // between lines
      ++i;
      continue;
    }
    out += '{';
    ++i;
    bool first = true;
    prefix.clear();
    prefix_at.clear();
    while (i < in.size()) {
      const char c = in[i];
      if (c == ',' || c == ' ') {
        ++i;
      } else if (c == '}') {
        ++i;
        if (prefix_at.empty()) break;  // the record's end
        prefix.resize(prefix_at.back());
        prefix_at.pop_back();
      } else if (c == '"') {
        // A key; its value follows the ':'.
        size_t k = i + 1;
        while (k < in.size() && in[k] != '"') k += in[k] == '\\' ? 2 : 1;
        const std::string_view key = in.substr(i + 1, std::min(k, in.size()) - i - 1);
        i = std::min(k + 2, in.size());  // past '"' and ':'
        if (i < in.size() && in[i] == '{') {
          prefix_at.push_back(prefix.size());
          prefix.append(key);
          prefix += '_';
          ++i;
          continue;
        }
        if (!first) out += ',';
        first = false;
        out += '"';
        out += prefix;
        out.append(key);
        out += "\":";
        i = copy_value(in, i, out);
      } else {
        ++i;  // not what the encoder writes; skipped rather than trusted
      }
    }
    out += first ? "\"batch_id\":" : ",\"batch_id\":";
    append_decimal(out, batch_id);
    out += ",\"row\":";
    append_decimal(out, row++);
    out += "}\n";
  }
  return row;
}

HttpSink::HttpSink(HttpSinkConfig config)
    : config_(std::move(config)),
      instance_id_(random_u64()),
      jitter_(static_cast<uint32_t>(instance_id_)) {
  switch (config_.kind) {
    case HttpSinkKind::kJsonLines:
      name_ = "http " + config_.url;
      post_url_ = config_.url;
      break;
    case HttpSinkKind::kDatakit:
      name_ = "datakit " + config_.url;
      post_url_ = config_.url;
      config_.http.content_type = "text/plain; charset=utf-8";
      break;
    case HttpSinkKind::kClickhouse: {
      name_ = "clickhouse " + config_.url;
      const std::string query =
          "INSERT INTO `" + config_.database + "`.`" + config_.table + "` FORMAT JSONEachRow";
      // User tags are columns only if the table has them; the rest of the row still goes in.
      post_url_ = config_.url + (config_.url.find('?') == std::string::npos ? "?" : "&") +
                  "query=" + url_encode(query) + "&input_format_skip_unknown_fields=1";
      break;
    }
  }
}

std::unique_ptr<HttpSink> HttpSink::open(HttpSinkConfig config, std::string& error) {
  std::unique_ptr<HttpSink> s(new HttpSink(std::move(config)));
  if (!s->config_.spool_dir.empty()) {
    s->spool_ = std::make_unique<Spool>();
    if (!s->spool_->open(s->config_.spool_dir, s->config_.spool_max_bytes, error)) {
      error = "cannot open spool " + error;
      return nullptr;
    }
    s->next_seq_ = s->spool_->next_seq();
    s->counters_.set(s->counters_.spool_bytes, s->spool_->bytes());
    s->counters_.set(s->counters_.spool_batches, s->spool_->batches());
    if (!s->spool_->empty()) {
      spdlog::info("{}: {} spooled batches ({} bytes) to replay", s->name_, s->spool_->batches(),
                   s->spool_->bytes());
    }
  }
  s->client_ = std::make_unique<HttpClient>(s->config_.http);
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

HttpSink::~HttpSink() { finish(); }

void HttpSink::prepare(Batch& b) const {
  if (b.prepared) return;
  b.prepared = true;
  if (config_.kind != HttpSinkKind::kClickhouse) return;
  std::string rows;
  rows.reserve(b.body.size() + b.body.size() / 8);
  clickhouse_rows(b.body, instance_id_ + b.seq, rows);
  b.body.swap(rows);
}

bool HttpSink::write(std::string_view batch, uint32_t records) {
  if (batch.empty()) return true;
  Batch b;
  b.seq = next_seq_++;
  b.records = records;
  b.handed_us = mono_us();
  b.body.assign(batch);
  {
    std::lock_guard lock(mutex_);
    if (!stop_ && queue_.size() < config_.queue_batches) {
      queue_.push_back(std::move(b));
      counters_.set(counters_.queued_batches, queue_.size());
      wake_.notify_one();
      return true;
    }
  }
  // The sink thread is behind (a slow or dead endpoint): keep the batch on disk rather than
  // wait for it. Its sequence number keeps it in order with the queued ones.
  prepare(b);
  to_spool(b);
  return true;
}

void HttpSink::drop(uint64_t batches, uint64_t records) {
  counters_.add(counters_.batches_dropped, batches);
  counters_.add(counters_.records_dropped, records);
}

void HttpSink::to_spool(Batch& b) {
  if (spool_ == nullptr) {
    drop(1, b.records);
    return;
  }
  const Spool::PutResult r = spool_->put(b.seq, b.records, b.body);
  if (r == Spool::PutResult::kStored) {
    counters_.add(counters_.batches_spooled);
  } else {
    drop(1, b.records);
  }
  counters_.set(counters_.spool_bytes, spool_->bytes());
  counters_.set(counters_.spool_batches, spool_->batches());
}

void HttpSink::move_queue_to_spool() {
  std::deque<Batch> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(queue_);
    counters_.set(counters_.queued_batches, 0);
  }
  for (Batch& b : taken) {
    prepare(b);
    to_spool(b);
  }
}

bool HttpSink::attempt(const Batch& b) {
  const HttpResult r = client_->post(post_url_, b.body);
  if (r.ok()) {
    const uint64_t latency = mono_us() - b.handed_us;
    counters_.add(counters_.batches_sent);
    counters_.add(counters_.records_sent, b.records);
    counters_.set(counters_.last_batch_latency_us, latency);
    counters_.add(counters_.batch_latency_us_sum, latency);
    counters_.add(counters_.latency_buckets[sink_latency_bucket(static_cast<double>(latency) / 1e6)]);
    return true;
  }
  ++failures_since_report_;
  last_error_ = r.status == 0 ? r.error : "HTTP " + std::to_string(r.status) + ": " + r.error;
  return false;
}

bool HttpSink::stopping() const {
  std::lock_guard lock(mutex_);
  return stop_;
}

// Sleeps the back-off for the n-th consecutive failure: min(max, initial * 2^(n-1)), with
// "equal jitter" (half fixed, half random) so that several collectors do not retry in step.
// False when shutdown interrupted it.
uint64_t HttpSink::backoff_ms(uint32_t failures) {
  uint64_t delay = config_.retry_initial_ms;
  for (uint32_t i = 1; i < failures && delay < config_.retry_max_ms; ++i) delay *= 2;
  delay = std::min(delay, config_.retry_max_ms);
  return delay / 2 + (delay > 1 ? jitter_() % (delay / 2 + 1) : 0);
}

bool HttpSink::wait_backoff(uint32_t failures) {
  const uint64_t delay = backoff_ms(failures);
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, std::chrono::milliseconds(delay), [this] { return stop_; });
}

void HttpSink::report(bool force) {
  const uint64_t now = mono_us();
  if (!force && now < next_report_us_) return;
  next_report_us_ = now + kReportIntervalUs;
  const SinkDelivery f = counters_.load();
  if (failures_since_report_ > 0) {
    spdlog::warn(
        "{}: {} failed attempts in the last interval, last: {}; {} batches spooled "
        "({} bytes)",
        name_, failures_since_report_, last_error_, f.spool_batches, f.spool_bytes);
    failures_since_report_ = 0;
  }
  if (f.batches_dropped != dropped_reported_) {
    spdlog::warn("{}: dropped {} batches ({} records in all) since start: {}", name_,
                 f.batches_dropped - dropped_reported_, f.records_dropped,
                 spool_ == nullptr ? "no spool_dir configured and the queue was full"
                                   : "the spool is full (spool_max_bytes)");
    dropped_reported_ = f.batches_dropped;
  }
}

// Delivers the oldest spooled batch; false when the attempt failed.
bool HttpSink::replay_one() {
  Batch b;
  if (!spool_->oldest(b.seq, b.records, b.body)) return true;
  b.handed_us = mono_us();
  if (!attempt(b)) return false;
  spool_->remove(b.seq);
  counters_.add(counters_.batches_replayed);
  counters_.set(counters_.spool_bytes, spool_->bytes());
  counters_.set(counters_.spool_batches, spool_->batches());
  return true;
}

void HttpSink::run() {
  uint32_t failures = 0;  // consecutive failed attempts
  for (;;) {
    report(false);
    bool stop = false;
    bool have = false;
    Batch b;
    bool spooled = false;
    {
      std::unique_lock lock(mutex_);
      spooled = spool_ != nullptr && !spool_->empty();
      if (!spooled) {
        wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || !queue_.empty(); });
      }
      stop = stop_;
      if (!spooled && !queue_.empty()) {
        b = std::move(queue_.front());
        queue_.pop_front();
        counters_.set(counters_.queued_batches, queue_.size());
        have = true;
      }
    }
    if (stop) {
      // Shutdown: keep delivering, oldest first, with back-off, until everything is out or the
      // deadline passes; what is left then goes to the spool (dropped and counted without
      // one) for the next start.
      const uint64_t now = mono_us();
      if (now >= stop_deadline_us_ || (!have && !spooled)) {
        if (have) {
          prepare(b);
          to_spool(b);
        }
        move_queue_to_spool();
        break;
      }
      bool delivered = false;
      if (have) {
        prepare(b);
        delivered = attempt(b);
        if (!delivered) {
          std::lock_guard lock(mutex_);
          queue_.push_front(std::move(b));
        }
      } else {
        move_queue_to_spool();
        delivered = replay_one();
      }
      if (delivered) {
        failures = 0;
        continue;
      }
      counters_.add(counters_.batches_retried);
      std::this_thread::sleep_for(std::chrono::milliseconds(
          std::min(backoff_ms(++failures), (stop_deadline_us_ - now) / 1000 + 1)));
      continue;
    }
    if (spooled) {
      // Keep order: everything newer waits behind the spool.
      move_queue_to_spool();
      if (replay_one()) {
        failures = 0;
      } else {
        counters_.add(counters_.batches_retried);
        wait_backoff(++failures);
      }
      continue;
    }
    if (!have) continue;
    prepare(b);
    for (;;) {
      if (attempt(b)) {
        failures = 0;
        break;
      }
      counters_.add(counters_.batches_retried);
      ++failures;
      if (spool_ != nullptr && failures >= config_.attempts_before_spool) {
        to_spool(b);  // the loop now waits behind the spool, with back-off
        wait_backoff(failures);
        break;
      }
      report(false);
      if (!wait_backoff(failures)) {  // shutdown: the stop branch retries it until the deadline
        std::lock_guard lock(mutex_);
        queue_.push_front(std::move(b));
        break;
      }
    }
  }
  report(true);
}

void HttpSink::finish() {
  if (finished_) return;
  finished_ = true;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    stop_deadline_us_ = mono_us() + config_.shutdown_timeout_ms * 1000;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  const SinkDelivery f = counters_.load();
  spdlog::info("{}: sent={} batches ({} records) spooled_now={} dropped={} batches ({} records)",
               name_, f.batches_sent, f.records_sent, f.spool_batches, f.batches_dropped,
               f.records_dropped);
}

}  // namespace flowgate::exporter
