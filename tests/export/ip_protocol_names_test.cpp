#include "export/ip_protocol_names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace flowgate::exporter {
namespace {

TEST(IpProtocolNames, NamesCommonProtocolsByIanaKeyword) {
  EXPECT_EQ(ip_protocol_name(0), "HOPOPT");
  EXPECT_EQ(ip_protocol_name(1), "ICMP");
  EXPECT_EQ(ip_protocol_name(2), "IGMP");
  EXPECT_EQ(ip_protocol_name(4), "IPv4");
  EXPECT_EQ(ip_protocol_name(6), "TCP");
  EXPECT_EQ(ip_protocol_name(17), "UDP");
  EXPECT_EQ(ip_protocol_name(41), "IPv6");
  EXPECT_EQ(ip_protocol_name(43), "IPv6-Route");
  EXPECT_EQ(ip_protocol_name(44), "IPv6-Frag");
  EXPECT_EQ(ip_protocol_name(47), "GRE");
  EXPECT_EQ(ip_protocol_name(50), "ESP");
  EXPECT_EQ(ip_protocol_name(51), "AH");
  EXPECT_EQ(ip_protocol_name(58), "IPv6-ICMP");
  EXPECT_EQ(ip_protocol_name(59), "IPv6-NoNxt");
  EXPECT_EQ(ip_protocol_name(60), "IPv6-Opts");
  EXPECT_EQ(ip_protocol_name(88), "EIGRP");
  EXPECT_EQ(ip_protocol_name(89), "OSPFIGP");
  EXPECT_EQ(ip_protocol_name(93), "AX.25");
  EXPECT_EQ(ip_protocol_name(103), "PIM");
  EXPECT_EQ(ip_protocol_name(107), "A/N");
  EXPECT_EQ(ip_protocol_name(112), "VRRP");
  EXPECT_EQ(ip_protocol_name(115), "L2TP");
  EXPECT_EQ(ip_protocol_name(124), "ISIS over IPv4");
  EXPECT_EQ(ip_protocol_name(132), "SCTP");
  EXPECT_EQ(ip_protocol_name(134), "RSVP-E2E-IGNORE");
  EXPECT_EQ(ip_protocol_name(135), "Mobility Header");
  EXPECT_EQ(ip_protocol_name(136), "UDPLite");
  EXPECT_EQ(ip_protocol_name(137), "MPLS-in-IP");
  EXPECT_EQ(ip_protocol_name(138), "manet");
  EXPECT_EQ(ip_protocol_name(143), "Ethernet");
  EXPECT_EQ(ip_protocol_name(144), "AGGFRAG");
  EXPECT_EQ(ip_protocol_name(145), "NSH");
}

// The reference's spellings where today's registry differs (dashboards match these strings).
TEST(IpProtocolNames, KeepsTheReferencesSpellings) {
  EXPECT_EQ(ip_protocol_name(13), "ARGUS");
  EXPECT_EQ(ip_protocol_name(53), "SWIPE");
  EXPECT_EQ(ip_protocol_name(55), "MOBILE");
  EXPECT_EQ(ip_protocol_name(84), "IPTM");
  EXPECT_EQ(ip_protocol_name(95), "MICP");
  EXPECT_EQ(ip_protocol_name(122), "SM");
  EXPECT_EQ(ip_protocol_name(255), "Reserved");
}

TEST(IpProtocolNames, WritesTheNumberWhenTheRegistryNamesNone) {
  for (int p : {61, 63, 68, 99, 114, 253, 254}) {
    EXPECT_EQ(ip_protocol_name(static_cast<uint8_t>(p)), std::to_string(p));
  }
  for (int p = 146; p <= 252; ++p) {
    EXPECT_EQ(ip_protocol_name(static_cast<uint8_t>(p)), std::to_string(p));
  }
}

TEST(IpProtocolNames, EveryNameIsNonEmptyAndFitsTheReservedLength) {
  for (int p = 0; p < 256; ++p) {
    const std::string_view name = ip_protocol_name(static_cast<uint8_t>(p));
    EXPECT_FALSE(name.empty()) << p;
    EXPECT_LE(name.size(), kMaxIpProtocolNameLength) << p;
    // Written into JSON unescaped.
    for (char c : name) EXPECT_TRUE(c != '"' && c != '\\' && c >= 0x20) << p;
  }
}

}  // namespace
}  // namespace flowgate::exporter
