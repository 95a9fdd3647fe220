#pragma once

// A loopback HTTP/1.1 server for tests of the HTTP sinks: it keeps every request (headers and
// body) and answers with the status the test asks for, one request after another, keeping
// connections alive as a real endpoint does. Tests may allocate and block; the data path
// never uses this.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace flowgate::testing {

struct HttpRequest {
  std::string request_line;
  std::string headers;  // as received, lower-cased
  std::string body;
};

class HttpReceiver {
 public:
  // Listens on 127.0.0.1:`port` (0: a free port the kernel picks).
  explicit HttpReceiver(uint16_t port = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 16) != 0) {
      close(fd_);
      fd_ = -1;
      return;
    }
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpReceiver() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  bool ok() const { return fd_ >= 0; }
  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // The statuses of the next requests, in order; 200 once they are used up.
  void answer_with(std::vector<int> statuses) {
    std::lock_guard lock(mutex_);
    statuses_.assign(statuses.begin(), statuses.end());
  }

  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Requests answered 2xx, in order.
  std::vector<HttpRequest> accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }

  // Waits (at most `limit`) until `n` requests were accepted.
  bool wait_accepted(size_t n, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return accepted_.size() >= n; });
  }

 private:
  void serve() {
    std::vector<int> clients;
    std::vector<std::string> buffers;
    while (!stop_) {
      std::vector<pollfd> fds{{fd_, POLLIN, 0}};
      for (int c : clients) fds.push_back({c, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 50) <= 0) continue;
      // Only the clients polled this round (fds[1..]); a new one joins after them.
      for (size_t i = fds.size() - 1; i-- > 0;) {
        if ((fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buf[65536];
        const ssize_t n = recv(clients[i], buf, sizeof buf, 0);
        if (n <= 0) {
          close(clients[i]);
          clients.erase(clients.begin() + static_cast<ptrdiff_t>(i));
          buffers.erase(buffers.begin() + static_cast<ptrdiff_t>(i));
          continue;
        }
        buffers[i].append(buf, static_cast<size_t>(n));
        while (handle(clients[i], buffers[i])) {
        }
      }
      if ((fds[0].revents & POLLIN) != 0) {
        const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          clients.push_back(c);
          buffers.emplace_back();
        }
      }
    }
    for (int c : clients) close(c);
  }

  // Answers one complete request at the start of `in`; false when it is not complete yet.
  bool handle(int client, std::string& in) {
    const size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    HttpRequest r;
    const size_t eol = in.find("\r\n");
    r.request_line = in.substr(0, eol);
    r.headers = in.substr(eol + 2, end - eol - 2);
    for (char& ch : r.headers) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t length = 0;
    if (const size_t at = r.headers.find("content-length:"); at != std::string::npos) {
      length = std::stoul(r.headers.substr(at + 15));
    }
    if (in.size() < end + 4 + length) return false;
    r.body = in.substr(end + 4, length);
    in.erase(0, end + 4 + length);
    int status = 200;
    {
      std::lock_guard lock(mutex_);
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.pop_front();
      }
      requests_.push_back(r);
      if (status >= 200 && status < 300) accepted_.push_back(r);
    }
    changed_.notify_all();
    const std::string reply = "HTTP/1.1 " + std::to_string(status) +
                              " X\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
    (void)!send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
    return true;
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<int> statuses_;
  std::vector<HttpRequest> requests_;
  std::vector<HttpRequest> accepted_;
};

// A loopback TCP port that nothing listens on now (the kernel's pick, released).
inline uint16_t free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace flowgate::testing
