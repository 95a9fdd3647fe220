#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "export/http_client.hpp"
#include "export/sink.hpp"
#include "export/spool.hpp"

namespace flowgate::exporter {

enum class HttpSinkKind : uint8_t {
  kJsonLines,   // `http`: the JSON lines as they are, to any URL
  kDatakit,     // `datakit`: log points in line protocol to Datakit's /v1/write/logging
  kClickhouse,  // `clickhouse`: INSERT ... FORMAT JSONEachRow, flattened, with batch_id and row
};

struct HttpSinkConfig {
  HttpSinkKind kind = HttpSinkKind::kJsonLines;
  std::string url;
  std::string database = "default";  // clickhouse
  std::string table = "flows";       // clickhouse
  HttpClientConfig http;
  uint64_t retry_initial_ms = 100;     // first back-off; doubles per failure, with jitter ...
  uint64_t retry_max_ms = 30'000;      // ... up to this
  uint32_t attempts_before_spool = 3;  // failed attempts of one batch before the spool takes over
  std::string spool_dir;               // "" : no spool, what the queue cannot hold is dropped
  uint64_t spool_max_bytes = 1ull << 30;
  uint32_t queue_batches = 64;          // batches held in memory for the sink thread
  uint64_t shutdown_timeout_ms = 5000;  // finish(): delivery time before the rest is spooled
};

// Delivers batches to an HTTP endpoint from a thread of its own, so that an endpoint that is
// slow or down never stalls the exporter thread. A batch counts as delivered only on a 2xx.
// A failed attempt is retried with capped exponential back-off and jitter; after
// `attempts_before_spool` failures the batch, and every batch after it until the spool is
// empty again, goes to the on-disk spool, which is replayed oldest first once the endpoint
// answers (also after a restart). When the in-memory queue is full the exporter thread spools
// the batch itself. Only what the spool cannot hold is dropped, counted and logged (at most
// one line per 10 s).
class HttpSink final : public Sink {
 public:
  // nullptr (with `error`) when the spool directory cannot be opened.
  static std::unique_ptr<HttpSink> open(HttpSinkConfig config, std::string& error);
  ~HttpSink() override;
  HttpSink(const HttpSink&) = delete;
  HttpSink& operator=(const HttpSink&) = delete;

  SinkEncoding encoding() const noexcept override {
    return config_.kind == HttpSinkKind::kDatakit ? SinkEncoding::kLogPoints
                                                  : SinkEncoding::kJsonLines;
  }
  bool write(std::string_view batch, uint32_t records) override;
  bool flush() override { return true; }  // delivery starts as soon as a batch is handed over
  void finish() override;
  const SinkCounters* counters() const noexcept override { return &counters_; }
  std::string_view name() const noexcept override { return name_; }

  // The URL batches are POSTed to (for clickhouse, with the INSERT query).
  const std::string& post_url() const noexcept { return post_url_; }

 private:
  struct Batch {
    uint64_t seq = 0;
    uint32_t records = 0;
    bool prepared = false;
    uint64_t handed_us = 0;
    std::string body;
  };

  explicit HttpSink(HttpSinkConfig config);
  void run();
  void prepare(Batch& b) const;
  bool attempt(const Batch& b);
  void to_spool(Batch& b);
  void drop(uint64_t batches, uint64_t records);
  void move_queue_to_spool();
  bool replay_one();
  uint64_t backoff_ms(uint32_t failures);
  bool wait_backoff(uint32_t failures);
  void report(bool force);
  bool stopping() const;

  HttpSinkConfig config_;
  std::string name_;
  std::string post_url_;
  uint64_t instance_id_ = 0;  // random per start: batch ids stay unique across restarts
  std::unique_ptr<Spool> spool_;
  SinkCounters counters_;
  uint64_t next_seq_ = 0;  // exporter thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Batch> queue_;  // guarded by mutex_
  bool stop_ = false;        // guarded by mutex_
  uint64_t stop_deadline_us_ = 0;

  // Sink thread only.
  std::unique_ptr<HttpClient> client_;
  std::minstd_rand jitter_;
  std::string last_error_;
  uint64_t failures_since_report_ = 0;
  uint64_t dropped_reported_ = 0;
  uint64_t next_report_us_ = 0;
  std::thread thread_;
  bool finished_ = false;
};

// ClickHouse's row of a record line: nested objects flattened into `parent_child` keys
// (ClickHouse 18.16's JSONEachRow takes flat rows only) and `"batch_id":id,"row":row` appended,
// so that a retried INSERT replaces rather than adds rows (ReplacingMergeTree keyed on them).
// Appends to `out`; returns the number of lines.
uint32_t clickhouse_rows(std::string_view json_lines, uint64_t batch_id, std::string& out);

}  // namespace flowgate::exporter
