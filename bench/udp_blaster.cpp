// flowgate_udp_blaster: a bounded loopback load generator for the collector benchmarks.
//
// Pre-builds NetFlow v9 export datagrams (a template and `--records` data records each, over
// `--flows` distinct flows), or takes the UDP payloads of a capture, and sends them with
// sendmmsg from `--sources` sockets to 127.0.0.1:PORT (or ::1) at a fixed offered rate. It
// stops by itself after `--count` datagrams or `--duration` seconds, whichever comes first, and
// prints what it sent. Only loopback destinations are accepted.
//
//   flowgate_udp_blaster --port 2055 --rate 50000 --count 200000 --duration 10
//   flowgate_udp_blaster --port 2055 --rate 0 --pcap capture.pcap   # 0: as fast as it can

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/pcap_source.hpp"

namespace {

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  uint64_t rate = 0;         // datagrams/s offered; 0 = as fast as possible
  uint64_t count = 100'000;  // datagrams to send at most
  double duration = 10.0;    // seconds at most
  uint32_t records = 24;     // v9 data records per datagram
  uint32_t flows = 65'536;   // distinct flows cycled through
  uint32_t sources = 1;      // sender sockets (distinct source ports: exporters)
  uint32_t batch = 32;       // datagrams per sendmmsg
  std::string pcap;          // send this capture's UDP payloads instead
};

constexpr const char* kUsage =
    "usage: flowgate_udp_blaster --port PORT [--host 127.0.0.1|::1] [--rate DGRAMS_PER_S]\n"
    "         [--count N] [--duration SECONDS] [--records N] [--flows N] [--sources N]\n"
    "         [--batch N] [--pcap FILE]\n";

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 10);
    const bool numeric = end != v && *end == '\0';
    if (a == "--host") {
      o.host = v;
    } else if (a == "--pcap") {
      o.pcap = v;
    } else if (a == "--duration") {
      o.duration = std::strtod(v, &end);
      if (end == v || *end != '\0' || o.duration <= 0) return false;
    } else if (!numeric) {
      return false;
    } else if (a == "--port" && n > 0 && n < 65536) {
      o.port = static_cast<uint16_t>(n);
    } else if (a == "--rate") {
      o.rate = n;
    } else if (a == "--count" && n > 0) {
      o.count = n;
    } else if (a == "--records" && n > 0 && n <= 30) {
      o.records = static_cast<uint32_t>(n);
    } else if (a == "--flows" && n > 0 && n <= 16'777'216) {
      o.flows = static_cast<uint32_t>(n);
    } else if (a == "--sources" && n > 0 && n <= 64) {
      o.sources = static_cast<uint32_t>(n);
    } else if (a == "--batch" && n > 0 && n <= 1024) {
      o.batch = static_cast<uint32_t>(n);
    } else {
      return false;
    }
  }
  return o.port != 0;
}

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

// NetFlow v9 (RFC 3954) template 256: the fields a router commonly exports for IPv4.
constexpr uint16_t kTemplateFields[][2] = {{8, 4},  {12, 4}, {15, 4}, {7, 2},  {11, 2}, {4, 1},
                                           {5, 1},  {6, 1},  {10, 2}, {14, 2}, {1, 4},  {2, 4},
                                           {22, 4}, {21, 4}, {9, 1},  {13, 1}};
constexpr uint16_t kTemplateId = 256;
constexpr uint32_t kSequenceOffset = 12;
constexpr uint32_t kTemplateEvery = 64;  // v9 header: version, count, uptime, secs, sequence

// One datagram: header, optionally the template flowset, and a data flowset of `records` flows
// starting at flow number `first`.
std::vector<uint8_t> netflow9_datagram(uint32_t first, bool with_template, const Options& o,
                                       uint32_t unix_secs) {
  std::vector<uint8_t> b;
  put16(b, 9);
  put16(b, static_cast<uint16_t>((with_template ? 1 : 0) + o.records));  // template + data records
  put32(b, 3'600'000);                                                   // sysUpTime (ms)
  put32(b, unix_secs);
  put32(b, 0);  // sequence, patched per send
  put32(b, 1);  // source ID
  if (with_template) {
    put16(b, 0);
    put16(b, static_cast<uint16_t>(4 + 4 + 4 * std::size(kTemplateFields)));
    put16(b, kTemplateId);
    put16(b, static_cast<uint16_t>(std::size(kTemplateFields)));
    for (const auto& f : kTemplateFields) {
      put16(b, f[0]);
      put16(b, f[1]);
    }
  }
  // Data flowset.
  const size_t set_start = b.size();
  put16(b, kTemplateId);
  put16(b, 0);  // length, patched below
  for (uint32_t r = 0; r < o.records; ++r) {
    const uint32_t f = (first + r) % o.flows;
    put32(b, 0x0a000000 | f);              // src 10.x.y.z
    put32(b, 0xc6336400 | (f * 7 % 251));  // dst 198.51.100.x
    put32(b, 0x0a0000fe);                  // next hop
    put16(b, static_cast<uint16_t>(1024 + f % 60000));
    put16(b, (f & 3) == 0 ? 53 : 443);
    b.push_back((f & 3) == 0 ? 17 : 6);           // protocol
    b.push_back(0);                               // tos
    b.push_back((f & 3) == 0 ? 0 : 0x1b);         // tcp flags
    put16(b, static_cast<uint16_t>(1 + f % 48));  // input
    put16(b, static_cast<uint16_t>(1 + f % 47));  // output
    put32(b, 1500 * (1 + f % 20));                // bytes
    put32(b, 1 + f % 20);                         // packets
    put32(b, 3'590'000);                          // first switched
    put32(b, 3'599'000);                          // last switched
    b.push_back(24);
    b.push_back(24);
  }
  while ((b.size() - set_start) % 4 != 0) b.push_back(0);
  const auto len = static_cast<uint16_t>(b.size() - set_start);
  b[set_start + 2] = static_cast<uint8_t>(len >> 8);
  b[set_start + 3] = static_cast<uint8_t>(len);
  return b;
}

bool loopback(const std::string& host, sockaddr_storage& ss, socklen_t& len, uint16_t port) {
  std::memset(&ss, 0, sizeof ss);
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127) return false;
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) return false;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  sockaddr_storage to{};
  socklen_t to_len = 0;
  if (!loopback(o.host, to, to_len, o.port)) {
    std::fprintf(stderr, "flowgate_udp_blaster: %s is not a loopback address\n", o.host.c_str());
    return 2;
  }

  // The datagrams, built once.
  std::vector<std::vector<uint8_t>> pool;
  bool patch_sequence = false;
  if (!o.pcap.empty()) {
    flowgate::dataplane::PcapSource source;
    if (source.open(o.pcap) != flowgate::dataplane::PcapStatus::kOk) {
      std::fprintf(stderr, "flowgate_udp_blaster: %s\n", source.error().c_str());
      return 1;
    }
    source.run([&](const flowgate::dataplane::UdpDatagram& d) {
      const auto* p = reinterpret_cast<const uint8_t*>(d.payload.data());
      pool.emplace_back(p, p + d.payload.size());
    });
    if (pool.empty()) {
      std::fprintf(stderr, "flowgate_udp_blaster: no UDP datagrams in %s\n", o.pcap.c_str());
      return 1;
    }
  } else {
    const auto unix_secs = static_cast<uint32_t>(time(nullptr));
    const uint32_t n = std::max<uint32_t>(1, (o.flows + o.records - 1) / o.records);
    // Every source starts at the pool's first datagram, which carries the template; it is
    // repeated every kTemplateEvery datagrams, as exporters refresh templates periodically.
    for (uint32_t i = 0; i < n; ++i) {
      pool.push_back(netflow9_datagram(i * o.records, i % kTemplateEvery == 0, o, unix_secs));
    }
    patch_sequence = true;
  }

  std::vector<int> fds;
  for (uint32_t s = 0; s < o.sources; ++s) {
    const int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&to), to_len) != 0) {
      std::fprintf(stderr, "flowgate_udp_blaster: socket: %s\n", std::strerror(errno));
      return 1;
    }
    const int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    fds.push_back(fd);
  }

  std::vector<mmsghdr> msgs(o.batch);
  std::vector<iovec> iov(o.batch);
  std::vector<size_t> next(o.sources, 0);  // pool position per source
  std::vector<uint32_t> sequence(o.sources, 0);
  uint64_t offered = 0;  // datagrams handed to sendmmsg
  uint64_t sent = 0;     // ... and taken by the kernel
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  const uint64_t start = now_ns();
  const auto limit_ns = static_cast<uint64_t>(o.duration * 1e9);
  uint32_t source = 0;
  while (offered < o.count) {
    const uint64_t elapsed = now_ns() - start;
    if (elapsed >= limit_ns) break;
    if (o.rate != 0) {
      // Send a batch once the schedule allows all of it; sleep until then otherwise.
      const uint64_t due_ns = (offered + o.batch) * 1'000'000'000ull / o.rate;
      if (due_ns > elapsed) {
        const uint64_t wait = std::min<uint64_t>(due_ns - elapsed, limit_ns - elapsed);
        const timespec t{static_cast<time_t>(wait / 1'000'000'000),
                         static_cast<long>(wait % 1'000'000'000)};
        nanosleep(&t, nullptr);
        continue;
      }
    }
    const auto n = static_cast<uint32_t>(std::min<uint64_t>(o.batch, o.count - offered));
    for (uint32_t i = 0; i < n; ++i) {
      std::vector<uint8_t>& d = pool[next[source]];
      next[source] = (next[source] + 1) % pool.size();
      if (patch_sequence) {
        const uint32_t seq = sequence[source]++;
        d[kSequenceOffset] = static_cast<uint8_t>(seq >> 24);
        d[kSequenceOffset + 1] = static_cast<uint8_t>(seq >> 16);
        d[kSequenceOffset + 2] = static_cast<uint8_t>(seq >> 8);
        d[kSequenceOffset + 3] = static_cast<uint8_t>(seq);
      }
      iov[i] = iovec{d.data(), d.size()};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // The sequence patch above and the send below share buffers: each batch is sent before the
    // next one touches them.
    // Datagrams the kernel does not take (ECONNREFUSED before the collector listens, ENOBUFS)
    // are counted, not retried: the offered rate stays fixed.
    const int r = sendmmsg(fds[source], msgs.data(), n, 0);
    const uint32_t taken = r > 0 ? static_cast<uint32_t>(r) : 0;
    for (uint32_t i = 0; i < taken; ++i) bytes += msgs[i].msg_len;
    offered += n;
    sent += taken;
    errors += n - taken;
    if (patch_sequence) records += uint64_t{taken} * o.records;
    source = (source + 1) % o.sources;
  }
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;
  for (int fd : fds) close(fd);
  std::printf("offered=%llu sent=%llu records=%llu bytes=%llu errors=%llu seconds=%.3f rate=%.0f\n",
              static_cast<unsigned long long>(offered), static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(errors), seconds,
              seconds > 0 ? static_cast<double>(sent) / seconds : 0.0);
  return 0;
}
