#include "drivers/nftables/ruleset.h"

#include <gtest/gtest.h>

#include "harness/model/generator.h"

namespace svcbench::nft {
namespace {

constexpr Ipv4 Ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// Names copied from kube-proxy's own tests (pkg/proxy/nftables/proxier_test.go), so a change in
// hashing or layout shows up here and not as a silent divergence from a real node.
TEST(NftRulesetTest, ChainNamesMatchKubeProxy) {
  EXPECT_EQ(ServicePortChainName("ns1", "svc1", Protocol::kTcp, "p80"),
            "service-ULMVA6XW-ns1/svc1/tcp/p80");
  EXPECT_EQ(ServicePortChainName("ns2", "svc2", Protocol::kTcp, "p80"),
            "service-42NFTM6N-ns2/svc2/tcp/p80");
  EXPECT_EQ(EndpointChainName("ns1", "svc1", Protocol::kTcp, "p80", Ip(10, 180, 0, 1), 80),
            "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80");
  EXPECT_EQ(EndpointChainName("ns2", "svc2", Protocol::kTcp, "p80", Ip(10, 180, 0, 2), 80),
            "endpoint-SGOXE6O3-ns2/svc2/tcp/p80__10.180.0.2/80");
}

TEST(NftRulesetTest, LongNamesAreTruncatedLikeKubeProxy) {
  // Kubernetes names are at most 63 bytes: hash, dash and the three names with protocol fit in
  // 240 bytes, so nothing is cut.
  const std::string n63(63, 'n');
  EXPECT_EQ(ServicePortChainName(n63, n63, Protocol::kUdp, n63).size(),
            8u + 8u + 1u + 63u * 3 + 3u + 3u);
  // Longer ones (only possible in kube-proxy with IPv6 endpoints) are cut to 240 bytes after the
  // prefix, the last three of which are "...".
  const std::string n80(80, 'n');
  const std::string svc = ServicePortChainName(n80, n80, Protocol::kTcp, n80);
  EXPECT_EQ(svc.size(), 8u + 240u);
  EXPECT_EQ(svc.substr(svc.size() - 3), "...");
  const std::string ep = EndpointChainName(n80, n80, Protocol::kTcp, n80, Ip(10, 0, 0, 1), 1);
  EXPECT_EQ(ep.size(), 9u + 240u);
  EXPECT_EQ(ep.substr(ep.size() - 3), "...");
  // The hash covers the whole name, so two names that differ only after the cut stay apart.
  EXPECT_NE(ep, EndpointChainName(n80, n80, Protocol::kTcp, n80, Ip(10, 0, 0, 2), 1));
}

TEST(NftRulesetTest, CountsFollowTheLayout) {
  const ServiceSet set = Generate({.seed = 42, .services = 3, .endpoints_per_service = 2});
  const Ruleset rs = BuildRuleset(set);
  ASSERT_EQ(rs.services.size(), 3u);
  EXPECT_EQ(rs.Endpoints(), 6u);
  EXPECT_EQ(rs.Chains(), 6u + 3u + 6u);
  EXPECT_EQ(rs.Rules(), 5u + 3u * 2 + 6u * 2);
  for (size_t i = 0; i < set.ports.size(); ++i) {
    const ServicePort& sp = set.ports[i];
    EXPECT_EQ(rs.services[i].vip, sp.vip);
    EXPECT_EQ(rs.services[i].port, sp.port);
    EXPECT_EQ(rs.services[i].name, ServicePortChainName(sp.ns, sp.name, sp.protocol, sp.port_name));
    ASSERT_EQ(rs.services[i].endpoints.size(), sp.endpoints.size());
    EXPECT_EQ(rs.services[i].endpoints[1].ip, sp.endpoints[1].ip);
  }
}

TEST(NftRulesetTest, CountsFollowTheDispatchShape) {
  ServiceSet set = Generate({.seed = 42, .services = 3, .endpoints_per_service = 2});
  set.ports[2].endpoints.push_back(set.ports[0].endpoints[0]);  // 2, 2 and 3 endpoints
  const Ruleset anon = BuildRuleset(set);
  EXPECT_EQ(anon.DispatchModuli(), std::vector<uint32_t>{});
  EXPECT_EQ(anon.RulesInServiceChain(anon.services[2]), 2u);

  const Ruleset shared = BuildRuleset(set, {.dispatch = EndpointDispatch::kSharedMap});
  EXPECT_EQ(shared.DispatchModuli(), (std::vector<uint32_t>{2, 3}));
  // Plus one dispatch chain with one rule per distinct endpoint count.
  EXPECT_EQ(shared.Chains(), anon.Chains() + 2);
  EXPECT_EQ(shared.Rules(), anon.Rules() + 2);
  EXPECT_EQ(DispatchChainName(3), "endpoints-mod-3");

  const Ruleset cascade = BuildRuleset(set, {.dispatch = EndpointDispatch::kRuleCascade});
  EXPECT_EQ(cascade.RulesInServiceChain(cascade.services[2]), 4u);
  EXPECT_EQ(cascade.Chains(), anon.Chains());
  EXPECT_EQ(cascade.Rules(), anon.Rules() + (2 - 1) + (2 - 1) + (3 - 1));
}

TEST(NftRulesetTest, RejectsServicePortWithoutEndpoints) {
  ServiceSet set = Generate({.seed = 1, .services = 2});
  set.ports[1].endpoints.clear();
  EXPECT_THROW(BuildRuleset(set), std::invalid_argument);
}

TEST(NftRulesetTest, RejectsBadClusterPrefix) {
  const ServiceSet set = Generate({.seed = 1, .services = 1});
  EXPECT_THROW(BuildRuleset(set, {.cluster_prefix = 0}), std::invalid_argument);
  EXPECT_THROW(BuildRuleset(set, {.cluster_prefix = 33}), std::invalid_argument);
  EXPECT_NO_THROW(BuildRuleset(set, {.cluster_prefix = 12}));
}

}  // namespace
}  // namespace svcbench::nft
