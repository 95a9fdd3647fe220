#include "export/memory_budget.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace flowgate::exporter {
namespace {

std::optional<uint64_t> leading_number(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::optional<MemoryAvailable> memory_available(std::string_view meminfo,
                                                std::string_view cgroup_max,
                                                std::string_view cgroup_current) {
  constexpr std::string_view kKey = "MemAvailable:";
  const size_t at = meminfo.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  const std::optional<uint64_t> kib = leading_number(meminfo.substr(at + kKey.size()));
  if (!kib) return std::nullopt;
  MemoryAvailable m{*kib * 1024, "MemAvailable"};
  const std::optional<uint64_t> limit = leading_number(cgroup_max);  // "max": no limit
  if (limit) {
    const uint64_t used = leading_number(cgroup_current).value_or(0);
    const uint64_t left = *limit > used ? *limit - used : 0;
    if (left < m.bytes) m = MemoryAvailable{left, "cgroup memory.max"};
  }
  return m;
}

std::optional<MemoryAvailable> memory_available_here() {
  // cgroup v2: the line "0::<path>" of /proc/self/cgroup names this process's group.
  std::string cgroup_max, cgroup_current;
  std::istringstream groups(read_file("/proc/self/cgroup"));
  for (std::string line; std::getline(groups, line);) {
    if (line.rfind("0::", 0) != 0) continue;
    const std::string dir = "/sys/fs/cgroup" + line.substr(3);
    cgroup_max = read_file(dir + "/memory.max");
    cgroup_current = read_file(dir + "/memory.current");
  }
  return memory_available(read_file("/proc/meminfo"), cgroup_max, cgroup_current);
}

}  // namespace flowgate::exporter
