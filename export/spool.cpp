#include "export/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace flowgate::exporter {
namespace {

constexpr std::string_view kMagic = "flowgate-spool-1 ";
constexpr std::string_view kSuffix = ".batch";

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool make_dirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') {
      const std::string part = dir.substr(0, i);
      if (mkdir(part.c_str(), 0750) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

}  // namespace

std::string Spool::path_of(uint64_t seq) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020" PRIu64, seq);
  return dir_ + "/" + name + std::string(kSuffix);
}

bool Spool::open(const std::string& dir, uint64_t max_bytes, std::string& error) {
  std::lock_guard lock(mutex_);
  dir_ = dir;
  max_bytes_ = max_bytes;
  if (!make_dirs(dir)) {
    error = dir + ": " + std::strerror(errno);
    return false;
  }
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    error = dir + ": " + std::strerror(errno);
    return false;
  }
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    const std::string path = dir + "/" + name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      unlink(path.c_str());  // a write a crash interrupted: never renamed, so never acknowledged
      continue;
    }
    if (name.size() != 20 + kSuffix.size() || name.compare(20, kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    uint64_t seq = 0;
    bool digits = true;
    for (size_t i = 0; i < 20; ++i) {
      digits = digits && name[i] >= '0' && name[i] <= '9';
      seq = seq * 10 + static_cast<uint64_t>(name[i] - '0');
    }
    struct stat st {};
    if (!digits || stat(path.c_str(), &st) != 0) continue;
    files_[seq] = static_cast<uint64_t>(st.st_size);
    bytes_ += static_cast<uint64_t>(st.st_size);
    if (seq + 1 > next_seq_) next_seq_ = seq + 1;
  }
  closedir(d);
  return true;
}

Spool::PutResult Spool::put(uint64_t seq, uint32_t records, std::string_view body) {
  std::string header(kMagic);
  header += std::to_string(records);
  header += '\n';
  const uint64_t size = header.size() + body.size();
  std::lock_guard lock(mutex_);
  if (bytes_ + size > max_bytes_) return PutResult::kFull;
  const std::string path = path_of(seq);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return PutResult::kError;
  const bool ok = write_all(fd, header) && write_all(fd, body) && fsync(fd) == 0;
  close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return PutResult::kError;
  }
  sync_dir(dir_);
  files_[seq] = size;
  bytes_ += size;
  if (seq + 1 > next_seq_) next_seq_ = seq + 1;
  return PutResult::kStored;
}

bool Spool::oldest(uint64_t& seq, uint32_t& records, std::string& body) {
  std::lock_guard lock(mutex_);
  while (!files_.empty()) {
    const auto it = files_.begin();
    seq = it->first;
    const std::string path = path_of(seq);
    bool good = false;
    if (FILE* f = std::fopen(path.c_str(), "rbe")) {
      body.resize(it->second);
      good = std::fread(body.data(), 1, body.size(), f) == body.size();
      std::fclose(f);
    }
    const size_t eol = body.find('\n');
    if (good && eol != std::string::npos && body.compare(0, kMagic.size(), kMagic) == 0) {
      records = static_cast<uint32_t>(std::strtoul(body.c_str() + kMagic.size(), nullptr, 10));
      body.erase(0, eol + 1);
      return true;
    }
    ++corrupt_;
    unlink(path.c_str());
    bytes_ -= it->second;
    files_.erase(it);
  }
  return false;
}

void Spool::remove(uint64_t seq) {
  std::lock_guard lock(mutex_);
  const auto it = files_.find(seq);
  if (it == files_.end()) return;
  unlink(path_of(seq).c_str());
  bytes_ -= it->second;
  files_.erase(it);
}

bool Spool::empty() const {
  std::lock_guard lock(mutex_);
  return files_.empty();
}
uint64_t Spool::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}
uint64_t Spool::batches() const {
  std::lock_guard lock(mutex_);
  return files_.size();
}
uint64_t Spool::next_seq() const {
  std::lock_guard lock(mutex_);
  return next_seq_;
}
uint64_t Spool::corrupt() const {
  std::lock_guard lock(mutex_);
  return corrupt_;
}

}  // namespace flowgate::exporter
