#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace flowgate::testing {

// A network namespace of the test's own with a veth pair (fga <-> fgb) inside, IPv6 off so the
// kernel sends nothing of its own on it, MTU 9000 so corpus datagrams need no fragmenting.
// Removed (with the pair) when the object goes, whether the test passed or not.
class VethNamespace {
 public:
  explicit VethNamespace(std::string name) : name_(std::move(name)) {
    ok_ = sh("ip netns add " + name_) && in("ip link add fga type veth peer name fgb") &&
          in("sysctl -qw net.ipv6.conf.fga.disable_ipv6=1") &&
          in("sysctl -qw net.ipv6.conf.fgb.disable_ipv6=1") && in("ip link set fga mtu 9000") &&
          in("ip link set fgb mtu 9000") && in("ip link set fga up") && in("ip link set fgb up") &&
          in("ip link set lo up");
  }
  ~VethNamespace() { sh("ip netns del " + name_ + " 2>/dev/null"); }
  VethNamespace(const VethNamespace&) = delete;
  VethNamespace& operator=(const VethNamespace&) = delete;

  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  bool in(const std::string& command) const { return sh("ip netns exec " + name_ + " " + command); }
  // Output of a command run inside the namespace.
  std::string output(const std::string& command) const {
    std::string out;
    FILE* p = popen(("ip netns exec " + name_ + " " + command).c_str(), "r");
    if (p == nullptr) return out;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    pclose(p);
    return out;
  }
  // Frames the kernel counted as received on an interface of the namespace (`ip -s link`'s
  // RX packets, from sysfs).
  unsigned long long rx_packets(const std::string& interface) const {
    return std::strtoull(output("cat /sys/class/net/" + interface + "/statistics/rx_packets").c_str(),
                         nullptr, 10);
  }

 private:
  static bool sh(const std::string& command) { return std::system(command.c_str()) == 0; }
  std::string name_;
  bool ok_ = false;
};

}  // namespace flowgate::testing
