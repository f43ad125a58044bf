#include "drivers/iptc/iptc_ruleset.h"

#include <linux/netfilter/xt_comment.h>

#include <cstring>

namespace svcbench::iptc {
namespace {

const std::string kServices = "KUBE-SERVICES";
const std::string kNodePorts = "KUBE-NODEPORTS";
const std::string kPostrouting = "KUBE-POSTROUTING";
const std::string kMarkMasq = "KUBE-MARK-MASQ";

// kube-proxy's default --iptables-masquerade-bit is 14.
constexpr uint32_t kMasqMark = 0x4000;

}  // namespace

const std::vector<std::string>& FixedChains() {
  static const std::vector<std::string> kChains = {kServices, kNodePorts, kPostrouting, kMarkMasq};
  return kChains;
}

size_t BuildNatRules(const ServiceSet& set, const RenderOptions& opts, const RuleSink& sink) {
  const Cidr cluster = ParseCidr(opts.cluster_cidr);
  const bool large_cluster = set.EndpointCount() > opts.large_cluster_endpoints_threshold;
  EntryBuilder b;
  size_t rules = 0;
  auto emit = [&](const std::string& chain, const ipt_entry& e) {
    sink(chain, e);
    ++rules;
  };

  // -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
  emit(kPostrouting, b.Reset().Mark(kMasqMark, kMasqMark, true).Jump("RETURN"));
  // -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
  emit(kPostrouting, b.Reset().XorMark(kMasqMark));
  // -A KUBE-POSTROUTING -m comment --comment "..." -j MASQUERADE --random-fully
  emit(kPostrouting,
       b.Reset().Comment("kubernetes service traffic requiring SNAT").Masquerade(true));
  // -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
  emit(kMarkMasq, b.Reset().OrMark(kMasqMark));

  std::string name;
  std::string comment;
  std::vector<uint32_t> probabilities;  // by n, cached: a few values repeat across every service
  for (const auto& sp : set.ports) {
    if (sp.endpoints.empty()) continue;
    name.assign(sp.ns).append("/").append(sp.name).append(":").append(sp.port_name);
    comment.assign(name).append(" cluster IP");
    // -m comment --comment "<name> cluster IP" -m <proto> -p <proto> -d <vip>/32 --dport <port>
    auto cluster_ip_match = [&]() -> EntryBuilder& {
      return b.Reset()
          .Comment(comment)
          .DestinationPort(sp.protocol, sp.port)
          .Proto(sp.protocol)
          .Destination(sp.vip, 32);
    };
    emit(kServices, cluster_ip_match().Jump(sp.chain));
    emit(sp.chain, cluster_ip_match().Source(cluster.ip, cluster.prefix, true).Jump(kMarkMasq));

    const size_t n = sp.endpoints.size();
    for (size_t i = 0; i < n; ++i) {
      const Endpoint& ep = sp.endpoints[i];
      b.Reset();
      if (!large_cluster) {
        comment.assign(name).append(" -> ").append(FormatIpv4(ep.ip)).append(":");
        comment.append(std::to_string(ep.port));
        b.Comment(comment);
      }
      if (i + 1 < n) {
        const size_t one_in = n - i;
        if (one_in >= probabilities.size()) probabilities.resize(one_in + 1, 0);
        if (probabilities[one_in] == 0) probabilities[one_in] = StatisticProbabilityOneIn(one_in);
        b.StatisticRandom(probabilities[one_in]);
      }
      emit(sp.chain, b.Jump(ep.chain));
    }
    for (const Endpoint& ep : sp.endpoints) {
      b.Reset();
      if (!large_cluster) b.Comment(name);
      emit(ep.chain, b.Source(ep.ip, 32).Jump(kMarkMasq));
      b.Reset();
      if (!large_cluster) b.Comment(name);
      emit(ep.chain, b.ProtocolMatch(sp.protocol).Proto(sp.protocol).Dnat(ep.ip, ep.port));
    }
  }

  // Must stay last in KUBE-SERVICES.
  emit(kServices,
       b.Reset()
           .Comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain")
           .AddrTypeDstLocal()
           .Jump(kNodePorts));
  return rules;
}

const std::vector<BaseChainJump>& BaseChainJumps() {
  static const std::vector<BaseChainJump> kJumps = {
      {"PREROUTING", kServices, "kubernetes service portals"},
      {"OUTPUT", kServices, "kubernetes service portals"},
      {"POSTROUTING", kPostrouting, "kubernetes postrouting rules"},
  };
  return kJumps;
}

const ipt_entry& BuildBaseChainJump(const BaseChainJump& jump, EntryBuilder& b) {
  return b.Reset().Comment(jump.comment).Jump(jump.target);
}

std::string_view EntryComment(const ipt_entry& e) {
  const auto* base = reinterpret_cast<const unsigned char*>(&e);
  for (size_t off = sizeof(ipt_entry); off < e.target_offset;) {
    const auto* m = reinterpret_cast<const xt_entry_match*>(base + off);
    if (m->u.user.match_size == 0) break;
    if (std::strcmp(m->u.user.name, "comment") == 0) {
      const auto* info = reinterpret_cast<const xt_comment_info*>(m->data);
      return {info->comment, ::strnlen(info->comment, sizeof info->comment)};
    }
    off += m->u.user.match_size;
  }
  return {};
}

}  // namespace svcbench::iptc
