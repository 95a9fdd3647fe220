#include "dataplane/dpdk_runtime.hpp"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "dataplane/control_responder.hpp"
#include "dataplane/udp_extractor.hpp"

namespace flowgate::dataplane {
namespace {

constexpr uint32_t kMaxBurst = 512;
constexpr size_t kLinearBytes = 65536;  // a frame read through its chained segments
// net_tap holds this many mbufs per RX queue for one frame's iovec: a 9000-byte kernel MTU in
// 256-byte data rooms.
constexpr uint16_t kTapDescriptors = 64;

uint64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

std::string rte_error_text() { return rte_strerror(rte_errno); }

// Escalating pause for an idle poller: spin first (a burst may be microseconds away), then
// sleep up to idle_sleep_us, so that pollers sharing a CPU (tests, small hosts) leave it to
// the one with work. Under load the counter never grows and no poller sleeps.
void idle_pause(uint32_t& idle, uint32_t max_sleep_us) {
  ++idle;
  if (max_sleep_us == 0 || idle < 256) {
    rte_pause();
    return;
  }
  const uint32_t us = std::min<uint32_t>(max_sleep_us, (idle - 255) * 2);
  rte_delay_us_sleep(us);
}

struct RxQueue {
  uint16_t port = 0;
  uint16_t queue = 0;
};

// A worker's exception-path counters: only its lcore writes them (a relaxed load and store, no
// locked instruction); figures() sums them from the exporter lcore.
struct alignas(64) ExceptionCounters {
  std::atomic<uint64_t> to_kernel{0};
  std::atomic<uint64_t> from_kernel{0};
  std::atomic<uint64_t> drops{0};
  std::atomic<uint64_t> rate_limited{0};
};

void bump(std::atomic<uint64_t>& counter, uint64_t n) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<bool> dispatch_done{true};  // false while a dispatcher may still enqueue
  std::atomic<uint64_t> dispatched{0};
  std::atomic<uint64_t> dispatch_ring_full{0};
};

// One worker lcore: its queues (or its ring), its frame parser and reassembler, its shard.
class LcoreWorker {
 public:
  LcoreWorker(const DpdkOptions& o, uint32_t index, Shared& shared, rte_mempool* pool)
      : options_(o), shared_(shared), pool_(pool), shard_(shard_config(o, index)),
        linear_(kLinearBytes), reply_(ControlResponder::kMaxReply) {}

  static ShardConfig shard_config(const DpdkOptions& o, uint32_t index) {
    ShardConfig s;
    s.index = index;
    s.listener_types = o.listener_types;
    s.blocks = o.blocks_per_worker;
    return s;
  }

  DecodeShard& shard() noexcept { return shard_; }
  std::vector<RxQueue> queues;
  rte_ring* ring = nullptr;        // software RSS: frames the dispatcher handed to us
  int tx_port = -1;                // where replies go out (-1: none)
  uint16_t tx_queue = 0;
  std::vector<ControlResponder> responders;  // by port id
  // Exception path: this worker's queue pair on the TAP (-1: no exception_tap). Frames nobody
  // here takes go to its TX queue; what the kernel sends on the RX queues it reads (its own,
  // and those of workers with no TX queue on a data port) goes out on tx_port.
  int tap_port = -1;
  uint16_t tap_queue = 0;
  std::vector<uint16_t> tap_rx_queues;
  ExceptionCounters exception;

  static int main(void* arg) {
    static_cast<LcoreWorker*>(arg)->run();
    return 0;
  }

 private:
  void run() noexcept {
    rte_mbuf* pkts[kMaxBurst];
    const uint32_t burst = std::min(options_.burst, kMaxBurst);
    uint32_t idle = 0;
    for (uint64_t iter = 0; !shared_.stop.load(std::memory_order_relaxed); ++iter) {
      uint32_t got = poll_once(pkts, burst);
      // The kernel's frames are few (SSH, BGP, replies) and a TAP read is a system call: read
      // them when idle and every 64th poll under load, not on every poll.
      if (!tap_rx_queues.empty() && (got == 0 || (iter & 63) == 0)) got += poll_kernel(pkts, burst);
      if (got == 0) idle_pause(idle, options_.idle_sleep_us);
      else idle = 0;
      if ((iter & 63) == 0 || (got == 0 && (idle & 63) == 1)) housekeeping();
    }
    // Stop: what the NIC queues and the ring hold is decoded. A dispatcher may still be
    // emptying the NIC into our ring, so the ring is read until the dispatcher is done and
    // the ring is empty; direct queues until a few polls in a row bring nothing. A link that
    // keeps delivering never runs dry, so no more is read than the queues and the ring can
    // hold; a full pool waits for the exporter, which keeps draining. Bounded in time too.
    constexpr uint64_t kStopLimitS = 10;
    const uint64_t deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() * kStopLimitS;
    const uint64_t most = (static_cast<uint64_t>(options_.rx_descriptors) * (queues.size() + 1) +
                           (ring != nullptr ? options_.dispatch_ring : 0)) * 2;
    uint64_t taken = 0;
    for (int quiet = 0; quiet < 4 && taken < most && rte_get_tsc_cycles() < deadline;) {
      const bool dispatcher_done = shared_.dispatch_done.load(std::memory_order_acquire);
      if (!shard_.has_room()) {
        housekeeping();
        rte_delay_us_sleep(50);
      } else if (const uint32_t n = poll_once(pkts, burst); n > 0) {
        taken += n;
        quiet = 0;
      } else if (dispatcher_done) {
        ++quiet;
      } else {
        rte_pause();
      }
    }
    housekeeping();
    shard_.finish();
  }

  uint32_t poll_once(rte_mbuf** pkts, uint32_t burst) noexcept {
    if (!shard_.has_room()) {
      ++shard_.counters().rx_paused;
      return 0;
    }
    uint32_t got = 0;
    for (const RxQueue& q : queues) {
      const uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, static_cast<uint16_t>(burst));
      if (n > 0) handle_burst(pkts, n);
      got += n;
    }
    if (ring != nullptr) {
      const unsigned n = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(pkts), burst, nullptr);
      if (n > 0) handle_burst(pkts, n);
      got += n;
    }
    return got;
  }

  // Frames for the kernel are moved to kernel_ and handed to the TAP; the rest are freed in
  // bulk (pkts is compacted in place: slot `kept` <= i is already read).
  void handle_burst(rte_mbuf** pkts, uint32_t n) noexcept {
    const uint64_t now = wall_ns();
    WorkerCounters& c = shard_.counters();
    uint32_t kept = 0;
    uint16_t for_kernel = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
      rte_mbuf* m = pkts[i];
      ++c.rx_frames;
      c.rx_bytes += m->pkt_len;
      const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
      if (m->nb_segs > 1) {
        // Jumbo frames in a pool with a smaller data room arrive chained: read them through.
        ++c.multi_segment;
        if (m->pkt_len > linear_.size()) {
          ++c.oversize;
          pkts[kept++] = m;
          continue;
        }
        data = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, m->pkt_len, linear_.data()));
        if (data == nullptr) {
          pkts[kept++] = m;
          continue;
        }
      }
      const decode::Bytes frame(reinterpret_cast<const std::byte*>(data), m->pkt_len);
      if (handle_frame(frame, m->port, now) && admit_to_kernel(now)) {
        kernel_[for_kernel++] = m;
      } else {
        pkts[kept++] = m;
      }
    }
    rte_pktmbuf_free_bulk(pkts, kept);
    if (for_kernel > 0) to_kernel(for_kernel);
  }

  // Decodes, answers or counts one frame; true when it is nobody's here and goes to the kernel.
  bool handle_frame(decode::Bytes frame, uint16_t port, uint64_t now) noexcept {
    WorkerCounters& c = shard_.counters();
    if (const ParsedPacket* p = extractor_.extract(LinkType::kEthernet, frame, now)) {
      const int listener = listener_of(p->dst_port);
      if (listener >= 0) {
        shard_.decode(to_datagram(*p, now), static_cast<uint16_t>(listener));
        return false;
      }
      // A datagram completed from fragments has no single frame to pass on: counted, as
      // without the TAP.
      if (tap_port >= 0 && extractor_.last_status() == ParseStatus::kUdp) return true;
      ++c.non_listener;
      return false;
    }
    if (port < responders.size() && responders[port].enabled() && reply(frame, port)) return false;
    // Fragments wait in the reassembler; truncated and malformed frames stay dropped (counted).
    const ParseStatus s = extractor_.last_status();
    return tap_port >= 0 && (s == ParseStatus::kNotIp || s == ParseStatus::kNotUdp);
  }

  // A token bucket of exception_rate frames a second, as many deep: whether one more frame may
  // go to the kernel now (else it is counted in rate_limited and dropped).
  bool admit_to_kernel(uint64_t now_ns) noexcept {
    const uint64_t rate = options_.exception_rate;
    if (rate == 0) return true;
    constexpr uint64_t kNs = 1'000'000'000;
    // Tokens in billionths of a frame; a pause longer than a second refills the bucket anyway.
    const uint64_t elapsed = std::min(now_ns - std::min(now_ns, bucket_ns_), kNs);
    bucket_ns_ = now_ns;
    tokens_ = std::min(tokens_ + elapsed * rate, rate * kNs);
    if (tokens_ >= kNs) {
      tokens_ -= kNs;
      return true;
    }
    bump(exception.rate_limited, 1);
    return false;
  }

  // Hands kernel_[0, n) to this worker's TAP TX queue; what it does not take is dropped.
  void to_kernel(uint16_t n) noexcept {
    const uint16_t sent = rte_eth_tx_burst(static_cast<uint16_t>(tap_port), tap_queue, kernel_, n);
    if (sent < n) {
      rte_pktmbuf_free_bulk(kernel_ + sent, n - sent);
      bump(exception.drops, n - sent);
    }
    bump(exception.to_kernel, sent);
  }

  // Reads what the kernel sent on the TAP RX queues this worker reads and transmits it on the
  // worker's own TX queue of its data port (the one replies use; only a worker that has one is
  // given RX queues to read).
  uint32_t poll_kernel(rte_mbuf** pkts, uint32_t burst) noexcept {
    uint32_t got = 0;
    for (const uint16_t q : tap_rx_queues) {
      const uint16_t n = rte_eth_rx_burst(static_cast<uint16_t>(tap_port), q, pkts,
                                          static_cast<uint16_t>(burst));
      if (n == 0) continue;
      got += n;
      const uint16_t sent = rte_eth_tx_burst(static_cast<uint16_t>(tx_port), tx_queue, pkts, n);
      if (sent < n) {
        rte_pktmbuf_free_bulk(pkts + sent, n - sent);
        bump(exception.drops, n - sent);
      }
      bump(exception.from_kernel, sent);
    }
    return got;
  }

  int listener_of(uint16_t dst_port) const noexcept {
    for (size_t i = 0; i < options_.listener_ports.size(); ++i) {
      if (options_.listener_ports[i] == dst_port) return static_cast<int>(i);
    }
    return -1;
  }

  // True when the responder answers the frame (sent, or counted in tx_failed).
  bool reply(decode::Bytes frame, uint16_t port) noexcept {
    size_t length = 0;
    if (responders[port].respond(frame, reply_, length) == ControlReply::kNone) return false;
    WorkerCounters& c = shard_.counters();
    if (tx_port != static_cast<int>(port)) {
      ++c.tx_failed;
      return true;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    char* out = m != nullptr ? rte_pktmbuf_append(m, static_cast<uint16_t>(length)) : nullptr;
    if (out == nullptr) {
      if (m != nullptr) rte_pktmbuf_free(m);
      ++c.tx_failed;
      return true;
    }
    std::memcpy(out, reply_.data(), length);
    if (rte_eth_tx_burst(port, tx_queue, &m, 1) == 1) {
      ++c.control_replies;
    } else {
      rte_pktmbuf_free(m);
      ++c.tx_failed;
    }
    return true;
  }

  void housekeeping() noexcept {
    extractor_.expire(wall_ns());
    shard_.take_frame_counters(extractor_.counters(), extractor_.reassembly_counters());
    shard_.housekeeping(wall_ns() / 1'000'000);
  }

  const DpdkOptions& options_;
  Shared& shared_;
  rte_mempool* pool_;
  DecodeShard shard_;
  UdpExtractor extractor_;
  std::vector<uint8_t> linear_;
  std::vector<uint8_t> reply_;
  rte_mbuf* kernel_[kMaxBurst] = {};
  uint64_t bucket_ns_ = 0;  // admit_to_kernel()'s last refill
  uint64_t tokens_ = uint64_t{options_.exception_rate} * 1'000'000'000;  // a full bucket
};

// Software RSS: reads every RX queue and hands each frame to the ring of the worker that owns
// its exporter. When a worker's ring is full the dispatcher holds what did not fit and stops
// reading the NIC until there is room, so a busy worker slows intake (the NIC then counts its
// own drops in imissed) instead of losing frames already received; a worker that takes
// nothing for kStallLimitMs has its held frames dropped (counted), so it cannot stall the rest.
class Dispatcher {
 public:
  static constexpr uint64_t kStallLimitMs = 100;

  Dispatcher(const DpdkOptions& o, Shared& shared) : options_(o), shared_(shared) {}
  std::vector<RxQueue> queues;
  std::vector<rte_ring*> rings;

  static int main(void* arg) {
    static_cast<Dispatcher*>(arg)->run();
    return 0;
  }

  void size_for(size_t workers) {
    held_.assign(workers, std::vector<rte_mbuf*>(kMaxBurst));
    held_count_.assign(workers, 0);
    held_first_.assign(workers, 0);
  }

 private:
  void run() noexcept {
    uint32_t idle = 0;
    while (!shared_.stop.load(std::memory_order_relaxed)) {
      if (poll_once() == 0) idle_pause(idle, options_.idle_sleep_us);
      else idle = 0;
    }
    // Stop: empty the NIC queues into the rings (no more than they can hold: a busy link
    // never runs dry), waiting for room where a worker is behind; bounded in time.
    const uint64_t deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() * 10;
    const uint64_t most = static_cast<uint64_t>(options_.rx_descriptors) * queues.size() * 2;
    uint64_t taken = 0;
    for (int quiet = 0; quiet < 4 && taken < most && rte_get_tsc_cycles() < deadline;) {
      if (const uint32_t n = poll_once(); n > 0) {
        taken += n;
        quiet = 0;
      } else if (any_held()) {
        rte_pause();
      } else {
        ++quiet;
      }
    }
    for (uint32_t w = 0; w < held_.size(); ++w) drop_held(w);
    publish();
    shared_.dispatch_done.store(true, std::memory_order_release);
  }

  bool any_held() const noexcept {
    for (uint32_t c : held_count_) {
      if (c != 0) return true;
    }
    return false;
  }

  // Offers worker w's held frames to its ring; true when none are left.
  bool offer(uint32_t w) noexcept {
    uint32_t& n = held_count_[w];
    if (n == 0) return true;
    const unsigned sent = rte_ring_sp_enqueue_burst(
        rings[w], reinterpret_cast<void* const*>(held_[w].data() + held_first_[w]), n, nullptr);
    dispatched_ += sent;
    held_first_[w] += sent;
    n -= sent;
    if (n == 0) {
      held_first_[w] = 0;
      return true;
    }
    return false;
  }

  void drop_held(uint32_t w) noexcept {
    if (held_count_[w] == 0) return;
    ring_full_ += held_count_[w];
    rte_pktmbuf_free_bulk(held_[w].data() + held_first_[w], held_count_[w]);
    held_count_[w] = 0;
    held_first_[w] = 0;
  }

  void publish() noexcept {
    shared_.dispatched.store(dispatched_, std::memory_order_relaxed);
    shared_.dispatch_ring_full.store(ring_full_, std::memory_order_relaxed);
  }

  uint32_t poll_once() noexcept {
    const uint32_t workers = static_cast<uint32_t>(rings.size());
    bool blocked = false;
    for (uint32_t w = 0; w < workers; ++w) blocked = !offer(w) || blocked;
    if (blocked) {
      publish();
      const uint64_t now = rte_get_tsc_cycles();
      if (stalled_since_ == 0) stalled_since_ = now;
      if (now - stalled_since_ < rte_get_tsc_hz() / 1000 * kStallLimitMs) return 0;
      for (uint32_t w = 0; w < workers; ++w) drop_held(w);
    }
    stalled_since_ = 0;
    const uint32_t burst = std::min(options_.burst, kMaxBurst);
    uint32_t got = 0;
    for (const RxQueue& q : queues) {
      rte_mbuf* pkts[kMaxBurst];
      const uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, static_cast<uint16_t>(burst));
      if (n == 0) continue;
      got += n;
      for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        const uint32_t w = source_shard(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, workers);
        held_[w][held_count_[w]++] = m;
      }
      for (uint32_t w = 0; w < workers; ++w) blocked = !offer(w) || blocked;
      if (blocked) break;  // read no more until the workers have room
    }
    publish();
    return got;
  }

  const DpdkOptions& options_;
  Shared& shared_;
  std::vector<std::vector<rte_mbuf*>> held_;  // per worker: frames not yet in its ring
  std::vector<uint32_t> held_count_;
  std::vector<uint32_t> held_first_;
  uint64_t stalled_since_ = 0;
  uint64_t dispatched_ = 0;
  uint64_t ring_full_ = 0;
};

bool g_eal_initialised = false;

}  // namespace

struct DpdkRuntime::Impl {
  DpdkOptions options;
  Shared shared;
  rte_mempool* pool = nullptr;
  std::vector<uint16_t> ports;  // data ports: polled for flows; the TAP is not one of them
  std::vector<std::string> port_names;
  int tap_port = -1;
  std::vector<std::unique_ptr<LcoreWorker>> workers;
  std::unique_ptr<Dispatcher> dispatcher;
  std::vector<rte_ring*> rings;
  std::string description;
  bool launched = false;
  bool shut_down = false;
  bool ports_closed = false;

  struct PortAtomics {
    std::atomic<uint64_t> ipackets{0}, ibytes{0}, imissed{0}, ierrors{0}, rx_nombuf{0}, opackets{0};
  };
  std::vector<std::unique_ptr<PortAtomics>> port_stats;

  bool init_eal(std::string& error);
  bool setup_ports(std::string& error);
  bool setup_exception_tap(std::string& error);
};

bool DpdkRuntime::Impl::init_eal(std::string& error) {
  if (g_eal_initialised) {
    error = "EAL is already initialised in this process";
    return false;
  }
  std::vector<std::string> args = eal_arguments(options);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    std::string joined;
    for (const std::string& a : args) joined += " " + a;
    error = "rte_eal_init failed (" + rte_error_text() + ") with arguments:" + joined;
    return false;
  }
  g_eal_initialised = true;
  return true;
}

bool DpdkRuntime::Impl::setup_ports(std::string& error) {
  const uint32_t nworkers = static_cast<uint32_t>(options.worker_lcores.size());
  const std::string tap_device = exception_tap_device(options);
  if (!tap_device.empty()) {
    uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(tap_device.c_str(), &id) != 0) {
      error = "exception_tap \"" + options.exception_tap + "\": no " + tap_device +
              " port (is librte_net_tap installed, /dev/net/tun present, CAP_NET_ADMIN given?)";
      return false;
    }
    tap_port = id;
  }
  for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; ++p) {
    if (rte_eth_dev_is_valid_port(p) != 0 && p != tap_port) ports.push_back(p);
  }
  if (ports.empty()) {
    error = "no DPDK port: check [collector.dpdk] devices (and the NIC's vfio-pci binding)";
    return false;
  }
  if (rte_lcore_id() != options.exporter_lcore) {
    error = "the EAL main lcore is " + std::to_string(rte_lcore_id()) +
            ", not exporter_lcores[0] = " + std::to_string(options.exporter_lcore);
    return false;
  }
  for (uint32_t l : options.worker_lcores) {
    if (!rte_lcore_is_enabled(l) || l == options.exporter_lcore) {
      error = "worker lcore " + std::to_string(l) +
              " is not an EAL worker lcore: list it in -l/--lcores and keep it apart from the "
              "exporter lcore";
      return false;
    }
  }
  // Hardware RSS needs every port to hash UDP and fragments on the IP source alone and to
  // have a queue per worker; otherwise a dispatch lcore does it in software.
  bool hardware = nworkers > 1;
  for (uint16_t port : ports) {
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(port, &info) != 0) {
      error = "cannot read the device info of port " + std::to_string(port);
      return false;
    }
    if ((info.flow_type_rss_offloads & RTE_ETH_RSS_L3_SRC_ONLY) == 0 || info.max_rx_queues < nworkers) {
      hardware = false;
    }
  }
  if (options.rss == RssMode::kSoftware) hardware = false;
  if (options.rss == RssMode::kHardware && nworkers > 1 && !hardware) {
    error = "rss = \"hardware\": a port cannot hash on the IP source alone "
            "(RTE_ETH_RSS_L3_SRC_ONLY) with one queue per worker; use rss = \"auto\"";
    return false;
  }
  const bool software = nworkers > 1 && !hardware;
  const uint32_t dispatch = dispatch_lcore(options);
  if (software && (!rte_lcore_is_enabled(dispatch) || dispatch == options.exporter_lcore ||
                   std::count(options.worker_lcores.begin(), options.worker_lcores.end(), dispatch))) {
    error = "software RSS needs a dispatch lcore of its own: lcore " + std::to_string(dispatch) +
            " is not a free EAL lcore (set dispatch_lcore and list it in --lcores)";
    return false;
  }

  for (uint32_t w = 0; w < nworkers; ++w) {
    workers.push_back(std::make_unique<LcoreWorker>(options, w, shared, pool));
  }
  if (software) {
    dispatcher = std::make_unique<Dispatcher>(options, shared);
    dispatcher->size_for(nworkers);
    shared.dispatch_done.store(false);
    for (uint32_t w = 0; w < nworkers; ++w) {
      const std::string name = "fg_rss_" + std::to_string(w);
      rte_ring* r = rte_ring_create(name.c_str(), options.dispatch_ring, SOCKET_ID_ANY,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (r == nullptr) {
        error = "cannot create the dispatch ring " + name + ": " + rte_error_text();
        return false;
      }
      rings.push_back(r);
      workers[w]->ring = r;
      dispatcher->rings.push_back(r);
    }
  }

  std::string queues_text;
  for (uint16_t port : ports) {
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(port, name);
    port_names.emplace_back(name);
    port_stats.push_back(std::make_unique<PortAtomics>());
    rte_eth_dev_info info{};
    rte_eth_dev_info_get(port, &info);
    const uint16_t nrx = static_cast<uint16_t>(
        hardware ? nworkers : std::min<uint32_t>(options.rx_queues, info.max_rx_queues));
    // Replies go out on one TX queue per worker, where the device has them.
    const uint16_t ntx = static_cast<uint16_t>(std::min<uint32_t>(nworkers, info.max_tx_queues));
    rte_eth_conf conf{};
    if (hardware) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf =
          ((RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads) | RTE_ETH_RSS_L3_SRC_ONLY;
    }
    if ((info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) != 0) {
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
    }
    int rc = rte_eth_dev_configure(port, nrx, ntx, &conf);
    if (rc != 0) {
      error = std::string("cannot configure port ") + name + ": " + std::strerror(-rc);
      return false;
    }
    uint16_t nrxd = static_cast<uint16_t>(options.rx_descriptors);
    uint16_t ntxd = 512;
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrxd, &ntxd);
    const int socket = rte_eth_dev_socket_id(port) < 0 ? SOCKET_ID_ANY : rte_eth_dev_socket_id(port);
    for (uint16_t q = 0; q < nrx; ++q) {
      rte_eth_rxconf rxconf = info.default_rxconf;
      rxconf.offloads = conf.rxmode.offloads;
      rc = rte_eth_rx_queue_setup(port, q, nrxd, static_cast<unsigned>(socket), &rxconf, pool);
      if (rc != 0) {
        error = std::string("cannot set up RX queue ") + std::to_string(q) + " of " + name + ": " +
                std::strerror(-rc);
        return false;
      }
      const RxQueue rq{port, q};
      if (software) dispatcher->queues.push_back(rq);
      else if (hardware) workers[q]->queues.push_back(rq);
      else workers[0]->queues.push_back(rq);
    }
    for (uint16_t q = 0; q < ntx; ++q) {
      rc = rte_eth_tx_queue_setup(port, q, ntxd, static_cast<unsigned>(socket), nullptr);
      if (rc != 0) {
        error = std::string("cannot set up TX queue ") + std::to_string(q) + " of " + name + ": " +
                std::strerror(-rc);
        return false;
      }
    }
    rc = rte_eth_dev_start(port);
    if (rc != 0) {
      error = std::string("cannot start port ") + name + ": " + std::strerror(-rc);
      return false;
    }
    rte_eth_allmulticast_enable(port);  // IPv6 neighbour solicitations go to a multicast group
    rte_ether_addr mac{};
    rte_eth_macaddr_get(port, &mac);
    std::array<uint8_t, 6> mac_bytes{};
    std::memcpy(mac_bytes.data(), mac.addr_bytes, 6);
    for (uint32_t w = 0; w < nworkers; ++w) {
      auto& r = workers[w]->responders;
      if (r.size() <= port) r.resize(port + 1u);
      r[port] = ControlResponder(mac_bytes, options.addresses);
      // Single-port appliances are the norm: a worker transmits on the first port it can.
      if (workers[w]->tx_port < 0 && w < ntx) {
        workers[w]->tx_port = port;
        workers[w]->tx_queue = static_cast<uint16_t>(w);
      }
    }
    queues_text += (queues_text.empty() ? "" : ", ") + std::string(name) + " (" +
                   std::to_string(nrx) + " RX, " + std::to_string(ntx) + " TX queues)";
  }
  std::string lcores;
  for (uint32_t l : options.worker_lcores) lcores += (lcores.empty() ? "" : ",") + std::to_string(l);
  description = "dpdk mode: " + queues_text + "; " + std::to_string(nworkers) + " worker lcore(s) [" +
                lcores + "], exporter lcore " + std::to_string(options.exporter_lcore) + "; " +
                (nworkers == 1 ? std::string("one worker polls every queue (no RSS needed)")
                 : hardware    ? std::string("hardware RSS on the IP source address")
                               : "software RSS: dispatch lcore " + std::to_string(dispatch) +
                                     " hashes the exporter address to per-worker rings");
  return tap_port < 0 || setup_exception_tap(error);
}

// The TAP gets one queue pair per worker: net_tap wants as many RX as TX queues, TX queues are
// not thread safe, and the kernel spreads what it sends over all the pairs (by flow hash), so
// each worker owns one pair and polls its RX. Its MAC becomes the first data port's, so the
// kernel takes unicast frames sent to the NIC as its own and its replies leave with the NIC's
// address.
bool DpdkRuntime::Impl::setup_exception_tap(std::string& error) {
  const auto port = static_cast<uint16_t>(tap_port);
  const auto nworkers = static_cast<uint16_t>(workers.size());
  const std::string what = "exception_tap \"" + options.exception_tap + "\": ";
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port, &info) != 0) {
    error = what + "cannot read the device info of the TAP port";
    return false;
  }
  if (info.max_rx_queues < nworkers || info.max_tx_queues < nworkers) {
    error = what + "net_tap offers " + std::to_string(std::min(info.max_rx_queues, info.max_tx_queues)) +
            " queue pairs, one per worker lcore is needed (" + std::to_string(nworkers) + ")";
    return false;
  }
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port, nworkers, nworkers, &conf);
  if (rc != 0) {
    error = what + "cannot configure the TAP port: " + std::strerror(-rc);
    return false;
  }
  uint16_t nrxd = kTapDescriptors;
  uint16_t ntxd = kTapDescriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrxd, &ntxd);
  for (uint16_t q = 0; q < nworkers; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, nrxd, SOCKET_ID_ANY, nullptr, pool);
    if (rc == 0) rc = rte_eth_tx_queue_setup(port, q, ntxd, SOCKET_ID_ANY, nullptr);
    if (rc != 0) {
      error = what + "cannot set up TAP queue pair " + std::to_string(q) + ": " + std::strerror(-rc);
      return false;
    }
  }
  rte_ether_addr mac{};
  rte_eth_macaddr_get(ports.front(), &mac);
  rc = rte_eth_dev_default_mac_addr_set(port, &mac);
  if (rc != 0) {
    error = what + "cannot give the TAP the data port's MAC address: " + std::strerror(-rc);
    return false;
  }
  rc = rte_eth_dev_start(port);
  if (rc != 0) {
    error = what + "cannot start the TAP port: " + std::strerror(-rc);
    return false;
  }
  // A pair's RX is read by its own worker when that worker has a TX queue on a data port (a
  // device may have fewer TX queues than workers), else by the first worker that has one: the
  // pair's RX and TX are separate DPDK queues, so each queue is still used by one lcore.
  const auto can_send = [](const std::unique_ptr<LcoreWorker>& w) { return w->tx_port >= 0; };
  const auto first_sender = std::find_if(workers.begin(), workers.end(), can_send);
  if (first_sender == workers.end()) {
    error = what + "no worker has a TX queue on a data port for the kernel's frames";
    return false;
  }
  for (uint16_t w = 0; w < nworkers; ++w) {
    workers[w]->tap_port = port;
    workers[w]->tap_queue = w;
    LcoreWorker& reader = can_send(workers[w]) ? *workers[w] : **first_sender;
    reader.tap_rx_queues.push_back(w);
  }
  description += "; frames for no listener go to kernel interface " + options.exception_tap + " (" +
                 exception_tap_device(options) + ", " + std::to_string(nworkers) +
                 " queue pair(s)), its frames out of " + port_names.front();
  return true;
}

DpdkRuntime::DpdkRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DpdkRuntime::~DpdkRuntime() { shutdown(); }

std::unique_ptr<DpdkRuntime> DpdkRuntime::create(const DpdkOptions& options, std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (impl->options.worker_lcores.empty()) impl->options.worker_lcores = {1};
  if (!impl->init_eal(error)) return nullptr;
  auto runtime = std::unique_ptr<DpdkRuntime>(new DpdkRuntime(std::move(impl)));
  Impl& m = *runtime->impl_;
  const uint16_t data_room = static_cast<uint16_t>(
      m.options.mbuf_data_room == 0 ? RTE_MBUF_DEFAULT_BUF_SIZE
                                    : m.options.mbuf_data_room + RTE_PKTMBUF_HEADROOM);
  m.pool = rte_pktmbuf_pool_create("fg_mbufs", m.options.mbufs, 256, 0, data_room, SOCKET_ID_ANY);
  if (m.pool == nullptr) {
    error = "cannot create the mbuf pool (" + std::to_string(m.options.mbufs) +
            " mbufs): " + rte_error_text() + "; lower [collector.dpdk] mbufs or give EAL more memory";
    return nullptr;
  }
  if (!m.setup_ports(error)) return nullptr;
  return runtime;
}

const std::string& DpdkRuntime::description() const noexcept { return impl_->description; }

std::vector<DecodeShard*> DpdkRuntime::shards() noexcept {
  std::vector<DecodeShard*> out;
  for (auto& w : impl_->workers) out.push_back(&w->shard());
  return out;
}

bool DpdkRuntime::launch(std::string& error) {
  Impl& m = *impl_;
  for (size_t w = 0; w < m.workers.size(); ++w) {
    const unsigned lcore = m.options.worker_lcores[w];
    if (rte_eal_remote_launch(&LcoreWorker::main, m.workers[w].get(), lcore) != 0) {
      error = "cannot launch worker lcore " + std::to_string(lcore);
      request_stop();
      return false;
    }
  }
  if (m.dispatcher) {
    const unsigned lcore = dispatch_lcore(m.options);
    if (rte_eal_remote_launch(&Dispatcher::main, m.dispatcher.get(), lcore) != 0) {
      error = "cannot launch the dispatch lcore " + std::to_string(lcore);
      m.shared.dispatch_done.store(true);
      request_stop();
      return false;
    }
  }
  m.launched = true;
  return true;
}

void DpdkRuntime::request_stop() noexcept { impl_->shared.stop.store(true, std::memory_order_relaxed); }

bool DpdkRuntime::finished() const noexcept {
  for (const auto& w : impl_->workers) {
    if (!w->shard().finished()) return false;
  }
  return true;
}

void DpdkRuntime::shutdown() noexcept {
  Impl& m = *impl_;
  if (m.shut_down) return;
  m.shut_down = true;
  request_stop();
  rte_eal_mp_wait_lcore();
  refresh_port_figures();
  m.ports_closed = true;
  for (uint16_t port : m.ports) {
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
  }
  if (m.tap_port >= 0) {
    rte_eth_dev_stop(static_cast<uint16_t>(m.tap_port));
    rte_eth_dev_close(static_cast<uint16_t>(m.tap_port));
  }
  for (rte_ring* r : m.rings) rte_ring_free(r);
  m.rings.clear();
  rte_eal_cleanup();
}

void DpdkRuntime::refresh_port_figures() noexcept {
  Impl& m = *impl_;
  if (m.ports_closed) return;  // the figures read just before closing stay
  // port_stats grows as ports are set up: a start-up that failed half way has fewer.
  for (size_t i = 0; i < m.port_stats.size(); ++i) {
    rte_eth_stats s{};
    if (rte_eth_stats_get(m.ports[i], &s) != 0) continue;
    Impl::PortAtomics& a = *m.port_stats[i];
    a.ipackets.store(s.ipackets, std::memory_order_relaxed);
    a.ibytes.store(s.ibytes, std::memory_order_relaxed);
    a.imissed.store(s.imissed, std::memory_order_relaxed);
    a.ierrors.store(s.ierrors, std::memory_order_relaxed);
    a.rx_nombuf.store(s.rx_nombuf, std::memory_order_relaxed);
    a.opackets.store(s.opackets, std::memory_order_relaxed);
  }
}

DpdkFigures DpdkRuntime::figures() const {
  const Impl& m = *impl_;
  DpdkFigures f;
  for (size_t i = 0; i < m.port_stats.size(); ++i) {
    const Impl::PortAtomics& a = *m.port_stats[i];
    DpdkPortFigures p;
    p.name = m.port_names[i];
    p.ipackets = a.ipackets.load(std::memory_order_relaxed);
    p.ibytes = a.ibytes.load(std::memory_order_relaxed);
    p.imissed = a.imissed.load(std::memory_order_relaxed);
    p.ierrors = a.ierrors.load(std::memory_order_relaxed);
    p.rx_nombuf = a.rx_nombuf.load(std::memory_order_relaxed);
    p.opackets = a.opackets.load(std::memory_order_relaxed);
    f.ports.push_back(std::move(p));
  }
  f.dispatched = m.shared.dispatched.load(std::memory_order_relaxed);
  f.dispatch_ring_full = m.shared.dispatch_ring_full.load(std::memory_order_relaxed);
  for (const auto& w : m.workers) {
    f.to_kernel += w->exception.to_kernel.load(std::memory_order_relaxed);
    f.from_kernel += w->exception.from_kernel.load(std::memory_order_relaxed);
    f.exception_drops += w->exception.drops.load(std::memory_order_relaxed);
    f.exception_rate_limited += w->exception.rate_limited.load(std::memory_order_relaxed);
  }
  return f;
}

}  // namespace flowgate::dataplane
