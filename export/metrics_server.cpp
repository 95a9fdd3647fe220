#include "export/metrics_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace flowgate::exporter {
namespace {

constexpr int kPollMs = 100;   // how soon stop() is noticed
constexpr int kClientTimeoutS = 2;  // a slow client holds the endpoint no longer than this

std::string response(std::string_view status, std::string_view content_type,
                     std::string_view body) {
  std::string r;
  r.reserve(body.size() + 160);
  r.append("HTTP/1.1 ").append(status).append("\r\nContent-Type: ").append(content_type);
  r.append("\r\nContent-Length: ").append(std::to_string(body.size()));
  r.append("\r\nConnection: close\r\n\r\n").append(body);
  return r;
}

std::string text(std::string_view status, std::string_view body) {
  return response(status, "text/plain; charset=utf-8", body);
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

std::string MetricsServer::respond(std::string_view request, const Render& render,
                                   const std::vector<Route>& routes) {
  // Request line (RFC 9112 section 3): method SP request-target SP HTTP-version CRLF.
  const size_t eol = request.find("\r\n");
  const std::string_view line = request.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (eol == std::string_view::npos || sp2 == std::string_view::npos ||
      line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) {
    return text("400 Bad Request", "bad request\n");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (method != "GET") {
    std::string r = text("405 Method Not Allowed", "only GET\n");
    r.insert(r.find("\r\n") + 2, "Allow: GET\r\n");
    return r;
  }
  if (target == "/metrics") {
    return response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render());
  }
  if (target == "/healthz") return text("200 OK", "ok\n");
  for (const Route& r : routes) {
    if (target == r.path) return response("200 OK", r.content_type, r.render());
  }
  return text("404 Not Found", "not found\n");
}

bool MetricsServer::start(const config::HostPort& address, Render render, std::string& error) {
  const bool v6 = address.host.find(':') != std::string::npos;
  sockaddr_storage storage{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(address.port);
    inet_pton(AF_INET6, address.host.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(address.port);
    inet_pton(AF_INET, address.host.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  const std::string where =
      (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = where + ": socket: " + std::strerror(errno);
    return false;
  }
  // Lets a restarted collector bind while the old connections sit in TIME_WAIT; on Linux it
  // does not let two listeners share the port.
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&storage), len) != 0 || listen(fd, 16) != 0) {
    error = where + ": " + std::strerror(errno);
    close(fd);
    return false;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  render_ = std::move(render);
  stop_.store(false, std::memory_order_relaxed);
  thread_ = std::thread([this] { run(); });
  return true;
}

void MetricsServer::add_route(std::string path, std::string content_type, Render render) {
  routes_.push_back({std::move(path), std::move(content_type), std::move(render)});
}

void MetricsServer::stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

void MetricsServer::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, kPollMs) <= 0) continue;
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    serve(client);
    close(client);
  }
}

void MetricsServer::serve(int fd) {
  const timeval timeout{kClientTimeoutS, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string request;
  char buf[1024];
  while (request.find("\r\n\r\n") == std::string::npos) {
    if (request.size() >= kMaxRequestBytes) {
      send_all(fd, text("431 Request Header Fields Too Large", "request too large\n"));
      return;
    }
    const ssize_t n = recv(fd, buf, std::min(sizeof buf, kMaxRequestBytes - request.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // closed, or silent past the timeout
    request.append(buf, static_cast<size_t>(n));
  }
  send_all(fd, respond(request, render_, routes_));
}

}  // namespace flowgate::exporter
