#include "dataplane/dpdk_options.hpp"

#include <algorithm>
#include <cctype>

#include "decode/hash.hpp"

namespace flowgate::dataplane {
namespace {

bool hex_run(const std::string& s, size_t& i, size_t n) {
  for (size_t k = 0; k < n; ++k, ++i) {
    if (i >= s.size() || std::isxdigit(static_cast<unsigned char>(s[i])) == 0) return false;
  }
  return true;
}

bool starts_with_any(const std::vector<std::string>& args, std::initializer_list<const char*> flags) {
  for (const std::string& a : args) {
    for (const char* f : flags) {
      const std::string flag = f;
      if (a == flag || (flag.size() > 2 && a.rfind(flag + "=", 0) == 0)) return true;
    }
  }
  return false;
}

}  // namespace

bool is_pci_address(const std::string& d) noexcept {
  size_t i = 0;
  const size_t colons = static_cast<size_t>(std::count(d.begin(), d.end(), ':'));
  if (colons == 2 && !(hex_run(d, i, 4) && i < d.size() && d[i++] == ':')) return false;
  if (colons != 1 && colons != 2) return false;
  return hex_run(d, i, 2) && i < d.size() && d[i++] == ':' && hex_run(d, i, 2) && i < d.size() &&
         d[i++] == '.' && i + 1 == d.size() && d[i] >= '0' && d[i] <= '7';
}

uint32_t dispatch_lcore(const DpdkOptions& o) noexcept {
  if (o.dispatch_lcore >= 0) return static_cast<uint32_t>(o.dispatch_lcore);
  uint32_t highest = o.exporter_lcore;
  for (uint32_t w : o.worker_lcores) highest = std::max(highest, w);
  return highest + 1;
}

std::string exception_tap_device(const DpdkOptions& o) {
  if (o.exception_tap.empty()) return {};
  // EAL refuses two vdevs of one name, and a user may run net_tap0 as a data port.
  auto taken = [&](const std::string& name) {
    return std::any_of(o.devices.begin(), o.devices.end(), [&](const std::string& d) {
      return d.compare(0, d.find(','), name) == 0;
    });
  };
  uint32_t n = 0;
  while (taken("net_tap" + std::to_string(n))) ++n;
  return "net_tap" + std::to_string(n);
}

std::vector<std::string> eal_arguments(const DpdkOptions& o) {
  std::vector<std::string> args = {"flowgate"};
  args.insert(args.end(), o.eal_args.begin(), o.eal_args.end());
  const bool all_vdev = std::none_of(o.devices.begin(), o.devices.end(), is_pci_address);
  if (all_vdev) {
    for (const char* f : {"--no-huge", "--no-pci", "--no-shconf", "--no-telemetry"}) {
      if (!starts_with_any(o.eal_args, {f})) args.emplace_back(f);
    }
    if (!starts_with_any(o.eal_args, {"-m", "--socket-mem"})) {
      args.emplace_back("-m");
      args.emplace_back("512");
    }
  }
  if (!starts_with_any(o.eal_args, {"-l", "--lcores", "-c"})) {
    std::vector<uint32_t> lcores = {o.exporter_lcore};
    lcores.insert(lcores.end(), o.worker_lcores.begin(), o.worker_lcores.end());
    if (o.worker_lcores.size() > 1) lcores.push_back(dispatch_lcore(o));
    std::sort(lcores.begin(), lcores.end());
    lcores.erase(std::unique(lcores.begin(), lcores.end()), lcores.end());
    std::string list;
    for (uint32_t l : lcores) list += (list.empty() ? "" : ",") + std::to_string(l);
    args.emplace_back("-l");
    args.push_back(list);
  }
  if (!starts_with_any(o.eal_args, {"--main-lcore"})) {
    args.push_back("--main-lcore=" + std::to_string(o.exporter_lcore));
  }
  if (!starts_with_any(o.eal_args, {"--log-level"})) args.emplace_back("--log-level=*:notice");
  for (const std::string& d : o.devices) {
    if (is_pci_address(d)) {
      args.emplace_back("-a");
      args.push_back(d);
    } else {
      args.push_back("--vdev=" + d);
    }
  }
  if (!o.exception_tap.empty()) {
    args.push_back("--vdev=" + exception_tap_device(o) + ",iface=" + o.exception_tap);
  }
  return args;
}

}  // namespace flowgate::dataplane

namespace flowgate::dataplane {

uint32_t source_shard(const uint8_t* f, size_t n, uint32_t shards) noexcept {
  if (shards <= 1 || n < 14) return 0;
  size_t l2 = 12;
  uint16_t type = static_cast<uint16_t>(f[l2] << 8 | f[l2 + 1]);
  for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; ++tags) {
    l2 += 4;
    if (n < l2 + 2) return 0;
    type = static_cast<uint16_t>(f[l2] << 8 | f[l2 + 1]);
  }
  l2 += 2;
  decode::IpAddress src;
  if (type == 0x0800 && n >= l2 + 16) {
    src = decode::IpAddress::from_v4_bytes(f + l2 + 12);
  } else if (type == 0x86dd && n >= l2 + 24) {
    src = decode::IpAddress::from_v6_bytes(f + l2 + 8);
  } else {
    return 0;
  }
  // The tables' hash, then multiply-shift onto the workers.
  const uint64_t h = decode::hash_address(src, 0) >> 32;
  return static_cast<uint32_t>((h * shards) >> 32);
}

}  // namespace flowgate::dataplane
