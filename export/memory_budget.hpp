#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flowgate::exporter {

// Memory this process can still take: the machine's MemAvailable and, inside a cgroup (v2)
// with a memory limit (a container), that limit minus what the cgroup already uses, whichever
// is smaller. Read once at start-up to refuse tables that cannot fit, before faulting them in.
struct MemoryAvailable {
  uint64_t bytes = 0;
  std::string source;  // "MemAvailable" or "cgroup memory.max"
};

// From the texts of /proc/meminfo, the cgroup's memory.max and memory.current (empty when
// there is no such file); nothing when MemAvailable cannot be read.
std::optional<MemoryAvailable> memory_available(std::string_view meminfo,
                                                std::string_view cgroup_max,
                                                std::string_view cgroup_current);

// The same from this process's own /proc/meminfo and cgroup files.
std::optional<MemoryAvailable> memory_available_here();

}  // namespace flowgate::exporter
