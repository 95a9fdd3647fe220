#include "dataplane/bpf_programs.hpp"

#include <algorithm>

namespace flowgate::dataplane {
namespace {

constexpr uint16_t kIpv4 = 0x0800;
constexpr uint16_t kIpv6 = 0x86dd;
constexpr uint16_t kVlan = 0x8100;
constexpr uint16_t kQinQ = 0x88a8;
constexpr uint32_t kUdp = 17;
constexpr uint32_t kIpv6Fragment = 44;
constexpr size_t kMaxPorts = 32;

// A classic BPF assembler with forward labels: jumps name labels, resolved in finish(); a
// jump farther than 255 instructions (8-bit jt/jf) makes the program empty.
class Assembler {
 public:
  using Label = int;
  static constexpr Label kNext = -1;

  Label label() {
    at_.push_back(-1);
    return static_cast<Label>(at_.size() - 1);
  }
  void bind(Label l) { at_[static_cast<size_t>(l)] = static_cast<int>(code_.size()); }
  void stmt(uint16_t code, uint32_t k) {
    code_.push_back({sock_filter{code, 0, 0, k}, kNext, kNext});
  }
  void jump(uint16_t code, uint32_t k, Label jt, Label jf) {
    code_.push_back({sock_filter{code, 0, 0, k}, jt, jf});
  }
  // An unconditional jump: its distance goes in k.
  void jump_always(Label to) { code_.push_back({sock_filter{BPF_JMP | BPF_JA, 0, 0, 0}, kNext, kNext, to}); }

  std::vector<sock_filter> finish() const {
    std::vector<sock_filter> out;
    out.reserve(code_.size());
    for (size_t i = 0; i < code_.size(); ++i) {
      sock_filter f = code_[i].insn;
      if (code_[i].always != kNext) {
        const int distance = at_[static_cast<size_t>(code_[i].always)] - static_cast<int>(i) - 1;
        if (distance < 0) return {};
        f.k = static_cast<uint32_t>(distance);
      }
      for (auto [label, field] : {std::pair{code_[i].jt, &f.jt}, std::pair{code_[i].jf, &f.jf}}) {
        if (label == kNext) continue;
        const int distance = at_[static_cast<size_t>(label)] - static_cast<int>(i) - 1;
        if (distance < 0 || distance > 255) return {};
        *field = static_cast<uint8_t>(distance);
      }
      out.push_back(f);
    }
    return out;
  }

 private:
  struct Insn {
    sock_filter insn;
    Label jt;
    Label jf;
    Label always = kNext;
  };
  std::vector<Insn> code_;
  std::vector<int> at_;
};

constexpr uint32_t kProtocol = static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL);

// Dispatch on skb->protocol: IP at `base`, or behind the one tag left in the data at base + 4.
// Calls emit(asm, ip_offset, is_v6) for each of the four cases, each after its label.
template <class Emit>
void dispatch(Assembler& a, uint32_t base, Assembler::Label none, Emit&& emit) {
  const auto v4 = a.label(), v6 = a.label(), tagged = a.label(), v4t = a.label(), v6t = a.label();
  a.stmt(BPF_LD | BPF_W | BPF_ABS, kProtocol);
  a.jump(BPF_JMP | BPF_JEQ | BPF_K, kIpv4, v4, Assembler::kNext);
  a.jump(BPF_JMP | BPF_JEQ | BPF_K, kIpv6, v6, Assembler::kNext);
  a.jump(BPF_JMP | BPF_JEQ | BPF_K, kVlan, tagged, Assembler::kNext);
  a.jump(BPF_JMP | BPF_JEQ | BPF_K, kQinQ, tagged, none);
  a.bind(tagged);
  a.stmt(BPF_LD | BPF_H | BPF_ABS, base + 2);
  a.jump(BPF_JMP | BPF_JEQ | BPF_K, kIpv4, v4t, Assembler::kNext);
  a.jump(BPF_JMP | BPF_JEQ | BPF_K, kIpv6, v6t, none);
  a.bind(v4);
  emit(a, base, false);
  a.bind(v6);
  emit(a, base, true);
  a.bind(v4t);
  emit(a, base + 4, false);
  a.bind(v6t);
  emit(a, base + 4, true);
}

uint32_t fmix32(uint32_t h) noexcept {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

}  // namespace

std::vector<sock_filter> listener_filter(std::span<const uint16_t> listener_ports) {
  std::vector<uint16_t> ports(listener_ports.begin(), listener_ports.end());
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  if (ports.empty() || ports.size() > kMaxPorts) return {};
  Assembler a;
  // The first ret 0 sits right after the dispatch, reached for anything not IP.
  const auto drop = a.label();
  // A socket filter sees the frame from its MAC header: the network header is at 14.
  dispatch(a, 14, drop, [&](Assembler& as, uint32_t ip, bool v6) {
    const auto keep = as.label(), reject = as.label();
    if (v6) {
      as.stmt(BPF_LD | BPF_B | BPF_ABS, ip + 6);  // next header
      const auto udp = as.label();
      as.jump(BPF_JMP | BPF_JEQ | BPF_K, kUdp, udp, Assembler::kNext);
      as.jump(BPF_JMP | BPF_JEQ | BPF_K, kIpv6Fragment, keep, reject);
      as.bind(udp);
      as.stmt(BPF_LD | BPF_H | BPF_ABS, ip + 40 + 2);  // UDP destination port
    } else {
      as.stmt(BPF_LD | BPF_B | BPF_ABS, ip + 9);  // protocol: fragments keep it
      as.jump(BPF_JMP | BPF_JEQ | BPF_K, kUdp, Assembler::kNext, reject);
      as.stmt(BPF_LD | BPF_H | BPF_ABS, ip + 6);  // a non-zero offset: no UDP header here
      as.jump(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, keep, Assembler::kNext);
      as.stmt(BPF_LD | BPF_B | BPF_ABS, ip);
      as.stmt(BPF_ALU | BPF_AND | BPF_K, 0x0f);
      as.stmt(BPF_ALU | BPF_LSH | BPF_K, 2);
      as.stmt(BPF_MISC | BPF_TAX, 0);
      as.stmt(BPF_LD | BPF_H | BPF_IND, ip + 2);  // UDP destination port after the options
    }
    for (size_t i = 0; i < ports.size(); ++i) {
      as.jump(BPF_JMP | BPF_JEQ | BPF_K, ports[i], keep,
              i + 1 < ports.size() ? Assembler::kNext : reject);
    }
    as.bind(reject);
    as.stmt(BPF_RET | BPF_K, 0);
    as.bind(keep);
    as.stmt(BPF_RET | BPF_K, kKeepWholeFrame);
  });
  a.bind(drop);
  a.stmt(BPF_RET | BPF_K, 0);
  return a.finish();
}

std::vector<sock_filter> source_hash_fanout() {
  Assembler a;
  const auto zero = a.label(), mix = a.label();
  // A fanout program sees the skb from its network header (eth_type_trans pulled the MAC
  // header): the network header is at 0.
  dispatch(a, 0, zero, [&](Assembler& as, uint32_t ip, bool v6) {
    if (v6) {
      as.stmt(BPF_LD | BPF_W | BPF_ABS, ip + 8);
      for (uint32_t word = 1; word < 4; ++word) {
        as.stmt(BPF_MISC | BPF_TAX, 0);
        as.stmt(BPF_LD | BPF_W | BPF_ABS, ip + 8 + 4 * word);
        as.stmt(BPF_ALU | BPF_XOR | BPF_X, 0);
      }
    } else {
      as.stmt(BPF_LD | BPF_W | BPF_ABS, ip + 12);
    }
    as.jump_always(mix);
  });
  a.bind(zero);
  a.stmt(BPF_RET | BPF_K, 0);
  a.bind(mix);
  // murmur3's fmix32 in A (X holds the shifted copy each time).
  for (auto [shift, factor] : {std::pair{16u, 0x85ebca6bu}, std::pair{13u, 0xc2b2ae35u}}) {
    a.stmt(BPF_MISC | BPF_TAX, 0);
    a.stmt(BPF_ALU | BPF_RSH | BPF_K, shift);
    a.stmt(BPF_ALU | BPF_XOR | BPF_X, 0);
    a.stmt(BPF_ALU | BPF_MUL | BPF_K, factor);
  }
  a.stmt(BPF_MISC | BPF_TAX, 0);
  a.stmt(BPF_ALU | BPF_RSH | BPF_K, 16);
  a.stmt(BPF_ALU | BPF_XOR | BPF_X, 0);
  a.stmt(BPF_RET | BPF_A, 0);
  return a.finish();
}

uint32_t source_hash(std::span<const uint8_t> address) noexcept {
  auto word = [&](size_t at) {
    return static_cast<uint32_t>(address[at]) << 24 | static_cast<uint32_t>(address[at + 1]) << 16 |
           static_cast<uint32_t>(address[at + 2]) << 8 | address[at + 3];
  };
  uint32_t h = 0;
  if (address.size() == 4) {
    h = word(0);
  } else if (address.size() == 16) {
    h = word(0) ^ word(4) ^ word(8) ^ word(12);
  } else {
    return 0;
  }
  return fmix32(h);
}

}  // namespace flowgate::dataplane
