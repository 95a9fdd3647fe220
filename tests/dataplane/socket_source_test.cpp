#include "dataplane/socket_source.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "decode/ip_address.hpp"
#include "tests/support/udp_port_holder.hpp"

namespace flowgate::dataplane {
namespace {

using decode::IpAddress;

struct Received {
  IpAddress src;
  uint16_t src_port = 0;
  uint16_t listener = 0;
  std::vector<uint8_t> payload;
  uint64_t receive_ns = 0;
};

// A client socket bound to loopback (so its address and port are known) that sends to a port.
class Client {
 public:
  explicit Client(int family) : family_(family) {
    fd_ = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len = fill(ss, 0);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
      len = sizeof ss;
      getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
      port_ = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                       : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    }
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool ok() const { return fd_ >= 0 && port_ != 0; }
  uint16_t port() const { return port_; }

  bool send(const std::vector<uint8_t>& payload, uint16_t to_port) const {
    sockaddr_storage ss{};
    const socklen_t len = fill(ss, to_port);
    return sendto(fd_, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) ==
           static_cast<ssize_t>(payload.size());
  }

 private:
  socklen_t fill(sockaddr_storage& ss, uint16_t port) const {
    if (family_ == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      a->sin6_port = htons(port);
      return sizeof(sockaddr_in6);
    }
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }

  int family_;
  int fd_ = -1;
  uint16_t port_ = 0;
};

bool ipv6_loopback_available() {
  Client c(AF_INET6);
  return c.ok();
}

std::vector<uint8_t> payload(size_t n, uint8_t seed) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(seed + i * 13);
  return p;
}

// Polls until `want` datagrams arrived or a generous deadline passed (loopback delivers at
// once; the deadline only bounds a broken source).
std::vector<Received> receive(SocketSource& source, size_t want) {
  std::vector<Received> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    source.poll(50, [&](const UdpDatagram& d, uint16_t listener) {
      const auto* p = reinterpret_cast<const uint8_t*>(d.payload.data());
      got.push_back(Received{d.src, d.src_port, listener, {p, p + d.payload.size()}, d.receive_ns});
    });
  }
  return got;
}

IpAddress v4_loopback() { return IpAddress::from_v4(INADDR_LOOPBACK); }

IpAddress v6_loopback() {
  uint8_t b[16] = {};
  b[15] = 1;
  return IpAddress::from_v6_bytes(b);
}

TEST(SocketSource, ReceivesIpv4DatagramsWithSourceAndListener) {
  SocketSource source(8, 1 << 20);
  std::string error;
  ASSERT_TRUE(source.open({{"127.0.0.1", 0, 3}}, error)) << error;
  ASSERT_EQ(source.socket_count(), 1u);
  const uint16_t port = source.bound_port(0);
  ASSERT_NE(port, 0);

  Client client(AF_INET);
  ASSERT_TRUE(client.ok());
  const std::vector<std::vector<uint8_t>> sent = {payload(24, 1), payload(1400, 2),
                                                  payload(9000, 3), payload(1, 4)};
  for (const auto& p : sent) ASSERT_TRUE(client.send(p, port));

  const std::vector<Received> got = receive(source, sent.size());
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].src, v4_loopback());
    EXPECT_TRUE(got[i].src.is_v4());
    EXPECT_EQ(got[i].src_port, client.port());
    EXPECT_EQ(got[i].listener, 3);
    EXPECT_EQ(got[i].payload, sent[i]) << "datagram " << i;
    EXPECT_GT(got[i].receive_ns, 0u);
  }
  EXPECT_EQ(source.kernel_drops(), 0u);
  EXPECT_EQ(source.receive_errors(), 0u);
}

// A socket that is not read fills and the kernel drops the rest: every datagram sent is either
// received or counted in kernel_drops().
TEST(SocketSource, CountsWhatTheKernelDroppedOnAFullSocket) {
  SocketSource source(8, 4096);  // the kernel's smallest receive buffer
  std::string error;
  ASSERT_TRUE(source.open({{"127.0.0.1", 0, 0}}, error)) << error;
  const uint16_t port = source.bound_port(0);
  ASSERT_NE(port, 0);
  Client client(AF_INET);
  ASSERT_TRUE(client.ok());
  constexpr size_t kSent = 200;
  for (size_t i = 0; i < kSent; ++i) ASSERT_TRUE(client.send(payload(1200, 7), port));
  const uint64_t dropped = source.kernel_drops();
  EXPECT_GT(dropped, 0u) << "200 datagrams of 1200 bytes cannot fit a minimal buffer";
  size_t received = 0;
  while (source.poll(50, [&](const UdpDatagram&, uint16_t) { ++received; }) > 0) {
  }
  EXPECT_EQ(received + source.kernel_drops(), kSent);
  EXPECT_EQ(source.kernel_drops(), dropped) << "nothing more is dropped once the socket is read";
}

TEST(SocketSource, ReceivesIpv6Datagrams) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback";
  SocketSource source(8, 1 << 20);
  std::string error;
  ASSERT_TRUE(source.open({{"::1", 0, 1}}, error)) << error;
  const uint16_t port = source.bound_port(0);
  ASSERT_NE(port, 0);

  Client client(AF_INET6);
  ASSERT_TRUE(client.ok());
  const auto p = payload(300, 9);
  ASSERT_TRUE(client.send(p, port));
  const std::vector<Received> got = receive(source, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].src, v6_loopback());
  EXPECT_FALSE(got[0].src.is_v4());
  EXPECT_EQ(got[0].src_port, client.port());
  EXPECT_EQ(got[0].listener, 1);
  EXPECT_EQ(got[0].payload, p);
}

TEST(SocketSource, WildcardIpv6ListenerTakesIpv4AsMapped) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback";
  SocketSource source(8, 1 << 20);
  std::string error;
  ASSERT_TRUE(source.open({{"::", 0, 0}}, error)) << error;
  const uint16_t port = source.bound_port(0);

  Client v4(AF_INET);
  Client v6(AF_INET6);
  ASSERT_TRUE(v4.ok());
  ASSERT_TRUE(v6.ok());
  ASSERT_TRUE(v4.send(payload(40, 1), port));
  ASSERT_TRUE(v6.send(payload(40, 2), port));
  const std::vector<Received> got = receive(source, 2);
  ASSERT_EQ(got.size(), 2u);
  // An IPv4 sender arrives as ::ffff:127.0.0.1, which is how IpAddress stores IPv4: the
  // exporter is the same whichever socket family received it.
  EXPECT_EQ(got[0].src, v4_loopback());
  EXPECT_EQ(got[0].src_port, v4.port());
  EXPECT_EQ(got[1].src, v6_loopback());
  EXPECT_EQ(got[1].src_port, v6.port());
}

TEST(SocketSource, TellsListenersApart) {
  SocketSource source(4, 1 << 20);
  std::string error;
  ASSERT_TRUE(source.open({{"127.0.0.1", 0, 0}, {"127.0.0.1", 0, 1}, {"127.0.0.1", 0, 2}}, error))
      << error;
  ASSERT_EQ(source.socket_count(), 3u);
  Client client(AF_INET);
  ASSERT_TRUE(client.ok());
  // Listener i gets i + 1 datagrams whose first byte names the listener.
  size_t total = 0;
  for (uint16_t l = 0; l < 3; ++l) {
    for (uint16_t n = 0; n <= l; ++n) {
      ASSERT_TRUE(
          client.send({static_cast<uint8_t>(l), static_cast<uint8_t>(n)}, source.bound_port(l)));
      ++total;
    }
  }
  const std::vector<Received> got = receive(source, total);
  ASSERT_EQ(got.size(), total);
  std::vector<int> per_listener(3, 0);
  for (const Received& r : got) {
    ASSERT_EQ(r.payload.size(), 2u);
    EXPECT_EQ(r.payload[0], r.listener);
    ++per_listener[r.listener];
  }
  EXPECT_EQ(per_listener, (std::vector<int>{1, 2, 3}));
}

// Every socket is bound with SO_REUSEPORT, so that the workers share a listener's port; bound
// that way to port 0, Linux may return a port another reuseport socket of the same user holds
// (600 such binds would meet about six times), and the two sockets would split its datagrams.
// Port 0 is taken by a plain socket first: 600 listeners get 600 ports.
TEST(SocketSource, ListenersOnPortZeroGetPortsOfTheirOwn) {
  constexpr uint16_t kListeners = 600;
  SocketSource source(1, 1 << 16);
  std::vector<SocketListener> listeners;
  for (uint16_t l = 0; l < kListeners; ++l) listeners.push_back({"127.0.0.1", 0, l});
  std::string error;
  ASSERT_TRUE(source.open(listeners, error)) << error;
  std::set<uint16_t> ports;
  for (size_t i = 0; i < kListeners; ++i) ports.insert(source.bound_port(i));
  EXPECT_EQ(ports.size(), kListeners);
  EXPECT_EQ(ports.count(0), 0u);
}

TEST(SocketSource, ReadsMoreThanOneBurstPerPoll) {
  // 50 datagrams against bursts of 4: one poll keeps reading until the socket is empty.
  SocketSource source(4, 1 << 20);
  std::string error;
  ASSERT_TRUE(source.open({{"127.0.0.1", 0, 0}}, error)) << error;
  Client client(AF_INET);
  ASSERT_TRUE(client.ok());
  constexpr int kCount = 50;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(client.send(payload(100, static_cast<uint8_t>(i)), source.bound_port(0)));
  }
  std::vector<Received> got;
  const uint32_t n = source.poll(1000, [&](const UdpDatagram& d, uint16_t) {
    const auto* p = reinterpret_cast<const uint8_t*>(d.payload.data());
    got.push_back(Received{d.src, d.src_port, 0, {p, p + d.payload.size()}, d.receive_ns});
  });
  EXPECT_EQ(n, static_cast<uint32_t>(kCount));
  ASSERT_EQ(got.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(got[static_cast<size_t>(i)].payload, payload(100, static_cast<uint8_t>(i)));
  }
  EXPECT_EQ(source.poll(0, [](const UdpDatagram&, uint16_t) {}), 0u);
}

TEST(SocketSource, BoundedPollLeavesTheRestInTheSocket) {
  // A worker short of blocks asks for one burst: the rest waits in the socket, in order.
  SocketSource source(4, 1 << 20);
  std::string error;
  ASSERT_TRUE(source.open({{"127.0.0.1", 0, 0}}, error)) << error;
  Client client(AF_INET);
  ASSERT_TRUE(client.ok());
  constexpr int kCount = 10;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(client.send(payload(60, static_cast<uint8_t>(i)), source.bound_port(0)));
  }
  std::vector<std::vector<uint8_t>> got;
  const auto collect = [&](const UdpDatagram& d, uint16_t) {
    const auto* p = reinterpret_cast<const uint8_t*>(d.payload.data());
    got.emplace_back(p, p + d.payload.size());
  };
  EXPECT_EQ(source.poll(1000, collect, 1), 4u);
  EXPECT_EQ(source.poll(1000, collect, 1), 4u);
  EXPECT_EQ(source.poll(1000, collect, 1), 2u);
  ASSERT_EQ(got.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], payload(60, static_cast<uint8_t>(i)));
}

TEST(SocketSource, PollTimesOutWithNothingToRead) {
  SocketSource source(4, 1 << 20);
  std::string error;
  ASSERT_TRUE(source.open({{"127.0.0.1", 0, 0}}, error)) << error;
  int calls = 0;
  EXPECT_EQ(source.poll(1, [&](const UdpDatagram&, uint16_t) { ++calls; }), 0u);
  EXPECT_EQ(calls, 0);
}

TEST(SocketSource, ReusePortLetsTwoSourcesShareAPort) {
  // One socket per worker per listener: the second worker binds the port the first got.
  SocketSource first(8, 1 << 20);
  SocketSource second(8, 1 << 20);
  std::string error;
  ASSERT_TRUE(first.open({{"127.0.0.1", 0, 0}}, error)) << error;
  const uint16_t port = first.bound_port(0);
  ASSERT_TRUE(second.open({{"127.0.0.1", port, 0}}, error)) << error;
  EXPECT_EQ(second.bound_port(0), port);

  // The kernel picks a socket per sender (4-tuple hash); every datagram reaches exactly one.
  constexpr int kSenders = 8;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kSenders; ++i) {
    clients.push_back(std::make_unique<Client>(AF_INET));
    ASSERT_TRUE(clients.back()->ok());
    ASSERT_TRUE(clients.back()->send(payload(64, static_cast<uint8_t>(i)), port));
    ASSERT_TRUE(clients.back()->send(payload(64, static_cast<uint8_t>(i)), port));
  }
  std::vector<Received> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto collect = [&](const UdpDatagram& d, uint16_t) {
    const auto* p = reinterpret_cast<const uint8_t*>(d.payload.data());
    got.push_back(Received{d.src, d.src_port, 0, {p, p + d.payload.size()}, d.receive_ns});
  };
  while (got.size() < 2 * kSenders && std::chrono::steady_clock::now() < deadline) {
    first.poll(10, collect);
    second.poll(10, collect);
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(2 * kSenders));
  // Both datagrams of one sender went to the same socket, so they arrive next to each other.
  for (size_t i = 0; i < got.size(); i += 2) {
    EXPECT_EQ(got[i].src_port, got[i + 1].src_port);
    EXPECT_EQ(got[i].payload, got[i + 1].payload);
  }
}

TEST(SocketSource, FailsOnAPortHeldWithoutReusePort) {
  int holder = -1;
  uint16_t port = 0;
  ASSERT_NO_FATAL_FAILURE(flowgate::testing::hold_loopback_udp_port(false, holder, port));

  SocketSource source(8, 1 << 20);
  std::string error;
  EXPECT_FALSE(source.open({{"127.0.0.1", port, 0}}, error));
  EXPECT_EQ(error, "127.0.0.1:" + std::to_string(port) + ": bind: Address already in use");
  close(holder);
}

TEST(SocketSource, RejectsABindHostThatIsNotAnAddress) {
  // The loader validates bind_host; the source must not fall back to the wildcard either.
  SocketSource source(8, 1 << 20);
  std::string error;
  EXPECT_FALSE(source.open({{"127.0.0.300", 0, 0}}, error));
  EXPECT_NE(error.find("127.0.0.300"), std::string::npos) << error;
  EXPECT_NE(error.find("not an IPv4 or IPv6 address"), std::string::npos) << error;
}

}  // namespace
}  // namespace flowgate::dataplane
