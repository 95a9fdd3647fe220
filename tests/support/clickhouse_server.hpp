#pragma once

// A ClickHouse server (Debian's clickhouse-server) for end-to-end tests: its own config bound
// to 127.0.0.1 on free ports, its data in a temporary directory, started with fork/exec and
// stopped by PID (also when the test fails, and when the test process dies: PR_SET_PDEATHSIG).

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "export/http_client.hpp"
#include "tests/support/http_receiver.hpp"

namespace flowgate::testing {

inline constexpr const char* kClickhouseBinary = "/usr/sbin/clickhouse-server";

class ClickhouseServer {
 public:
  struct Shard {
    uint16_t tcp_port;
  };

  ClickhouseServer() {
    char tmpl[] = "/tmp/flowgate-clickhouse-XXXXXX";
    dir_ = mkdtemp(tmpl) != nullptr ? tmpl : "";
    http_port_ = free_tcp_port();
    tcp_port_ = free_tcp_port();
    interserver_port_ = free_tcp_port();
  }
  ~ClickhouseServer() {
    stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  ClickhouseServer(const ClickhouseServer&) = delete;
  ClickhouseServer& operator=(const ClickhouseServer&) = delete;

  static bool available() { return access(kClickhouseBinary, X_OK) == 0; }

  uint16_t http_port() const { return http_port_; }
  uint16_t tcp_port() const { return tcp_port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_port_) + "/"; }

  // Cluster `flowgate` of these shards (tcp ports on 127.0.0.1), for Distributed tables.
  void set_cluster(std::vector<uint16_t> shard_tcp_ports) { cluster_ = std::move(shard_tcp_ports); }

  // Writes the config and starts the server; true once /ping answers (within 20 s).
  bool start() {
    write_config();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const std::string log = dir_ + "/server.log";
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      const std::string arg = "--config-file=" + dir_ + "/config.xml";
      execl(kClickhouseBinary, kClickhouseBinary, arg.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    exporter::HttpClient client({1000, false, "text/plain"});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (client.get(url() + "ping").ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // SIGTERM, then SIGKILL after 15 s; waits for the process.
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Runs one statement; the response body, or "ERROR <status>: <body>".
  std::string query(const std::string& sql) const {
    exporter::HttpClient client({10000, false, "text/plain"});
    const exporter::HttpResult r = client.post(url(), sql);
    if (!r.ok()) return "ERROR " + std::to_string(r.status) + ": " + r.error;
    std::string body = r.body;
    while (!body.empty() && body.back() == '\n') body.pop_back();
    return body;
  }

  // Runs every ';'-separated statement of a .sql file (comments stripped); "" or the first error.
  std::string run_file(const std::string& path) const {
    std::ifstream in(path);
    std::string text;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("--", 0) != 0) text += line + "\n";
    }
    std::stringstream ss(text);
    for (std::string stmt; std::getline(ss, stmt, ';');) {
      if (stmt.find_first_not_of(" \n\t") == std::string::npos) continue;
      const std::string r = query(stmt);
      if (r.rfind("ERROR", 0) == 0) return r;
    }
    return in.good() || !text.empty() ? "" : "cannot read " + path;
  }

  std::string log() const {
    std::ifstream in(dir_ + "/server.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  void write_config() const {
    std::ofstream c(dir_ + "/config.xml");
    c << "<yandex>\n"
         "  <logger><level>warning</level><console>1</console></logger>\n"
         "  <listen_host>127.0.0.1</listen_host>\n"
      << "  <http_port>" << http_port_ << "</http_port>\n"
      << "  <tcp_port>" << tcp_port_ << "</tcp_port>\n"
      << "  <interserver_http_port>" << interserver_port_ << "</interserver_http_port>\n"
      << "  <path>" << dir_ << "/data/</path>\n"
      << "  <tmp_path>" << dir_ << "/tmp/</tmp_path>\n"
      << "  <user_files_path>" << dir_ << "/user_files/</user_files_path>\n"
      << "  <format_schema_path>" << dir_ << "/format_schemas/</format_schema_path>\n"
      << "  <users_config>" << dir_
      << "/users.xml</users_config>\n"
         "  <default_profile>default</default_profile>\n"
         "  <default_database>default</default_database>\n"
         "  <mark_cache_size>67108864</mark_cache_size>\n"
         "  <uncompressed_cache_size>67108864</uncompressed_cache_size>\n";
    if (!cluster_.empty()) {
      c << "  <remote_servers><flowgate>\n";
      for (uint16_t p : cluster_) {
        c << "    <shard><replica><host>127.0.0.1</host><port>" << p
          << "</port></replica></shard>\n";
      }
      c << "  </flowgate></remote_servers>\n";
    }
    c << "</yandex>\n";
    std::ofstream u(dir_ + "/users.xml");
    u << "<yandex>\n"
         "  <profiles><default></default></profiles>\n"
         "  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>"
         "<profile>default</profile><quota>default</quota></default></users>\n"
         "  <quotas><default></default></quotas>\n"
         "</yandex>\n";
  }

  std::string dir_;
  uint16_t http_port_ = 0;
  uint16_t tcp_port_ = 0;
  uint16_t interserver_port_ = 0;
  std::vector<uint16_t> cluster_;
  pid_t pid_ = -1;
};

}  // namespace flowgate::testing
