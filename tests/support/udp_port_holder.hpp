#pragma once

// A UDP socket that holds a loopback port, for tests of what a listener does when the port it
// wants is taken.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace flowgate::testing {

// Opens a UDP socket on 127.0.0.1 at a port the kernel picks, with SO_REUSEPORT set first if
// `reuseport` (as another collector's socket would have it), and returns the socket and port.
// The caller closes `fd`. It asserts, so call it as
// ASSERT_NO_FATAL_FAILURE(hold_loopback_udp_port(...)).
// The port is picked for a plain socket first: a port 0 bound with SO_REUSEPORT may be one
// another test's reuseport socket holds (Linux lets them share it), which would split its
// datagrams.
inline void hold_loopback_udp_port(bool reuseport, int& fd, uint16_t& port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  port = ntohs(a.sin_port);
  if (!reuseport) return;
  close(fd);
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const int one = 1;
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
}

}  // namespace flowgate::testing
