#include "decode/template_state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "decode/template_decoder.hpp"

namespace flowgate::decode {
namespace {

constexpr std::array<uint8_t, 8> kMagic = {'F', 'G', 'T', 'S', 'T', 'A', 'T', 'E'};

enum class Kind : uint8_t { kTemplate = 1, kDomain = 2, kSampler = 3 };
constexpr uint8_t kEnterpriseFlag = 1;
constexpr uint8_t kScopeFlag = 2;
// kind, protocol, address, port, domain, refreshed_ns
constexpr size_t kRecordHead = 1 + 1 + 16 + 2 + 4 + 8;

constexpr std::array<uint32_t, 256> crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t crc32(std::span<const uint8_t> data) noexcept {
  static constexpr std::array<uint32_t, 256> kTable = crc_table();
  uint32_t c = 0xffffffffu;
  for (const uint8_t b : data) c = kTable[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

void put(std::vector<uint8_t>& out, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// resize + memcpy rather than vector::insert, which GCC 12 at -O3 falsely reports as an
// overflow (GCC bug 106199).
void append(std::vector<uint8_t>& out, const uint8_t* p, size_t n) {
  if (n == 0) return;
  const size_t at = out.size();
  out.resize(at + n);
  std::memcpy(out.data() + at, p, n);
}

uint8_t protocol_code(FlowType t) noexcept {
  return t == FlowType::kNetflow9 ? 9 : t == FlowType::kIpfix ? 10 : 0;
}

void put_head(std::vector<uint8_t>& out, Kind kind, const ExporterKey& key, uint32_t domain,
              uint64_t refreshed_ns) {
  out.push_back(static_cast<uint8_t>(kind));
  out.push_back(protocol_code(key.version));
  append(out, key.addr.bytes.data(), key.addr.bytes.size());
  put(out, key.port, 2);
  put(out, domain, 4);
  put(out, refreshed_ns, 8);
}

// A bounds-checked little-endian reader over the body.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  bool done() const noexcept { return at_ == data_.size(); }
  bool has(size_t n) const noexcept { return data_.size() - at_ >= n; }
  uint64_t get(size_t bytes) noexcept {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= uint64_t{data_[at_ + i]} << (8 * i);
    at_ += bytes;
    return v;
  }
  const uint8_t* take(size_t n) noexcept {
    const uint8_t* p = data_.data() + at_;
    at_ += n;
    return p;
  }

 private:
  std::span<const uint8_t> data_;
  size_t at_ = 0;
};

struct RecordHead {
  Kind kind = Kind::kTemplate;
  ExporterKey key;
  uint32_t domain = 0;
  uint64_t refreshed_ns = 0;
};

// One record; calls on_template(head, id, options, fields) or on_domain(head, rate, init_ms)
// or on_sampler(head, sampler, rate). False when the record is malformed.
template <typename OnTemplate, typename OnDomain, typename OnSampler>
bool read_record(Reader& r, std::array<RawField, kMaxTemplateFields>& fields,
                 OnTemplate&& on_template, OnDomain&& on_domain, OnSampler&& on_sampler) {
  if (!r.has(kRecordHead)) return false;
  RecordHead h;
  const auto kind = static_cast<uint8_t>(r.get(1));
  const auto protocol = static_cast<uint8_t>(r.get(1));
  if (protocol == 9) {
    h.key.version = FlowType::kNetflow9;
  } else if (protocol == 10) {
    h.key.version = FlowType::kIpfix;
  } else {
    return false;
  }
  std::memcpy(h.key.addr.bytes.data(), r.take(16), 16);
  h.key.port = static_cast<uint16_t>(r.get(2));
  h.domain = static_cast<uint32_t>(r.get(4));
  h.refreshed_ns = r.get(8);
  switch (kind) {
    case static_cast<uint8_t>(Kind::kTemplate): {
      if (!r.has(5)) return false;
      const auto id = static_cast<uint16_t>(r.get(2));
      const bool options = r.get(1) != 0;
      const auto count = static_cast<uint16_t>(r.get(2));
      if (count == 0 || count > kMaxTemplateFields || !r.has(size_t{count} * 5)) return false;
      for (uint16_t i = 0; i < count; ++i) {
        const auto fid = static_cast<uint16_t>(r.get(2));
        const auto len = static_cast<uint16_t>(r.get(2));
        const auto flags = static_cast<uint8_t>(r.get(1));
        fields[i] = RawField{fid, len, (flags & kEnterpriseFlag) != 0, (flags & kScopeFlag) != 0};
      }
      h.kind = Kind::kTemplate;
      on_template(h, id, options, std::span<const RawField>(fields.data(), count));
      return true;
    }
    case static_cast<uint8_t>(Kind::kDomain): {
      if (!r.has(12)) return false;
      const auto rate = static_cast<uint32_t>(r.get(4));
      const uint64_t init_ms = r.get(8);
      h.kind = Kind::kDomain;
      on_domain(h, rate, init_ms);
      return true;
    }
    case static_cast<uint8_t>(Kind::kSampler): {
      if (!r.has(12)) return false;
      const uint64_t sampler = r.get(8);
      const auto rate = static_cast<uint32_t>(r.get(4));
      h.kind = Kind::kSampler;
      on_sampler(h, sampler, rate);
      return true;
    }
    default:
      return false;
  }
}

bool write_all(int fd, std::span<const uint8_t> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return true;
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Loading puts every exporter into every worker's cache (which worker will hear from it is not
// known here). Loaded exporters may fill at most half of the exporter table, so that exporters
// that arrive live always find room; the rest are refused (counted).
uint32_t loaded_exporter(TemplateCache& cache, const ExporterKey& key) {
  for (uint32_t e = 0; e < cache.exporter_count(); ++e) {
    if (cache.exporter(e).key == key) return e;
  }
  if (cache.exporter_count() >= cache.limits().max_exporters / 2) return TemplateCache::kNoExporter;
  return cache.exporter_index(key);
}

}  // namespace

std::string_view state_status_text(StateStatus s) noexcept {
  switch (s) {
    case StateStatus::kOk: return "ok";
    case StateStatus::kMissing: return "no file";
    case StateStatus::kUnreadable: return "cannot be read";
    case StateStatus::kTruncated: return "truncated";
    case StateStatus::kBadMagic: return "not a template state file";
    case StateStatus::kBadVersion: return "written by another format version";
    case StateStatus::kBadChecksum: return "checksum mismatch (corrupt)";
    case StateStatus::kBadRecord: return "malformed record";
  }
  return "unknown";
}

uint32_t append_template_state(const TemplateCache& cache, std::vector<uint8_t>& body) {
  uint32_t skipped = 0;
  cache.for_each_template([&](const ExporterKey& key, uint32_t domain, const CompiledTemplate& t,
                              std::span<const RawField> fields, uint64_t refreshed_ns) {
    if (fields.empty() || protocol_code(key.version) == 0) {
      ++skipped;
      return;
    }
    put_head(body, Kind::kTemplate, key, domain, refreshed_ns);
    put(body, t.id, 2);
    body.push_back(t.is_options ? 1 : 0);
    put(body, fields.size(), 2);
    for (const RawField& f : fields) {
      put(body, f.id, 2);
      put(body, f.length, 2);
      body.push_back(static_cast<uint8_t>((f.enterprise ? kEnterpriseFlag : 0) |
                                          (f.scope ? kScopeFlag : 0)));
    }
  });
  for (uint32_t e = 0; e < cache.exporter_count(); ++e) {
    const ExporterState& s = cache.exporter(e);
    if (protocol_code(s.key.version) == 0) continue;
    for (uint32_t i = 0; i < s.domain_count; ++i) {
      const DomainInfo& d = s.domains[i];
      if (d.sampling_rate == 0 && d.system_init_ms == 0) continue;
      put_head(body, Kind::kDomain, s.key, d.domain, d.refreshed_ns);
      put(body, d.sampling_rate, 4);
      put(body, d.system_init_ms, 8);
    }
    for (uint32_t i = 0; i < s.sampler_count; ++i) {
      const SamplerInfo& sm = s.samplers[i];
      put_head(body, Kind::kSampler, s.key, sm.domain, sm.refreshed_ns);
      put(body, sm.sampler_id, 8);
      put(body, sm.sampling_rate, 4);
    }
  }
  return skipped;
}

std::vector<uint8_t> template_state_file(std::span<const std::vector<uint8_t>> bodies,
                                         uint64_t saved_ns) {
  size_t length = 0;
  for (const auto& b : bodies) length += b.size();
  std::vector<uint8_t> file;
  file.reserve(kTemplateStateHeaderBytes + length);
  append(file, kMagic.data(), kMagic.size());
  put(file, kTemplateStateVersion, 4);
  put(file, 0, 4);
  put(file, saved_ns, 8);
  put(file, length, 4);
  put(file, 0, 4);  // checksum, filled in below
  for (const auto& b : bodies) append(file, b.data(), b.size());
  const uint32_t crc =
      crc32(std::span<const uint8_t>(file).subspan(kTemplateStateHeaderBytes));
  for (size_t i = 0; i < 4; ++i) file[28 + i] = static_cast<uint8_t>(crc >> (8 * i));
  return file;
}

StateStatus parse_template_state(std::span<const uint8_t> file, std::span<const uint8_t>& body) {
  if (file.size() < kTemplateStateHeaderBytes) {
    return file.size() >= kMagic.size() &&
                   std::memcmp(file.data(), kMagic.data(), kMagic.size()) != 0
               ? StateStatus::kBadMagic
               : StateStatus::kTruncated;
  }
  if (std::memcmp(file.data(), kMagic.data(), kMagic.size()) != 0) return StateStatus::kBadMagic;
  Reader h(file.first(kTemplateStateHeaderBytes));
  h.take(kMagic.size());
  if (h.get(4) != kTemplateStateVersion) return StateStatus::kBadVersion;
  h.get(4);
  h.get(8);
  const uint64_t length = h.get(4);
  const auto crc = static_cast<uint32_t>(h.get(4));
  if (file.size() - kTemplateStateHeaderBytes < length) return StateStatus::kTruncated;
  if (file.size() - kTemplateStateHeaderBytes > length) return StateStatus::kBadRecord;
  const std::span<const uint8_t> b = file.subspan(kTemplateStateHeaderBytes);
  if (crc32(b) != crc) return StateStatus::kBadChecksum;
  Reader r(b);
  std::array<RawField, kMaxTemplateFields> fields;
  const auto ignore = [](auto&&...) {};
  while (!r.done()) {
    if (!read_record(r, fields, ignore, ignore, ignore)) return StateStatus::kBadRecord;
  }
  body = b;
  return StateStatus::kOk;
}

void load_template_state(std::span<const uint8_t> body, uint64_t now_ns, uint64_t max_age_ns,
                         TemplateCache& cache, StateLoadFigures& figures) {
  const auto stale = [&](uint64_t refreshed_ns) {
    return max_age_ns != 0 && refreshed_ns + max_age_ns <= now_ns;
  };
  // Nothing is held yet, so compile_and_store releases no data into this output.
  FlowOutput none(nullptr, nullptr, nullptr);
  DecodeCounters counters;
  CompiledTemplate scratch;
  std::array<RawField, kMaxTemplateFields> fields;
  Reader r(body);
  const auto on_template = [&](const RecordHead& h, uint16_t id, bool options,
                               std::span<const RawField> f) {
    if (stale(h.refreshed_ns)) {
      ++figures.stale;
      return;
    }
    SetContext ctx;
    ctx.type = h.key.version;
    ctx.domain = h.domain;
    ctx.meta.exporter = h.key.addr;
    ctx.meta.exporter_port = h.key.port;
    ctx.meta.receive_ns = h.refreshed_ns;
    ctx.exporter = loaded_exporter(cache, h.key);
    if (ctx.exporter == TemplateCache::kNoExporter) {
      ++figures.refused;
      return;
    }
    if (cache.refreshed_ns(ctx.exporter, h.domain, id) >= h.refreshed_ns) return;
    // v9 options templates name scope types, not field types (RFC 3954 §6.1), as the v9
    // decoder tells compile_template.
    const bool v9_scope_types = options && h.key.version == FlowType::kNetflow9;
    const DecodeStatus s = compile_and_store(id, f, options, v9_scope_types, ctx, cache, none,
                                             counters, scratch);
    if (s == DecodeStatus::kOk) {
      ++figures.templates;
    } else {
      ++figures.refused;
    }
  };
  const auto on_domain = [&](const RecordHead& h, uint32_t rate, uint64_t init_ms) {
    if (stale(h.refreshed_ns)) {
      ++figures.stale;
      return;
    }
    const uint32_t e = loaded_exporter(cache, h.key);
    DomainInfo* d = e == TemplateCache::kNoExporter ? nullptr : cache.exporter(e).domain(h.domain);
    if (d == nullptr) {
      ++figures.refused;
      return;
    }
    if (d->refreshed_ns >= h.refreshed_ns && d->refreshed_ns != 0) return;
    d->sampling_rate = rate;
    d->system_init_ms = init_ms;
    d->refreshed_ns = h.refreshed_ns;
    ++figures.options;
  };
  const auto on_sampler = [&](const RecordHead& h, uint64_t sampler, uint32_t rate) {
    if (stale(h.refreshed_ns)) {
      ++figures.stale;
      return;
    }
    const uint32_t e = loaded_exporter(cache, h.key);
    if (e == TemplateCache::kNoExporter ||
        !cache.exporter(e).set_sampler(h.domain, sampler, rate, h.refreshed_ns)) {
      ++figures.refused;
      return;
    }
    ++figures.options;
  };
  while (!r.done()) {
    if (!read_record(r, fields, on_template, on_domain, on_sampler)) return;
  }
}

StateStatus read_template_state_file(const std::string& path, std::vector<uint8_t>& bytes) {
  bytes.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? StateStatus::kMissing : StateStatus::kUnreadable;
  uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return StateStatus::kUnreadable;
    }
    if (n == 0) break;
    append(bytes, buf, static_cast<size_t>(n));
  }
  close(fd);
  return StateStatus::kOk;
}

bool write_template_state_file(const std::string& path, std::span<const uint8_t> bytes,
                               std::string& error) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = errno_text("cannot create", tmp);
    return false;
  }
  if (!write_all(fd, bytes) || fsync(fd) != 0) {
    error = errno_text("cannot write", tmp);
    close(fd);
    unlink(tmp.c_str());
    return false;
  }
  close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = errno_text("cannot rename " + tmp + " to", path);
    unlink(tmp.c_str());
    return false;
  }
  // The rename is durable only once the directory entry is.
  const std::string dir = dir_of(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return true;
}

bool probe_template_state_path(const std::string& path, std::string& error) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    error = path + " exists and is not a regular file";
    return false;
  }
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = errno_text("cannot create", tmp);
    return false;
  }
  close(fd);
  unlink(tmp.c_str());
  return true;
}

}  // namespace flowgate::decode
