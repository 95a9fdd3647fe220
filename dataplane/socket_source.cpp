#include "dataplane/socket_source.hpp"

#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace flowgate::dataplane {
namespace {

uint64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

bool parse_address(const SocketListener& l, sockaddr_storage& ss, socklen_t& len) {
  ss = {};
  if (l.bind_host.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(l.port);
    len = sizeof(sockaddr_in6);
    return inet_pton(AF_INET6, l.bind_host.c_str(), &a->sin6_addr) == 1;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(l.port);
  len = sizeof(sockaddr_in);
  return inet_pton(AF_INET, l.bind_host.c_str(), &a->sin_addr) == 1;
}

// The socket address of a listener; false, with a message naming it, when bind_host is not an
// address (left as the wildcard, the socket would listen everywhere).
bool listener_address(const SocketListener& l, sockaddr_storage& ss, socklen_t& len,
                      std::string& where, std::string& error) {
  where = l.bind_host + ":" + std::to_string(l.port);
  if (parse_address(l, ss, len)) return true;
  error = where + ": \"" + l.bind_host + "\" is not an IPv4 or IPv6 address";
  return false;
}

// The port field of an IPv4 or IPv6 socket address (network order).
uint16_t& port_field(sockaddr_storage& ss) {
  return ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                  : reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
}

// Binds a plain UDP socket (no SO_REUSEPORT; an IPv6 one takes IPv4 too, as a listener's does)
// to `ss` and closes it again. Returns 0, or the errno of the call that failed, named in
// `call`. With `port`, the port the socket got is written there (network order).
int bind_plain(const sockaddr_storage& ss, socklen_t len, const char*& call,
               uint16_t* port = nullptr) {
  call = "socket";
  const int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  const int zero = 0;
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  int err = 0;
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  call = "bind";
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    err = errno;
  } else if (port != nullptr) {
    call = "getsockname";
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
      err = errno;
    } else {
      *port = port_field(bound);
    }
  }
  close(fd);
  return err;
}

}  // namespace

bool SocketSource::port_is_free(const SocketListener& l, std::string& error) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string where;
  if (!listener_address(l, ss, len, where, error)) return false;
  const char* call = "";
  const int err = bind_plain(ss, len, call);
  if (err == 0) return true;
  // A failed bind is told by its errno alone; a failed socket() is named.
  const std::string failed = std::string_view(call) == "bind" ? "" : std::string(call) + ": ";
  error = where + ": " + failed + std::strerror(err) +
          (err == EADDRINUSE ? " (another collector, or another program, holds it)" : "");
  return false;
}

SocketSource::SocketSource(uint32_t burst, int receive_buffer_bytes)
    : burst_(burst == 0 ? 1 : burst), receive_buffer_bytes_(receive_buffer_bytes) {
  buffers_.resize(size_t{burst_} * kMaxDatagram);
  addresses_.resize(burst_);
  iovecs_.resize(burst_);
  messages_.resize(burst_);
}

SocketSource::~SocketSource() {
  for (Socket& s : sockets_) {
    if (s.fd >= 0) close(s.fd);
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

bool SocketSource::open(const std::vector<SocketListener>& listeners, std::string& error) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    error = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  for (const SocketListener& l : listeners) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    std::string where;
    if (!listener_address(l, ss, len, where, error)) return false;
    // Port 0 (only tests use it; the configuration takes 1-65535) is chosen for a plain socket
    // first. Every worker's socket binds its listener's port with SO_REUSEPORT, and a port 0
    // bound that way may be one that another reuseport socket of the same user already holds
    // (Linux lets them share it): the two would then split its datagrams.
    if (l.port == 0) {
      const char* call = "";
      if (const int err = bind_plain(ss, len, call, &port_field(ss)); err != 0) {
        error = where + ": choosing a port: " + call + ": " + std::strerror(err);
        return false;
      }
    }
    const int family = ss.ss_family;
    const int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = where + ": socket: " + std::strerror(errno);
      return false;
    }
    sockets_.push_back(Socket{fd, l.listener, 0});
    const int one = 1;
    const int zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    // SO_RCVBUFFORCE passes net.core.rmem_max when privileged; otherwise take what is allowed.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer_bytes_,
                   sizeof receive_buffer_bytes_) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes_, sizeof receive_buffer_bytes_);
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      error = where + ": bind: " + std::strerror(errno);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(sockets_.size() - 1);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      error = where + ": epoll_ctl: " + std::strerror(errno);
      return false;
    }
  }
  ready_.resize(sockets_.size());
  return true;
}

uint16_t SocketSource::bound_port(size_t socket_index) const noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(sockets_[socket_index].fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

int SocketSource::wait(int timeout_ms) {
  std::array<epoll_event, 64> events;
  const int max = static_cast<int>(std::min<size_t>(events.size(), sockets_.size()));
  if (max == 0) return 0;
  const int n = epoll_wait(epoll_fd_, events.data(), max, timeout_ms);
  if (n <= 0) return 0;
  for (int i = 0; i < n; ++i) ready_[static_cast<size_t>(i)] = events[static_cast<size_t>(i)].data.u32;
  return n;
}

int SocketSource::receive(uint32_t socket) {
  for (uint32_t i = 0; i < burst_; ++i) {
    iovecs_[i].iov_base = buffers_.data() + size_t{i} * kMaxDatagram;
    iovecs_[i].iov_len = kMaxDatagram;
    msghdr& h = messages_[i].msg_hdr;
    h.msg_name = &addresses_[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &iovecs_[i];
    h.msg_iovlen = 1;
    h.msg_control = nullptr;  // no ancillary data: drops are read in housekeeping
    h.msg_controllen = 0;
    h.msg_flags = 0;
  }
  const int n = recvmmsg(sockets_[socket].fd, messages_.data(), burst_, MSG_DONTWAIT, nullptr);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++receive_errors_;
    return 0;
  }
  receive_ns_ = wall_ns();
  if (n > 0) ++receive_calls_;
  return n;
}

UdpDatagram SocketSource::datagram(uint32_t socket, uint32_t m) const noexcept {
  (void)socket;
  UdpDatagram d;
  const auto& ss = addresses_[m];
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    d.src = decode::IpAddress::from_v6_bytes(a->sin6_addr.s6_addr);  // v4-mapped stays mapped
    d.src_port = ntohs(a->sin6_port);
  } else {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    d.src = decode::IpAddress::from_v4(ntohl(a->sin_addr.s_addr));
    d.src_port = ntohs(a->sin_port);
  }
  d.payload = decode::Bytes(reinterpret_cast<const std::byte*>(buffers_.data()) + size_t{m} * kMaxDatagram,
                            messages_[m].msg_len);
  d.receive_ns = receive_ns_;
  return d;
}

uint32_t SocketSource::buffer_datagrams() const noexcept {
  uint32_t least = UINT32_MAX;
  for (const Socket& s : sockets_) {
    int bytes = 0;  // what the kernel granted (twice what was asked, for its bookkeeping)
    socklen_t len = sizeof bytes;
    if (getsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &bytes, &len) == 0 && bytes > 0) {
      least = std::min(least, static_cast<uint32_t>(bytes) / kBufferBytesPerDatagram);
    }
  }
  return sockets_.empty() ? 0 : least;
}

uint64_t SocketSource::kernel_drops() noexcept {
  // The socket's drop counter (what SO_RXQ_OVFL would attach to every datagram, read here once
  // per housekeeping pass instead of as ancillary data the kernel builds per datagram).
  uint64_t total = 0;
  for (Socket& s : sockets_) {
    uint32_t meminfo[SK_MEMINFO_VARS] = {};
    socklen_t len = sizeof meminfo;
    if (getsockopt(s.fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) == 0 &&
        len >= (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t)) {
      s.drops = meminfo[SK_MEMINFO_DROPS];
    }
    total += s.drops;
  }
  return total;
}

}  // namespace flowgate::dataplane
