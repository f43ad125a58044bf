// BuildNatRules against RenderIptablesRestore: the same rules, chain by chain, in the same order,
// without a kernel.
#include "drivers/iptc/iptc_ruleset.h"

#include <arpa/inet.h>
#include <linux/netfilter/xt_statistic.h>

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "harness/model/generator.h"

namespace svcbench::iptc {
namespace {

struct Rule {
  std::string chain;
  std::string target;
  std::string comment;
  bool has_statistic = false;
  uint32_t probability = 0;
};

std::vector<Rule> Built(const ServiceSet& set, const RenderOptions& opts = {}) {
  std::vector<Rule> rules;
  const size_t n = BuildNatRules(set, opts, [&](const std::string& chain, const ipt_entry& e) {
    Rule r{chain, {}, std::string(EntryComment(e))};
    const auto* base = reinterpret_cast<const unsigned char*>(&e);
    r.target = reinterpret_cast<const xt_entry_target*>(base + e.target_offset)->u.user.name;
    for (size_t off = sizeof(ipt_entry); off < e.target_offset;) {
      const auto* m = reinterpret_cast<const xt_entry_match*>(base + off);
      if (std::string(m->u.user.name) == "statistic") {
        r.has_statistic = true;
        r.probability = reinterpret_cast<const xt_statistic_info*>(m->data)->u.random.probability;
      }
      off += m->u.user.match_size;
    }
    EXPECT_EQ(e.next_offset % 8, 0);
    rules.push_back(std::move(r));
  });
  EXPECT_EQ(n, rules.size());
  return rules;
}

// The -A lines of the rendered restore file as (chain, target, comment, statistic).
std::vector<Rule> Rendered(const Payload& p) {
  static const std::regex kLine(R"(^-A (\S+) (.*)-j (\S+).*$)");
  static const std::regex kComment(R"re(--comment (?:"([^"]*)"|(\S+)))re");
  std::vector<Rule> rules;
  size_t begin = 0;
  while (begin < p.text.size()) {
    const size_t end = p.text.find('\n', begin);
    const std::string line = p.text.substr(begin, end - begin);
    begin = end + 1;
    std::smatch m;
    if (!std::regex_match(line, m, kLine)) continue;
    Rule r{m[1], m[3], {}};
    std::smatch c;
    const std::string middle = m[2];
    if (std::regex_search(middle, c, kComment)) r.comment = c[1].matched ? c[1] : c[2];
    r.has_statistic = middle.find("-m statistic") != std::string::npos;
    rules.push_back(std::move(r));
  }
  return rules;
}

ServiceSet Gen(uint32_t services, uint32_t endpoints, Protocol proto = Protocol::kTcp) {
  GeneratorSpec spec;
  spec.seed = 7;
  spec.services = services;
  spec.endpoints_per_service = endpoints;
  spec.protocol = proto;
  return Generate(spec);
}

void ExpectSameRules(const ServiceSet& set, const RenderOptions& opts) {
  const Payload p = RenderIptablesRestore(set, opts);
  const std::vector<Rule> built = Built(set, opts);
  const std::vector<Rule> rendered = Rendered(p);
  ASSERT_EQ(built.size(), p.rules);
  ASSERT_EQ(rendered.size(), p.rules);
  // Per chain, in order (the order across chains does not matter to the kernel).
  std::map<std::string, std::vector<const Rule*>> a, b;
  for (const auto& r : built) a[r.chain].push_back(&r);
  for (const auto& r : rendered) b[r.chain].push_back(&r);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [chain, rules] : b) {
    ASSERT_EQ(a[chain].size(), rules.size()) << chain;
    for (size_t i = 0; i < rules.size(); ++i) {
      EXPECT_EQ(a[chain][i]->target, rules[i]->target) << chain << " #" << i;
      EXPECT_EQ(a[chain][i]->comment, rules[i]->comment) << chain << " #" << i;
      EXPECT_EQ(a[chain][i]->has_statistic, rules[i]->has_statistic) << chain << " #" << i;
    }
  }
}

TEST(IptcRuleset, SameRulesAsTheRestoreFile) { ExpectSameRules(Gen(20, 2), {}); }

TEST(IptcRuleset, SameRulesForUdpAndThreeEndpoints) {
  ExpectSameRules(Gen(10, 3, Protocol::kUdp), {});
}

TEST(IptcRuleset, SameRulesInLargeClusterMode) {
  RenderOptions large;
  large.large_cluster_endpoints_threshold = 0;
  ExpectSameRules(Gen(10, 3), large);
  for (const Rule& r : Built(Gen(3, 2), large)) {
    if (r.chain.starts_with("KUBE-SEP-")) {
      EXPECT_EQ(r.comment, "") << "no comments on SEP rules";
    }
  }
}

TEST(IptcRuleset, EndpointProbabilitiesAreOneInRemaining) {
  const ServiceSet set = Gen(1, 4);
  std::vector<uint32_t> probabilities;
  for (const Rule& r : Built(set)) {
    if (r.chain == set.ports[0].chain && r.target.starts_with("KUBE-SEP-")) {
      probabilities.push_back(r.has_statistic ? r.probability : 0);
    }
  }
  ASSERT_EQ(probabilities.size(), 4u);
  EXPECT_EQ(probabilities[0], StatisticProbabilityOneIn(4));
  EXPECT_EQ(probabilities[1], StatisticProbabilityOneIn(3));
  EXPECT_EQ(probabilities[2], 0x40000000u);
  EXPECT_EQ(probabilities[3], 0u) << "the last endpoint matches unconditionally";
}

TEST(IptcRuleset, NodePortsRuleIsLastInKubeServices) {
  const std::vector<Rule> rules = Built(Gen(5, 2));
  const Rule* last = nullptr;
  for (const Rule& r : rules) {
    if (r.chain == "KUBE-SERVICES") last = &r;
  }
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->target, "KUBE-NODEPORTS");
}

TEST(IptcRuleset, BadClusterCidrIsAnError) {
  RenderOptions opts;
  opts.cluster_cidr = "198.19.0.0/99";
  EXPECT_THROW(BuildNatRules(Gen(1, 1), opts, [](const std::string&, const ipt_entry&) {}),
               std::invalid_argument);
}

TEST(IptcRuleset, BaseChainJumpsMatchTheRenderersList) {
  ASSERT_EQ(BaseChainJumps().size(), BaseChainJumpRules().size());
  EntryBuilder b;
  for (size_t i = 0; i < BaseChainJumps().size(); ++i) {
    const BaseChainJump& j = BaseChainJumps()[i];
    EXPECT_EQ(BaseChainJumpRules()[i],
              "-A " + j.chain + " -m comment --comment \"" + j.comment + "\" -j " + j.target);
    EXPECT_EQ(EntryComment(BuildBaseChainJump(j, b)), j.comment);
  }
}

}  // namespace
}  // namespace svcbench::iptc
