#include "harness/model/generator.h"

#include <gtest/gtest.h>

#include <set>

#include "harness/model/address_plan.h"
#include "harness/model/chain_names.h"

namespace svcbench {
namespace {

TEST(ChainNames, MatchKubeProxy) {
  // The names kube-proxy's own proxier tests expect for ns1/svc1:p80 and its endpoint
  // 10.180.0.1:80 (pkg/proxy/iptables/proxier_test.go).
  EXPECT_EQ(ServiceChainName("ns1/svc1:p80", "tcp"), "KUBE-SVC-XPGD46QRK7WJZT7O");
  EXPECT_EQ(EndpointChainName("ns1/svc1:p80", "tcp", "10.180.0.1:80"), "KUBE-SEP-SXIVWICOYRO3J4NJ");
}

TEST(AddressPlan, SlotsStayInsideTheirBlocks) {
  EXPECT_EQ(FormatIpv4(plan::VipAt(0)), "198.18.0.1");
  EXPECT_EQ(FormatIpv4(plan::VipAt(253)), "198.18.0.254");
  EXPECT_EQ(FormatIpv4(plan::VipAt(254)), "198.18.1.1");
  EXPECT_EQ(FormatIpv4(plan::VipAt(plan::kVipSlots - 1)), "198.18.254.254");
  EXPECT_THROW(plan::VipAt(plan::kVipSlots), std::out_of_range);
  EXPECT_EQ(FormatIpv4(plan::BackendAt(0)), "198.19.0.1");
  EXPECT_EQ(FormatIpv4(plan::BackendAt(plan::kBackendSlots - 1)), "198.19.255.254");
  EXPECT_THROW(plan::BackendAt(plan::kBackendSlots), std::out_of_range);
}

TEST(Generator, DeterministicFromSeed) {
  const GeneratorSpec spec{7, 500, 2, 3, Protocol::kTcp};
  const ServiceSet a = Generate(spec);
  const ServiceSet b = Generate(spec);
  ASSERT_EQ(a.ports.size(), b.ports.size());
  for (size_t i = 0; i < a.ports.size(); ++i) {
    EXPECT_EQ(a.ports[i].vip, b.ports[i].vip);
    EXPECT_EQ(a.ports[i].chain, b.ports[i].chain);
    ASSERT_EQ(a.ports[i].endpoints.size(), b.ports[i].endpoints.size());
    for (size_t j = 0; j < a.ports[i].endpoints.size(); ++j) {
      EXPECT_EQ(a.ports[i].endpoints[j].ip, b.ports[i].endpoints[j].ip);
    }
  }
  GeneratorSpec other = spec;
  other.seed = 8;
  const ServiceSet c = Generate(other);
  size_t same = 0;
  for (size_t i = 0; i < a.ports.size(); ++i) same += a.ports[i].vip == c.ports[i].vip;
  EXPECT_LT(same, a.ports.size() / 10) << "another seed should lay out other addresses";
}

TEST(Generator, ShapeAndUniqueness) {
  const GeneratorSpec spec{42, 1000, 2, 3, Protocol::kUdp};
  const ServiceSet set = Generate(spec);
  EXPECT_EQ(set.services, 1000u);
  EXPECT_EQ(set.ports.size(), 2000u);
  EXPECT_EQ(set.EndpointCount(), 6000u);
  std::set<std::pair<Ipv4, uint16_t>> frontends;
  std::set<std::string> chains;
  for (const ServicePort& sp : set.ports) {
    EXPECT_EQ(sp.protocol, Protocol::kUdp);
    EXPECT_EQ(sp.vip >> 16, plan::kVipBase >> 16) << FormatIpv4(sp.vip);
    EXPECT_NE((sp.vip >> 8) & 0xff, 255u) << "VIP inside the link block";
    EXPECT_TRUE(frontends.insert({sp.vip, sp.port}).second) << "duplicate VIP:port";
    EXPECT_TRUE(chains.insert(sp.chain).second);
    EXPECT_EQ(sp.chain.size(), 9u + 16u);
    EXPECT_EQ(sp.endpoints.size(), 3u);
    for (const Endpoint& ep : sp.endpoints) {
      EXPECT_EQ(ep.ip >> 16, plan::kBackendBase >> 16) << FormatIpv4(ep.ip);
      EXPECT_TRUE(chains.insert(ep.chain).second) << "duplicate endpoint chain " << ep.chain;
    }
  }
  // The two ports of one service share its VIP, on consecutive ports.
  EXPECT_EQ(set.ports[0].vip, set.ports[1].vip);
  EXPECT_EQ(set.ports[0].port + 1, set.ports[1].port);
  EXPECT_EQ(set.ports[0].FullName(), "ns-0000/svc-000000:p0");
}

TEST(Generator, PortsVaryAboveTheAddressBlocks) {
  // 100k services need more VIPs than 198.18.0.0/16 has: the second wrap uses port 81.
  const GeneratorSpec spec{1, 100000, 1, 2, Protocol::kTcp};
  const ServiceSet set = Generate(spec);
  std::set<std::pair<Ipv4, uint16_t>> frontends;
  std::set<std::pair<Ipv4, uint16_t>> backends;
  for (const ServicePort& sp : set.ports) {
    EXPECT_TRUE(frontends.insert({sp.vip, sp.port}).second);
    for (const Endpoint& ep : sp.endpoints) EXPECT_TRUE(backends.insert({ep.ip, ep.port}).second);
  }
  EXPECT_EQ(set.ports.front().port, 80);
  EXPECT_EQ(set.ports.back().port, 81);
  const std::vector<uint16_t> ports = TargetPorts(spec);
  EXPECT_EQ(ports, (std::vector<uint16_t>{8080, 8081, 8082, 8083}));
  for (const auto& [ip, port] : backends) {
    EXPECT_NE(std::find(ports.begin(), ports.end(), port), ports.end());
  }
}

TEST(Generator, RejectsWhatDoesNotFit) {
  EXPECT_THROW(Generate({1, 0, 1, 1, Protocol::kTcp}), std::invalid_argument);
  EXPECT_THROW(Generate({1, 10, 1, 0, Protocol::kTcp}), std::invalid_argument);
  EXPECT_THROW(TargetPorts({1, 1000000, 64, 1000, Protocol::kTcp}), std::invalid_argument);
}

}  // namespace
}  // namespace svcbench
