#include "dataplane/af_packet_source.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "dataplane/bpf_programs.hpp"
#include "dataplane/udp_extractor.hpp"

namespace flowgate::dataplane {
namespace {

// TPACKET_V3 packs frames of any size into a block; the frame size only has to divide it.
constexpr uint32_t kFrameSize = 2048;
// How long a poll() waits for a block: how promptly an idle worker sees a stop request.
constexpr int kPollTimeoutMs = 20;

uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}
uint64_t wall_ns() { return clock_ns(CLOCK_REALTIME); }

void pause_us(long us) {
  const timespec t{0, us * 1000};
  nanosleep(&t, nullptr);
}

std::string errno_text() { return std::strerror(errno); }

bool attach(int fd, int level, int option, const std::vector<sock_filter>& program) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.size());
  prog.filter = const_cast<sock_filter*>(program.data());
  return setsockopt(fd, level, option, &prog, sizeof prog) == 0;
}

// One worker thread: its packet socket and mapped ring, its frame parser and reassembler, its
// shard. Only this thread touches any of it once started.
class RingWorker {
 public:
  RingWorker(const AfPacketOptions& o, uint32_t index, const std::atomic<bool>& stop)
      : options_(o), index_(index), stop_(stop), shard_(shard_config(o, index)) {}
  ~RingWorker() {
    join();
    if (ring_ != nullptr) munmap(ring_, ring_bytes_);
    if (fd_ >= 0) close(fd_);
  }
  RingWorker(const RingWorker&) = delete;
  RingWorker& operator=(const RingWorker&) = delete;

  static ShardConfig shard_config(const AfPacketOptions& o, uint32_t index) {
    ShardConfig s;
    s.index = index;
    s.listener_types = o.listener_types;
    s.blocks = o.blocks_per_worker;
    return s;
  }

  // Socket, ring and filter first, bind last: the socket sees no packet before its filter.
  // With a fanout the filter at first drops everything: until every socket has joined the
  // group, a bound socket receives on its own, which would split exporters.
  bool open(int ifindex, const std::vector<sock_filter>& filter, std::string& error) {
    const std::string where = " on " + options_.interface;
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      if (errno == EPERM || errno == EACCES) {
        error = "af_packet mode needs CAP_NET_RAW to open a packet socket" + where +
                " (run as root, or setcap cap_net_raw+ep on the binary, or add the capability "
                "to the container)";
      } else {
        error = "cannot open a packet socket" + where + ": " + errno_text();
      }
      return false;
    }
    const int version = TPACKET_V3;
    if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) {
      error = "TPACKET_V3 is not available" + where + ": " + errno_text();
      return false;
    }
    tpacket_req3 req{};
    req.tp_block_size = options_.block_size;
    req.tp_block_nr = options_.blocks;
    req.tp_frame_size = kFrameSize;
    req.tp_frame_nr = options_.block_size / kFrameSize * options_.blocks;
    req.tp_retire_blk_tov = options_.block_timeout_ms;
    if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) {
      error = "cannot set up a packet ring of " + std::to_string(options_.blocks) + " blocks of " +
              std::to_string(options_.block_size) + " bytes" + where + ": " + errno_text() +
              " (lower [collector.af_packet] blocks or block_size)";
      return false;
    }
    ring_bytes_ = static_cast<size_t>(options_.block_size) * options_.blocks;
    void* ring = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
    if (ring == MAP_FAILED) {
      error = "cannot map the packet ring (" + std::to_string(ring_bytes_) + " bytes)" + where +
              ": " + errno_text();
      return false;
    }
    ring_ = static_cast<uint8_t*>(ring);
    if (!attach(fd_, SOL_SOCKET, SO_ATTACH_FILTER, filter)) {
      error = "cannot attach the packet filter" + where + ": " + errno_text();
      return false;
    }
    // What this host sends out of the interface is not for the collector.
    const int one = 1;
    setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(fd_, reinterpret_cast<const sockaddr*>(&sll), sizeof sll) != 0) {
      error = "cannot bind a packet socket to " + options_.interface + ": " + errno_text();
      return false;
    }
    return true;
  }

  int fd() const noexcept { return fd_; }
  DecodeShard& shard() noexcept { return shard_; }

  void start() {
    thread_ = std::thread([this] { run(); });
    if (index_ < options_.cpus.size()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(options_.cpus[index_], &set);
      pthread_setaffinity_np(thread_.native_handle(), sizeof set, &set);
    }
    const std::string name = "fg-afpacket-" + std::to_string(index_);
    pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  tpacket_block_desc* block(uint32_t i) const noexcept {
    return reinterpret_cast<tpacket_block_desc*>(ring_ + static_cast<size_t>(i) * options_.block_size);
  }

  void run() noexcept {
    pollfd pfd{fd_, POLLIN | POLLERR, 0};
    for (uint64_t iter = 0; !stop_.load(std::memory_order_relaxed); ++iter) {
      const uint32_t got = take(options_.blocks);
      if (got == 0) {
        if (!shard_.has_room()) {
          pause_us(100);  // the exporter is behind: the ring backs up, the kernel counts drops
        } else if (!in_block_) {
          poll(&pfd, 1, kPollTimeoutMs);  // a retired block (full, or timed out) wakes us
        }
      }
      if ((iter & 63) == 0 || got == 0) housekeeping();
    }
    // Stop: the blocks already handed over are decoded, and the one being filled is retired
    // by the kernel within the block timeout, so it is waited for; bounded in time.
    const uint64_t deadline = clock_ns(CLOCK_MONOTONIC) +
                              (2ull * options_.block_timeout_ms + 50) * 1'000'000;
    while (clock_ns(CLOCK_MONOTONIC) < deadline) {
      if (!shard_.has_room()) {
        housekeeping();
        pause_us(50);
      } else if (take(options_.blocks) == 0) {
        poll(&pfd, 1, 5);
      }
    }
    housekeeping();
    shard_.finish();
  }

  // Walks the blocks the kernel has handed over, from where the last call stopped; returns
  // how many frames it took. Stops mid-block when the shard has no FlowBlock to spare, and
  // resumes there.
  uint32_t take(uint32_t most_blocks) noexcept {
    uint32_t frames = 0;
    for (uint32_t n = 0; n < most_blocks; ++n) {
      tpacket_block_desc* b = block(current_);
      if (!in_block_) {
        if ((__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
        in_block_ = true;
        left_ = b->hdr.bh1.num_pkts;
        next_ = reinterpret_cast<const uint8_t*>(b) + b->hdr.bh1.offset_to_first_pkt;
      }
      for (; left_ > 0; --left_) {
        if (!shard_.has_room()) {
          ++shard_.counters().rx_paused;
          return frames;
        }
        const auto* h = reinterpret_cast<const tpacket3_hdr*>(next_);
        handle_frame(*h);
        next_ += h->tp_next_offset;
        ++frames;
      }
      __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      in_block_ = false;
      current_ = current_ + 1 == options_.blocks ? 0 : current_ + 1;
    }
    return frames;
  }

  void handle_frame(const tpacket3_hdr& h) noexcept {
    WorkerCounters& c = shard_.counters();
    ++c.rx_frames;
    c.rx_bytes += h.tp_len;
    if (h.tp_snaplen < h.tp_len) {
      ++c.oversize;  // longer than a ring block holds: raise block_size
      return;
    }
    const uint64_t now = static_cast<uint64_t>(h.tp_sec) * 1'000'000'000 + h.tp_nsec;
    const decode::Bytes frame(reinterpret_cast<const std::byte*>(&h) + h.tp_mac, h.tp_snaplen);
    if (const ParsedPacket* p = extractor_.extract(LinkType::kEthernet, frame, now)) {
      const int listener = listener_of(p->dst_port);
      if (listener < 0) {
        ++c.non_listener;
        return;
      }
      shard_.decode(to_datagram(*p, now), static_cast<uint16_t>(listener));
    }
  }

  int listener_of(uint16_t dst_port) const noexcept {
    for (size_t i = 0; i < options_.listener_ports.size(); ++i) {
      if (options_.listener_ports[i] == dst_port) return static_cast<int>(i);
    }
    return -1;
  }

  void housekeeping() noexcept {
    extractor_.expire(wall_ns());
    shard_.take_frame_counters(extractor_.counters(), extractor_.reassembly_counters());
    // Reading the statistics resets them: they are summed here.
    tpacket_stats_v3 st{};
    socklen_t len = sizeof st;
    if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) ring_drops_ += st.tp_drops;
    shard_.counters().kernel_drops = ring_drops_;
    shard_.housekeeping(wall_ns() / 1'000'000);
  }

  const AfPacketOptions& options_;
  const uint32_t index_;
  const std::atomic<bool>& stop_;
  DecodeShard shard_;
  UdpExtractor extractor_;
  int fd_ = -1;
  uint8_t* ring_ = nullptr;
  size_t ring_bytes_ = 0;
  uint32_t current_ = 0;        // the block to read next
  bool in_block_ = false;       // current_ is ours and partly read
  uint32_t left_ = 0;           // frames of it still to read
  const uint8_t* next_ = nullptr;
  uint64_t ring_drops_ = 0;
  std::thread thread_;
};

}  // namespace

struct AfPacketSource::Impl {
  AfPacketOptions options;
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<RingWorker>> workers;
  std::string description;

  bool join_fanout(const std::vector<sock_filter>& filter, std::string& error);
};

// Every socket joins one group; the first asks the kernel for an id no other group in this
// network namespace has (PACKET_FANOUT_FLAG_UNIQUEID), the others join it by that id. Members
// are numbered in join order, so worker i is the program's result modulo the workers == i.
bool AfPacketSource::Impl::join_fanout(const std::vector<sock_filter>& filter, std::string& error) {
  const int mode = PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_DEFRAG;
  int value = (mode | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
  const int first = workers.front()->fd();
  if (setsockopt(first, SOL_PACKET, PACKET_FANOUT, &value, sizeof value) != 0) {
    error = "cannot create a packet fanout group on " + options.interface + ": " + errno_text();
    return false;
  }
  socklen_t len = sizeof value;
  if (getsockopt(first, SOL_PACKET, PACKET_FANOUT, &value, &len) != 0) {
    error = "cannot read the packet fanout group id: " + errno_text();
    return false;
  }
  const int id = value & 0xffff;
  for (size_t w = 1; w < workers.size(); ++w) {
    value = id | (mode << 16);
    if (setsockopt(workers[w]->fd(), SOL_PACKET, PACKET_FANOUT, &value, sizeof value) != 0) {
      error = "cannot join packet fanout group " + std::to_string(id) + ": " + errno_text();
      return false;
    }
  }
  if (!attach(first, SOL_PACKET, PACKET_FANOUT_DATA, source_hash_fanout())) {
    error = "cannot set the fanout program (PACKET_FANOUT_DATA): " + errno_text();
    return false;
  }
  for (const auto& w : workers) {
    if (!attach(w->fd(), SOL_SOCKET, SO_ATTACH_FILTER, filter)) {
      error = "cannot attach the listener-port filter on " + options.interface + ": " + errno_text();
      return false;
    }
  }
  description += "; fanout group " + std::to_string(id) +
                 " hashes the IP source address (cBPF), the kernel reassembles IPv4 first";
  return true;
}

AfPacketSource::AfPacketSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AfPacketSource::~AfPacketSource() {
  request_stop();
  join();
}

std::unique_ptr<AfPacketSource> AfPacketSource::create(const AfPacketOptions& options,
                                                       std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  Impl& m = *impl;
  const std::vector<sock_filter> filter = listener_filter(m.options.listener_ports);
  if (filter.empty()) {
    error = "af_packet mode needs 1 to 32 distinct listener ports";
    return nullptr;
  }
  const unsigned ifindex = if_nametoindex(m.options.interface.c_str());
  if (ifindex == 0) {
    error = "no interface \"" + m.options.interface + "\" ([collector.af_packet] interface): " +
            errno_text();
    return nullptr;
  }
  const uint32_t nworkers = std::max<uint32_t>(1, m.options.workers);
  const std::vector<sock_filter> drop_all = {sock_filter{BPF_RET | BPF_K, 0, 0, 0}};
  for (uint32_t w = 0; w < nworkers; ++w) {
    m.workers.push_back(std::make_unique<RingWorker>(m.options, w, m.stop));
    if (!m.workers.back()->open(static_cast<int>(ifindex), nworkers > 1 ? drop_all : filter, error)) {
      return nullptr;
    }
  }
  m.description = "af_packet mode: interface " + m.options.interface + ", " +
                  std::to_string(m.workers.size()) + " worker(s), each a TPACKET_V3 ring of " +
                  std::to_string(m.options.blocks) + " x " +
                  std::to_string(m.options.block_size / 1024) + " KiB blocks (block timeout " +
                  std::to_string(m.options.block_timeout_ms) + " ms)";
  if (m.workers.size() > 1) {
    if (!m.join_fanout(filter, error)) return nullptr;
  } else {
    m.description += "; one worker, no fanout";
  }
  return std::unique_ptr<AfPacketSource>(new AfPacketSource(std::move(impl)));
}

const std::string& AfPacketSource::description() const noexcept { return impl_->description; }

std::vector<DecodeShard*> AfPacketSource::shards() noexcept {
  std::vector<DecodeShard*> out;
  for (auto& w : impl_->workers) out.push_back(&w->shard());
  return out;
}

void AfPacketSource::start() {
  for (auto& w : impl_->workers) w->start();
}

void AfPacketSource::request_stop() noexcept { impl_->stop.store(true, std::memory_order_relaxed); }

bool AfPacketSource::finished() const noexcept {
  for (const auto& w : impl_->workers) {
    if (!w->shard().finished()) return false;
  }
  return true;
}

void AfPacketSource::join() {
  for (auto& w : impl_->workers) w->join();
}

}  // namespace flowgate::dataplane
