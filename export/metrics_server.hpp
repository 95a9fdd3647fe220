#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/host_port.hpp"

namespace flowgate::exporter {

// A minimal HTTP/1.1 server on its own thread for the control path: GET /metrics (the text
// `render` returns, Prometheus format 0.0.4), GET /healthz ("ok"), the routes added with
// add_route() (the dashboard's page and its /api/... JSON), 404 for anything else. One
// connection at a time, one response per connection, requests bounded to kMaxRequestBytes and
// a few seconds. It reads only what the other threads publish, so it never slows them.
class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  struct Route {
    std::string path;
    std::string content_type;
    Render render;
  };
  static constexpr size_t kMaxRequestBytes = 8192;

  MetricsServer() = default;
  ~MetricsServer() { stop(); }
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and listens (false with the reason in `error`), then serves on a new thread.
  bool start(const config::HostPort& address, Render render, std::string& error);
  // Serves `render`'s output at `path` (exact match, query ignored). Before start().
  void add_route(std::string path, std::string content_type, Render render);
  void stop();
  uint16_t port() const noexcept { return port_; }

  // The whole response (status line, headers, body) to a request head; exposed for tests.
  static std::string respond(std::string_view request, const Render& render,
                             const std::vector<Route>& routes = {});

 private:
  void run();
  void serve(int fd);

  Render render_;
  std::vector<Route> routes_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace flowgate::exporter
