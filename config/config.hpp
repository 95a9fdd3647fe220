#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "decode/flow_type.hpp"

namespace flowgate::config {

// One [[inputs.netflow.listeners]] entry.
struct Listener {
  decode::FlowType flow_type = decode::FlowType::kUnknown;  // kUnknown with auto_detect
  bool auto_detect = false;  // flow_type = "auto": the protocol is detected per datagram
  uint16_t port = 0;
  std::string bind_host;     // resolved: the listener's, else [collector] bind_host
  uint32_t input = 0;        // index of its [[inputs.netflow]] block
  uint32_t line = 0;         // where it is defined, for error messages
  uint32_t column = 0;
};

// One [[inputs.netflow]] block, as Datakit's NetFlow input reads it.
struct Input {
  std::string source = "netflow";        // measurement name of the log point
  std::string device_namespace = "namespace";
  std::vector<std::pair<std::string, std::string>> tags;  // in file order
};

enum class Mode : uint8_t { kSocket, kAfPacket, kDpdk };

enum class Rss : uint8_t { kAuto, kHardware, kSoftware };

struct DpdkConfig {
  std::vector<std::string> devices;
  std::vector<std::string> eal_args;
  std::vector<uint32_t> worker_lcores = {1};
  std::vector<uint32_t> exporter_lcores = {0};
  int dispatch_lcore = -1;            // -1: one past the highest worker or exporter lcore
  Rss rss = Rss::kAuto;
  uint32_t rx_queues = 1;
  uint32_t rx_descriptors = 1024;
  uint32_t mbufs = 65535;
  uint32_t mbuf_data_room = 0;        // 0: DPDK's default (2048 bytes)
  uint32_t burst = 32;
  uint32_t idle_sleep_us = 100;
  uint32_t dispatch_ring = 4096;
  std::vector<std::string> addresses;  // "address" and "addresses", answered for ARP/ICMP/ND
  std::string exception_tap;           // kernel TAP for frames not ours (net_tap); "": dropped
  // Frames a second each worker hands to exception_tap at most (a burst of as many); past it
  // they are dropped and counted, so a flood of non-flow traffic cannot take a worker's core.
  // 0: no limit.
  uint32_t exception_rate = 20'000;
};

// [collector.af_packet]: the interface and each worker's TPACKET_V3 ring.
struct AfPacketConfig {
  std::string interface = "eth0";
  uint32_t block_size = 1 << 20;   // bytes; a power of two from 64 KiB: holds a 64 KiB datagram
  uint32_t blocks = 32;            // per worker ring
  uint32_t block_timeout_ms = 10;  // a block not yet full is handed over after this
};

// The longest [collector] receive_coalesce: what arrives meanwhile waits in the receive buffer.
inline constexpr uint64_t kMaxReceiveCoalesceMs = 20;

struct CollectorConfig {
  Mode mode = Mode::kSocket;
  uint32_t workers = 1;
  std::vector<uint32_t> cpus;
  std::string bind_host = "0.0.0.0";
  // FlowBlocks (1024 records, ~165 KiB each) per worker: how long the exporter thread may be
  // kept off a core before records are lost (128 blocks ~ 100 ms at 1.2M records/s).
  uint32_t blocks_per_worker = 128;
  // Socket mode: SO_RCVBUF(FORCE) per socket; what absorbs a burst while a worker is busy.
  uint32_t receive_buffer_bytes = 32u << 20;
  // Socket mode: after a pass that emptied its sockets, a worker waits at most this long before
  // it reads again (as long as ~256 datagrams take at the rate it last saw), so that it wakes
  // and calls recvmmsg once per batch rather than per few datagrams; 0 reads as soon as
  // datagrams arrive.
  uint64_t receive_coalesce_ms = 8;
  // Template persistence: the file the templates and sampling options are saved to every
  // template_state_interval and at shutdown, and loaded from at start; "" is off.
  std::string template_state;
  uint64_t template_state_interval_ms = 60'000;
  // A template not re-sent for this long is dropped (and not loaded from the state file);
  // 0 keeps templates until replaced.
  uint64_t template_timeout_ms = 3'600'000;
  // Per-worker template cache caps (decode::TemplateCacheLimits' defaults).
  uint32_t max_exporters = 1024;
  uint32_t max_templates = 4096;
  uint32_t max_templates_per_exporter = 512;
  // Per-worker caps on data sets held until their template arrives (decode::TemplateCacheLimits'
  // defaults): the arena's bytes, one exporter's share of them, the sets, and how long one waits.
  uint32_t pending_bytes = 1u << 20;
  uint32_t pending_bytes_per_exporter = 64u << 10;
  uint32_t max_pending_sets = 2048;
  uint64_t pending_timeout_ms = 60'000;
  DpdkConfig dpdk;
  AfPacketConfig af_packet;
};

struct AggregationConfig {
  bool enabled = true;
  uint64_t flush_interval_ms = 300'000;         // Datakit's default
  uint32_t port_rollup_threshold = 10;
  uint64_t rollup_refresh_ms = 300'000;
  // Live keys per exporter thread (~340 B of tables each); the oldest is written early beyond.
  // 0: "auto", sized at start-up to the memory available (exporter::auto_max_keys).
  uint32_t max_keys = 0;
  // What "auto" takes when the available memory cannot be read, and what a pipeline built
  // without sizing (tests, benchmarks) holds.
  static constexpr uint32_t kUnsizedMaxKeys = 200'000;
};

enum class OutputType : uint8_t { kStdout, kFile, kHttp, kDatakit, kClickhouse };

struct Output {
  OutputType type = OutputType::kStdout;
  std::string path;                 // file
  std::string url;                  // http, datakit, clickhouse
  std::string table = "flows";      // clickhouse
  uint64_t max_file_bytes = 0;      // file rotation; 0: never rotate
  bool direct_io = false;           // file: O_DIRECT, past the page cache
  uint32_t batch_records = 1024;    // flush a batch at this many records ...
  uint64_t flush_interval_ms = 1000;  // ... or this long after its first record
  // http, datakit, clickhouse:
  std::string database = "default";  // clickhouse
  bool gzip = false;                 // gzip request bodies
  uint64_t timeout_ms = 5000;        // one request, connect included
  uint64_t retry_max_ms = 30'000;    // back-off cap between attempts
  std::string spool_dir;             // on-disk spool; "" : none (what memory cannot hold is lost)
  uint64_t spool_max_bytes = 1ull << 30;
  uint32_t queue_batches = 64;       // batches held in memory for the sink thread
  uint64_t shutdown_timeout_ms = 5000;  // delivery time at SIGTERM before the rest is spooled
  uint32_t line = 0;                 // where it is defined, for messages
};

struct MetricsConfig {
  std::string listen = "127.0.0.1:9108";  // host:port or [IPv6]:port; "" disables the endpoint
  bool listen_explicit = false;  // set in the file: failing to bind it stops start-up
  uint32_t max_exporters = 256;   // per-exporter series; the rest summed as exporter="other"
  uint32_t max_interfaces = 256;  // sFlow interface series
  uint32_t dashboard_minutes = 15;  // the dashboard's window
};

struct Config {
  std::string path;  // the file it came from; "<embedded>" for the default
  std::vector<Input> inputs;
  std::vector<Listener> listeners;
  CollectorConfig collector;
  AggregationConfig aggregation;
  std::vector<Output> outputs;
  MetricsConfig metrics;
  std::string log_level = "info";
};

}  // namespace flowgate::config
