#include "drivers/nftables/ruleset.h"

#include <fmt/format.h>

#include <set>
#include <stdexcept>

#include "harness/model/chain_names.h"

namespace svcbench::nft {
namespace {

// knftables.NameLengthMax (256) minus kube-proxy's longest prefix allowance (16).
constexpr size_t kChainNameBaseLengthMax = 240;

// kube-proxy's hashAndTruncate: the hash keeps names unique when the tail is cut, and makes
// endpoint chains of one service that differ in one digit easy to tell apart.
std::string HashAndTruncate(std::string_view name) {
  std::string out = HashPrefix16(name).substr(0, 8);
  out.push_back('-');
  out.append(name);
  if (out.size() > kChainNameBaseLengthMax) {
    out.resize(kChainNameBaseLengthMax - 3);
    out.append("...");
  }
  return out;
}

}  // namespace

std::string_view EndpointDispatchName(EndpointDispatch d) {
  switch (d) {
    case EndpointDispatch::kAnonymousMap:
      return "anonymous-map";
    case EndpointDispatch::kSharedMap:
      return "shared-map";
    case EndpointDispatch::kRuleCascade:
      return "rule-cascade";
  }
  return "?";
}

std::string DispatchChainName(uint32_t modulus) {
  return fmt::format("{}{}", kDispatchChainPrefix, modulus);
}

size_t Ruleset::Endpoints() const {
  size_t n = 0;
  for (const auto& s : services) n += s.endpoints.size();
  return n;
}

size_t Ruleset::RulesInServiceChain(const ServiceChain& sc) const {
  return 1 + (options.dispatch == EndpointDispatch::kRuleCascade ? sc.endpoints.size() : 1);
}

std::vector<uint32_t> Ruleset::DispatchModuli() const {
  if (options.dispatch != EndpointDispatch::kSharedMap) return {};
  std::set<uint32_t> moduli;
  for (const ServiceChain& sc : services) moduli.insert(static_cast<uint32_t>(sc.endpoints.size()));
  return {moduli.begin(), moduli.end()};
}

size_t Ruleset::Rules() const {
  size_t n = kFixedRules + Endpoints() * kRulesPerEndpointChain + DispatchModuli().size();
  for (const ServiceChain& sc : services) n += RulesInServiceChain(sc);
  return n;
}

size_t Ruleset::Chains() const {
  return kFixedChains + services.size() + Endpoints() + DispatchModuli().size();
}

std::string ServicePortChainName(std::string_view ns, std::string_view name, Protocol protocol,
                                 std::string_view port_name) {
  return "service-" +
         HashAndTruncate(fmt::format("{}/{}/{}/{}", ns, name, ProtocolName(protocol), port_name));
}

std::string EndpointChainName(std::string_view ns, std::string_view name, Protocol protocol,
                              std::string_view port_name, Ipv4 ip, uint16_t port) {
  return "endpoint-" +
         HashAndTruncate(fmt::format("{}/{}/{}/{}__{}/{}", ns, name, ProtocolName(protocol),
                                     port_name, FormatIpv4(ip), port));
}

std::string ClusterCidrText(const RulesetOptions& options) {
  return fmt::format("{}/{}", FormatIpv4(options.cluster_cidr), options.cluster_prefix);
}

Ruleset BuildRuleset(const ServiceSet& set, const RulesetOptions& options) {
  // "ip saddr != x/0" never matches, so no traffic would be masqueraded: refuse it.
  if (options.cluster_prefix < 1 || options.cluster_prefix > 32) {
    throw std::invalid_argument(
        fmt::format("cluster prefix must be in [1, 32], got {}", options.cluster_prefix));
  }
  Ruleset rs;
  rs.options = options;
  rs.services.reserve(set.ports.size());
  for (const ServicePort& sp : set.ports) {
    if (sp.endpoints.empty()) {
      throw std::invalid_argument(
          fmt::format("service port {} has no endpoints; the nftables model needs at least one",
                      sp.FullName()));
    }
    ServiceChain sc;
    sc.name = ServicePortChainName(sp.ns, sp.name, sp.protocol, sp.port_name);
    sc.vip = sp.vip;
    sc.port = sp.port;
    sc.protocol = sp.protocol;
    sc.endpoints.reserve(sp.endpoints.size());
    for (const Endpoint& ep : sp.endpoints) {
      sc.endpoints.push_back(
          {EndpointChainName(sp.ns, sp.name, sp.protocol, sp.port_name, ep.ip, ep.port), ep.ip,
           ep.port});
    }
    rs.services.push_back(std::move(sc));
  }
  return rs;
}

}  // namespace svcbench::nft
