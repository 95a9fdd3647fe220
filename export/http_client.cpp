#include "export/http_client.hpp"

#include <curl/curl.h>
#include <zlib.h>

#include <algorithm>
#include <mutex>

namespace flowgate::exporter {
namespace {

constexpr size_t kMaxResponse = 4096;  // enough for an error message; the rest is discarded

size_t on_response(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (out->size() < kMaxResponse) out->append(data, std::min(bytes, kMaxResponse - out->size()));
  return bytes;
}

}  // namespace

bool gzip_compress(std::string_view in, std::string& out) {
  z_stream z{};
  // 15 + 16: a gzip wrapper rather than zlib's; level 1: batches are repetitive JSON, and the
  // sink thread should not fall behind the exporter thread on compression.
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out.resize(deflateBound(&z, static_cast<uLong>(in.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

HttpClient::HttpClient(HttpClientConfig config) : config_(std::move(config)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
  curl_slist* h = nullptr;
  h = curl_slist_append(h, ("Content-Type: " + config_.content_type).c_str());
  h = curl_slist_append(h, "Expect:");  // no 100-continue round trip for large bodies
  if (config_.gzip) h = curl_slist_append(h, "Content-Encoding: gzip");
  headers_ = h;
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr) return;
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: we are not alone
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.timeout_ms));
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_response);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response_);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "flowgate/0.1");
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

HttpResult HttpClient::post(const std::string& url, std::string_view body) {
  HttpResult r;
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr) {
    r.error = "libcurl could not be initialised";
    return r;
  }
  if (config_.gzip) {
    if (!gzip_compress(body, compressed_)) {
      r.error = "gzip failed";
      return r;
    }
    body = compressed_;
  }
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  return perform(url);
}

HttpResult HttpClient::get(const std::string& url) {
  if (curl_ == nullptr) return HttpResult{0, "libcurl could not be initialised", ""};
  curl_easy_setopt(static_cast<CURL*>(curl_), CURLOPT_HTTPGET, 1L);
  return perform(url);
}

HttpResult HttpClient::perform(const std::string& url) {
  HttpResult r;
  CURL* c = static_cast<CURL*>(curl_);
  response_.clear();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    r.error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  r.body = response_;
  if (!r.ok()) {
    r.error = response_.substr(0, 300);
    while (!r.error.empty() && (r.error.back() == '\n' || r.error.back() == '\r'))
      r.error.pop_back();
  }
  return r;
}

}  // namespace flowgate::exporter
