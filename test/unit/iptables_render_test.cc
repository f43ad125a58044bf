#include "drivers/iptables/iptables_render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness/model/address_plan.h"
#include "harness/model/generator.h"

namespace svcbench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

size_t CountPrefix(const std::string& text, std::string_view prefix) {
  size_t n = 0;
  for (const auto& line : Lines(text)) n += line.starts_with(prefix) ? 1 : 0;
  return n;
}

RenderOptions WithThreshold(size_t threshold) {
  RenderOptions opts;
  opts.large_cluster_endpoints_threshold = threshold;
  return opts;
}

ServiceSet Gen(uint32_t services, uint32_t endpoints, Protocol proto = Protocol::kTcp,
               uint64_t seed = 42) {
  GeneratorSpec spec;
  spec.seed = seed;
  spec.services = services;
  spec.endpoints_per_service = endpoints;
  spec.protocol = proto;
  return Generate(spec);
}

// The golden file pins the whole text for a small generated set. After an intended change,
// regenerate it with
//   SVCBENCH_UPDATE_GOLDEN=1 ./build/test/svcbench_unit_tests
//   --gtest_filter='IptablesRender*Golden*'
// and review the diff like code.
TEST(IptablesRenderTest, MatchesGoldenFile3x2) {
  const std::string path =
      std::string(SVCBENCH_SOURCE_DIR) + "/test/fixtures/golden/iptables-restore-3x2.txt";
  const Payload p = RenderIptablesRestore(Gen(3, 2));
  if (const char* update = std::getenv("SVCBENCH_UPDATE_GOLDEN"); update && *update == '1') {
    std::ofstream(path, std::ios::binary) << p.text;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing " << path << "; run with SVCBENCH_UPDATE_GOLDEN=1 to create it";
  std::stringstream golden;
  golden << in.rdbuf();
  EXPECT_EQ(p.text, golden.str());
}

// A hand-built set, spelled out line by line, so the shape is checked independently of the
// generator and of the golden file.
TEST(IptablesRenderTest, HandBuiltServiceRendersLikeKubeProxy) {
  ServiceSet set;
  set.services = 1;
  ServicePort sp;
  sp.ns = "ns-0000";
  sp.name = "svc-000000";
  sp.port_name = "http";
  sp.vip = plan::kVipBase | 0x0102;  // 198.18.1.2
  sp.port = 80;
  sp.chain = "KUBE-SVC-AAAAAAAAAAAAAAAA";
  sp.endpoints = {{plan::kBackendBase | 0x0304, 8080, "KUBE-SEP-BBBBBBBBBBBBBBBB"},
                  {plan::kBackendBase | 0xfefe, 8080, "KUBE-SEP-CCCCCCCCCCCCCCCC"}};
  set.ports.push_back(sp);

  const Payload p = RenderIptablesRestore(set);
  EXPECT_EQ(
      p.text,
      "*nat\n"
      ":KUBE-SERVICES - [0:0]\n"
      ":KUBE-NODEPORTS - [0:0]\n"
      ":KUBE-POSTROUTING - [0:0]\n"
      ":KUBE-MARK-MASQ - [0:0]\n"
      ":KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n"
      ":KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]\n"
      ":KUBE-SEP-CCCCCCCCCCCCCCCC - [0:0]\n"
      "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
      "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000\n"
      "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" "
      "-j MASQUERADE --random-fully\n"
      "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n"
      "-A KUBE-SERVICES -m comment --comment \"ns-0000/svc-000000:http cluster IP\" -m tcp "
      "-p tcp -d 198.18.1.2/32 --dport 80 -j KUBE-SVC-AAAAAAAAAAAAAAAA\n"
      "-A KUBE-SVC-AAAAAAAAAAAAAAAA -m comment --comment \"ns-0000/svc-000000:http cluster "
      "IP\" -m tcp -p tcp -d 198.18.1.2/32 --dport 80 ! -s 198.19.0.0/16 -j KUBE-MARK-MASQ\n"
      "-A KUBE-SVC-AAAAAAAAAAAAAAAA -m comment --comment \"ns-0000/svc-000000:http -> "
      "198.19.3.4:8080\" -m statistic --mode random --probability 0.5000000000 -j "
      "KUBE-SEP-BBBBBBBBBBBBBBBB\n"
      "-A KUBE-SVC-AAAAAAAAAAAAAAAA -m comment --comment \"ns-0000/svc-000000:http -> "
      "198.19.254.254:8080\" -j KUBE-SEP-CCCCCCCCCCCCCCCC\n"
      "-A KUBE-SEP-BBBBBBBBBBBBBBBB -m comment --comment ns-0000/svc-000000:http -s "
      "198.19.3.4/32 -j KUBE-MARK-MASQ\n"
      "-A KUBE-SEP-BBBBBBBBBBBBBBBB -m comment --comment ns-0000/svc-000000:http -m tcp -p "
      "tcp -j DNAT --to-destination 198.19.3.4:8080\n"
      "-A KUBE-SEP-CCCCCCCCCCCCCCCC -m comment --comment ns-0000/svc-000000:http -s "
      "198.19.254.254/32 -j KUBE-MARK-MASQ\n"
      "-A KUBE-SEP-CCCCCCCCCCCCCCCC -m comment --comment ns-0000/svc-000000:http -m tcp -p "
      "tcp -j DNAT --to-destination 198.19.254.254:8080\n"
      "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must "
      "be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n"
      "COMMIT\n");
  EXPECT_EQ(p.rules, 13u);
  EXPECT_EQ(p.chains, 7u);
}

// kubernetes pkg/proxy/iptables/number_generated_rules_test.go: 5 fixed nat rules, and per
// service port 1 KUBE-SERVICES jump + 1 masquerade rule + E jumps + 2E endpoint rules.
struct RuleCountCase {
  uint32_t services;
  uint32_t endpoints;
  size_t rules;
};

class IptablesRuleCountTest : public ::testing::TestWithParam<RuleCountCase> {};

TEST_P(IptablesRuleCountTest, MatchesKubeProxy) {
  const RuleCountCase c = GetParam();
  const Payload p = RenderIptablesRestore(Gen(c.services, c.endpoints));
  EXPECT_EQ(p.rules, c.rules);
  EXPECT_EQ(CountPrefix(p.text, "-A "), c.rules);
  EXPECT_EQ(p.chains, 4u + c.services * (1u + c.endpoints));
  EXPECT_EQ(CountPrefix(p.text, ":"), p.chains);
}

INSTANTIATE_TEST_SUITE_P(KubeProxyTable, IptablesRuleCountTest,
                         ::testing::Values(RuleCountCase{1, 1, 10}, RuleCountCase{1, 2, 13},
                                           RuleCountCase{1, 10, 37}, RuleCountCase{10, 1, 55},
                                           RuleCountCase{10, 2, 85}, RuleCountCase{10, 10, 325},
                                           // Large cluster mode drops comments, not rules.
                                           RuleCountCase{600, 2, 5 + 600 * 8}));

TEST(IptablesRenderTest, LargeClusterModeAboveKubeProxysThreshold) {
  // 500 x 2 = 1000 endpoints: not above the threshold, comments stay.
  const Payload at = RenderIptablesRestore(Gen(500, 2));
  EXPECT_THAT(at.text, HasSubstr(":http -> 198.19."));
  EXPECT_THAT(at.text, HasSubstr("-m comment --comment ns-0000/svc-000000:http -s "));

  // 1001 x 1: above it. The jumps to endpoints and the endpoint chains lose their comments;
  // the KUBE-SERVICES and masquerade rules keep theirs (kube-proxy writes those unconditionally).
  const Payload above = RenderIptablesRestore(Gen(1001, 1));
  EXPECT_THAT(above.text, Not(HasSubstr(" -> ")));
  for (const auto& line : Lines(above.text)) {
    if (line.starts_with("-A KUBE-SEP-")) {
      EXPECT_THAT(line, Not(HasSubstr("comment"))) << line;
    }
    if (line.starts_with("-A KUBE-SVC-") && line.find("KUBE-MARK-MASQ") == std::string::npos) {
      EXPECT_THAT(line, Not(HasSubstr("comment"))) << line;
    }
  }
  EXPECT_THAT(above.text, HasSubstr("\"ns-0010/svc-001000:http cluster IP\""));
  EXPECT_LT(above.text.size(),
            RenderIptablesRestore(Gen(1001, 1), WithThreshold(SIZE_MAX)).text.size());
}

TEST(IptablesRenderTest, LargeClusterModeThresholdIsAnOption) {
  const ServiceSet small = Gen(2, 2);
  const Payload forced = RenderIptablesRestore(small, WithThreshold(0));
  EXPECT_THAT(forced.text, Not(HasSubstr(" -> ")));
  EXPECT_EQ(forced.rules, RenderIptablesRestore(small).rules);

  const Payload never =
      RenderIptablesRestore(Gen(1001, 1), WithThreshold(std::numeric_limits<size_t>::max()));
  EXPECT_THAT(never.text, HasSubstr(" -> "));
}

TEST(IptablesRenderTest, UdpServicesMatchUdp) {
  const Payload p = RenderIptablesRestore(Gen(3, 2, Protocol::kUdp));
  EXPECT_THAT(p.text, HasSubstr("-m udp -p udp -d "));
  EXPECT_THAT(p.text, HasSubstr("-m udp -p udp -j DNAT --to-destination "));
  EXPECT_THAT(p.text, Not(HasSubstr("tcp")));
  EXPECT_EQ(p.rules, RenderIptablesRestore(Gen(3, 2)).rules);
}

TEST(IptablesRenderTest, ProbabilitiesSplitTrafficEvenly) {
  const ServiceSet set = Gen(1, 4);
  const Payload p = RenderIptablesRestore(set);
  std::vector<std::string> jumps;
  for (const auto& line : Lines(p.text)) {
    if (line.starts_with("-A " + set.ports[0].chain) && line.find(" -> ") != std::string::npos) {
      jumps.push_back(line);
    }
  }
  ASSERT_EQ(jumps.size(), 4u);
  EXPECT_THAT(jumps[0],
              HasSubstr("--probability 0.2500000000 -j " + set.ports[0].endpoints[0].chain));
  EXPECT_THAT(jumps[1],
              HasSubstr("--probability 0.3333333333 -j " + set.ports[0].endpoints[1].chain));
  EXPECT_THAT(jumps[2],
              HasSubstr("--probability 0.5000000000 -j " + set.ports[0].endpoints[2].chain));
  EXPECT_THAT(jumps[3], Not(HasSubstr("statistic")));
  EXPECT_THAT(jumps[3], HasSubstr("-j " + set.ports[0].endpoints[3].chain));

  const Payload one = RenderIptablesRestore(Gen(1, 1));
  EXPECT_THAT(one.text, Not(HasSubstr("statistic")));
}

TEST(IptablesRenderTest, ProbabilityFormatMatchesGosPercent10f) {
  // 1/7 = 0.142857142857... -> 0.1428571429 (rounded, 10 places).
  const Payload p = RenderIptablesRestore(Gen(1, 7));
  EXPECT_THAT(p.text, HasSubstr("--probability 0.1428571429 "));
  EXPECT_THAT(p.text, HasSubstr("--probability 0.1666666667 "));
}

TEST(IptablesRenderTest, StaleChainsAreFlushedAndDeletedBeforeTheNodePortsRule) {
  const ServiceSet set = Gen(3, 2);
  RenderOptions opts;
  opts.stale_chains = {"KUBE-SEP-OLDOLDOLDOLDOLD1", "KUBE-SVC-OLDOLDOLDOLDOLD2"};
  const Payload p = RenderIptablesRestore(set, opts);
  const Payload plain = RenderIptablesRestore(set);
  EXPECT_EQ(p.rules, plain.rules);
  EXPECT_EQ(p.chains, plain.chains);

  const std::vector<std::string> lines = Lines(p.text);
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[lines.size() - 1], "COMMIT");
  EXPECT_THAT(lines[lines.size() - 2], HasSubstr("-j KUBE-NODEPORTS"));
  EXPECT_EQ(lines[lines.size() - 3], "-X KUBE-SVC-OLDOLDOLDOLDOLD2");
  EXPECT_EQ(lines[lines.size() - 4], "-X KUBE-SEP-OLDOLDOLDOLDOLD1");
  // The chain line (which flushes the chain) comes with the other declarations, before any rule.
  const auto decl = std::find(lines.begin(), lines.end(), ":KUBE-SEP-OLDOLDOLDOLDOLD1 - [0:0]");
  const auto first_rule =
      std::find_if(lines.begin(), lines.end(), [](const auto& l) { return l.starts_with("-A "); });
  ASSERT_NE(decl, lines.end());
  EXPECT_LT(decl, first_rule);
  EXPECT_EQ(CountPrefix(p.text, "-X "), 2u);
}

TEST(IptablesRenderTest, SplicingStaleChainsEqualsRenderingThem) {
  const ServiceSet set = Gen(20, 3);
  RenderOptions opts;
  opts.stale_chains = {"KUBE-SVC-STALESTALESTALE1", "KUBE-SEP-STALESTALESTALE2",
                       "KUBE-SEP-STALESTALESTALE3"};
  EXPECT_EQ(SpliceStaleChainDeletions(RenderIptablesRestore(set).text, opts.stale_chains),
            RenderIptablesRestore(set, opts).text);
  EXPECT_EQ(SpliceStaleChainDeletions(RenderIptablesRestore(set).text, {}),
            RenderIptablesRestore(set).text);
  EXPECT_THROW(SpliceStaleChainDeletions("*nat\nCOMMIT\n", opts.stale_chains),
               std::invalid_argument);
}

TEST(IptablesRenderTest, EveryChainIsDeclaredAndReferenced) {
  const std::set<std::string> kFixed = {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING",
                                        "KUBE-MARK-MASQ"};
  const std::set<std::string> kTargets = {"RETURN", "MARK", "MASQUERADE", "DNAT"};
  for (const ServiceSet& set : {Gen(3, 2), Gen(10, 10), Gen(1001, 1), Gen(5, 3, Protocol::kUdp)}) {
    const Payload p = RenderIptablesRestore(set);
    std::set<std::string> declared;
    std::set<std::string> referenced;
    std::set<std::string> appended_to;
    for (const auto& line : Lines(p.text)) {
      if (line.starts_with(":")) {
        EXPECT_TRUE(declared.insert(line.substr(1, line.find(' ') - 1)).second)
            << "twice: " << line;
      } else if (line.starts_with("-A ")) {
        appended_to.insert(line.substr(3, line.find(' ', 3) - 3));
        const size_t j = line.find(" -j ");
        ASSERT_NE(j, std::string::npos) << line;
        const std::string target = line.substr(j + 4, line.find(' ', j + 4) - (j + 4));
        if (!kTargets.contains(target)) referenced.insert(target);
      } else {
        EXPECT_TRUE(line == "*nat" || line == "COMMIT") << line;
      }
    }
    for (const auto& chain : declared) {
      EXPECT_TRUE(kFixed.contains(chain) || referenced.contains(chain)) << "unused: " << chain;
    }
    for (const auto& chain : referenced) EXPECT_TRUE(declared.contains(chain)) << chain;
    for (const auto& chain : appended_to) EXPECT_TRUE(declared.contains(chain)) << chain;
    EXPECT_EQ(declared.size(), p.chains);
  }
}

TEST(IptablesRenderTest, ServicePortWithoutEndpointsGetsNoNatRules) {
  ServiceSet set = Gen(3, 2);
  const std::string dropped = set.ports[1].chain;
  set.ports[1].endpoints.clear();
  const Payload p = RenderIptablesRestore(set);
  EXPECT_THAT(p.text, Not(HasSubstr(dropped)));
  EXPECT_EQ(p.rules, 5u + 2 * 8);
  EXPECT_EQ(p.chains, 4u + 2 * 3);
  EXPECT_EQ(ServiceChainNames(set).size(), 6u);
}

TEST(IptablesRenderTest, ServiceChainNamesAreSortedAndComplete) {
  const ServiceSet set = Gen(10, 3);
  const std::vector<std::string> names = ServiceChainNames(set);
  EXPECT_EQ(names.size(), 40u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const auto& n : names) EXPECT_TRUE(IsServiceChainName(n)) << n;
  EXPECT_FALSE(IsServiceChainName("KUBE-SERVICES"));
  EXPECT_FALSE(IsServiceChainName("KUBE-MARK-MASQ"));
  EXPECT_TRUE(IsServiceChainName("KUBE-EXT-ABC"));
}

TEST(IptablesRenderTest, DefaultClusterCidrIsTheBackendBlock) {
  EXPECT_EQ(RenderOptions{}.cluster_cidr,
            FormatIpv4(plan::kBackendBase) + "/" + std::to_string(plan::kBackendPrefix));
}

TEST(IptablesRenderTest, BaseChainJumpsAreKubeProxys) {
  EXPECT_THAT(
      BaseChainJumpRules(),
      ::testing::ElementsAre(
          "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
          "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
          "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j "
          "KUBE-POSTROUTING"));
}

TEST(IptablesRenderTest, IsDeterministic) {
  EXPECT_EQ(RenderIptablesRestore(Gen(50, 3)).text, RenderIptablesRestore(Gen(50, 3)).text);
}

}  // namespace
}  // namespace svcbench
