#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/udp_datagram.hpp"

namespace flowgate::dataplane {

// A UDP listener as the socket source opens it.
struct SocketListener {
  std::string bind_host;  // IPv4 or IPv6 literal; "::" also takes IPv4 (v4-mapped)
  uint16_t port = 0;
  uint16_t listener = 0;  // index carried in DatagramMeta
};

// The embedded default packet source: plain UDP sockets, no privileges. Every worker opens its
// own socket per listener with SO_REUSEPORT, so the kernel spreads exporters over workers by
// hashing the 4-tuple and keeps each exporter on one worker. Datagrams are read in bursts with
// recvmmsg; SO_RXQ_OVFL reports what the kernel dropped because the receive buffer was full.
class SocketSource {
 public:
  static constexpr uint32_t kMaxDatagram = 65535;

  SocketSource(uint32_t burst, int receive_buffer_bytes);
  ~SocketSource();
  SocketSource(const SocketSource&) = delete;
  SocketSource& operator=(const SocketSource&) = delete;

  // Whether a listener's address and port are free, tried with a socket without SO_REUSEPORT:
  // otherwise a second collector of the same user would join the port's SO_REUSEPORT group and
  // silently take part of its datagrams. False with a message when taken.
  static bool port_is_free(const SocketListener& listener, std::string& error);

  // Opens and binds the sockets; false with a message naming the listener on failure.
  bool open(const std::vector<SocketListener>& listeners, std::string& error);

  // Waits up to timeout_ms for datagrams, then reads every ready socket in bursts until it is
  // empty or `max_bursts` bursts were read from it, calling
  // on_udp(const UdpDatagram&, uint16_t listener) for each. Returns how many. A caller that can
  // only take so much at once (a worker's free blocks) bounds the bursts; the rest stays in the
  // socket (epoll is level-triggered) for the next call; drained() tells whether that happened.
  template <typename F>
  uint32_t poll(int timeout_ms, F&& on_udp, uint32_t max_bursts = UINT32_MAX) {
    uint32_t total = 0;
    drained_ = true;
    const int ready = wait(timeout_ms);
    for (int i = 0; i < ready; ++i) {
      const uint32_t s = ready_[static_cast<size_t>(i)];
      uint32_t b = 0;
      for (; b < max_bursts; ++b) {
        const int n = receive(s);
        for (int m = 0; m < n; ++m) on_udp(datagram(s, static_cast<uint32_t>(m)), sockets_[s].listener);
        total += static_cast<uint32_t>(n > 0 ? n : 0);
        if (n < static_cast<int>(burst_)) break;
      }
      if (b == max_bursts) drained_ = false;  // the last burst was full: more may be waiting
    }
    return total;
  }
  // Whether the last poll() read every ready socket until it was empty.
  bool drained() const noexcept { return drained_; }

  // Datagrams the kernel dropped on these sockets (SO_MEMINFO's drop counter), summed; a
  // getsockopt per socket, so once per housekeeping pass.
  uint64_t kernel_drops() noexcept;
  uint64_t receive_errors() const noexcept { return receive_errors_; }
  // recvmmsg calls that returned datagrams: datagrams over these is the batch a call reads.
  uint64_t receive_calls() const noexcept { return receive_calls_; }
  // About how many datagrams the smallest of the sockets' receive buffers holds, at
  // kBufferBytesPerDatagram each (what the kernel charges for a datagram of a typical export
  // is well under it).
  static constexpr uint32_t kBufferBytesPerDatagram = 4096;
  uint32_t buffer_datagrams() const noexcept;
  // The port a listener was bound to (differs from the configured one when that was 0).
  uint16_t bound_port(size_t socket_index) const noexcept;
  size_t socket_count() const noexcept { return sockets_.size(); }

 private:
  struct Socket {
    int fd = -1;
    uint16_t listener = 0;
    uint32_t drops = 0;  // latest SO_MEMINFO drop count (cumulative per socket)
  };

  int wait(int timeout_ms);
  int receive(uint32_t socket);
  UdpDatagram datagram(uint32_t socket, uint32_t message) const noexcept;

  uint32_t burst_;
  int receive_buffer_bytes_;
  int epoll_fd_ = -1;
  std::vector<Socket> sockets_;
  std::vector<uint32_t> ready_;
  // recvmmsg state, allocated once: burst_ buffers of kMaxDatagram bytes.
  std::vector<uint8_t> buffers_;
  std::vector<sockaddr_storage> addresses_;
  std::vector<struct iovec> iovecs_;
  std::vector<struct mmsghdr> messages_;
  uint64_t receive_ns_ = 0;
  uint64_t receive_errors_ = 0;
  uint64_t receive_calls_ = 0;
  bool drained_ = true;
};

}  // namespace flowgate::dataplane
