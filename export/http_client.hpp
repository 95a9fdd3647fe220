#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace flowgate::exporter {

struct HttpClientConfig {
  uint64_t timeout_ms = 5000;  // whole request, connect included
  bool gzip = false;           // compress request bodies (Content-Encoding: gzip)
  std::string content_type = "application/x-ndjson";
};

struct HttpResult {
  long status = 0;    // HTTP status; 0 when no response came (refused, timed out, reset)
  std::string error;  // transport error, or the start of a non-2xx response body
  std::string body;   // the response body, its first 4 KiB
  bool ok() const noexcept { return status >= 200 && status < 300; }
};

// One HTTP/1.1 client (libcurl easy handle) per sink thread: POSTs bodies to URLs, keeps its
// connection alive between requests, gzips bodies when asked (zlib), and gives up after the
// timeout. Retries are the caller's (HttpSink), which knows about spooling. Not thread-safe.
class HttpClient {
 public:
  explicit HttpClient(HttpClientConfig config);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult post(const std::string& url, std::string_view body);
  HttpResult get(const std::string& url);

 private:
  HttpResult perform(const std::string& url);

  HttpClientConfig config_;
  void* curl_;              // CURL*
  void* headers_;           // curl_slist*
  std::string compressed_;  // reused gzip buffer
  std::string response_;    // reused response body (capped)
};

// gzip (RFC 1952) of `in` into `out` (replaced); false on a zlib failure.
bool gzip_compress(std::string_view in, std::string& out);
// Percent-encodes `s` for a URL query value.
std::string url_encode(std::string_view s);

}  // namespace flowgate::exporter
