#include "export/ip_protocol_names.hpp"

#include <array>

namespace flowgate::exporter {
namespace {

// Keywords of the IANA protocol-numbers registry, spelled as Datakit's NetFlow input spells
// them (its enrichment/ip_protocol.go), because dashboards match these strings: ARGUS, SWIPE,
// MICP and SM without IANA's "(deprecated)" suffix, 55 as MOBILE (IANA has since renamed it
// Min-IPv4), 84 as IPTM (IANA lists TTP and IPTM for it), 255 as Reserved. 144 AGGFRAG
// (RFC 9347) and 145 NSH (RFC 9491) are newer than the reference's table. Empty means the
// registry has no keyword: 61, 63, 68, 99, 114, 146-252 (unassigned), 253-254 (RFC 3692).
// clang-format off
constexpr std::array<std::string_view, 256> kKeywords = {
    "HOPOPT", "ICMP", "IGMP", "GGP", "IPv4", "ST", "TCP", "CBT", "EGP", "IGP",      // 0-9
    "BBN-RCC-MON", "NVP-II", "PUP", "ARGUS", "EMCON", "XNET", "CHAOS", "UDP", "MUX",  // 10-18
    "DCN-MEAS", "HMP", "PRM", "XNS-IDP", "TRUNK-1", "TRUNK-2", "LEAF-1", "LEAF-2",    // 19-26
    "RDP", "IRTP", "ISO-TP4", "NETBLT", "MFE-NSP", "MERIT-INP", "DCCP", "3PC",        // 27-34
    "IDPR", "XTP", "DDP", "IDPR-CMTP", "TP++", "IL", "IPv6", "SDRP", "IPv6-Route",    // 35-43
    "IPv6-Frag", "IDRP", "RSVP", "GRE", "DSR", "BNA", "ESP", "AH", "I-NLSP", "SWIPE",  // 44-53
    "NARP", "MOBILE", "TLSP", "SKIP", "IPv6-ICMP", "IPv6-NoNxt", "IPv6-Opts", "",     // 54-61
    "CFTP", "", "SAT-EXPAK", "KRYPTOLAN", "RVD", "IPPC", "", "SAT-MON", "VISA",       // 62-70
    "IPCV", "CPNX", "CPHB", "WSN", "PVP", "BR-SAT-MON", "SUN-ND", "WB-MON",           // 71-78
    "WB-EXPAK", "ISO-IP", "VMTP", "SECURE-VMTP", "VINES", "IPTM", "NSFNET-IGP",       // 79-85
    "DGP", "TCF", "EIGRP", "OSPFIGP", "Sprite-RPC", "LARP", "MTP", "AX.25", "IPIP",   // 86-94
    "MICP", "SCC-SP", "ETHERIP", "ENCAP", "", "GMTP", "IFMP", "PNNI", "PIM", "ARIS",  // 95-104
    "SCPS", "QNX", "A/N", "IPComp", "SNP", "Compaq-Peer", "IPX-in-IP", "VRRP",        // 105-112
    "PGM", "", "L2TP", "DDX", "IATP", "STP", "SRP", "UTI", "SMP", "SM", "PTP",        // 113-123
    "ISIS over IPv4", "FIRE", "CRTP", "CRUDP", "SSCOPMCE", "IPLT", "SPS", "PIPE",     // 124-131
    "SCTP", "FC", "RSVP-E2E-IGNORE", "Mobility Header", "UDPLite", "MPLS-in-IP",      // 132-137
    "manet", "HIP", "Shim6", "WESP", "ROHC", "Ethernet", "AGGFRAG", "NSH",            // 138-145
    // 146-254: no keyword (value-initialised to empty).
};
// clang-format on

constexpr std::array<std::string_view, 256> with_reserved(std::array<std::string_view, 256> t) {
  t[255] = "Reserved";
  return t;
}

// "0".."255" for the numbers without a keyword; string_views into it are constant expressions.
struct DecimalNames {
  char text[256][4]{};
  constexpr DecimalNames() {
    for (int i = 0; i < 256; ++i) {
      int n = 0;
      if (i >= 100) text[i][n++] = static_cast<char>('0' + i / 100);
      if (i >= 10) text[i][n++] = static_cast<char>('0' + i / 10 % 10);
      text[i][n] = static_cast<char>('0' + i % 10);
    }
  }
};
constexpr DecimalNames kDecimalNames;

constexpr std::array<std::string_view, 256> make_names() {
  std::array<std::string_view, 256> names = with_reserved(kKeywords);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) names[i] = std::string_view(kDecimalNames.text[i]);
  }
  return names;
}

constexpr std::array<std::string_view, 256> kNames = make_names();

constexpr bool longest_fits() {
  for (std::string_view n : kNames) {
    if (n.size() > kMaxIpProtocolNameLength) return false;
  }
  return true;
}
static_assert(longest_fits());
static_assert(kNames[6] == "TCP" && kNames[17] == "UDP" && kNames[58] == "IPv6-ICMP");
static_assert(kNames[143] == "Ethernet" && kNames[145] == "NSH");
static_assert(kNames[61] == "61" && kNames[146] == "146" && kNames[254] == "254");

}  // namespace

std::string_view ip_protocol_name(uint8_t protocol) noexcept { return kNames[protocol]; }

}  // namespace flowgate::exporter
