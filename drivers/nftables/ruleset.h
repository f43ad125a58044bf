// kube-proxy's nftables-mode ruleset for ClusterIP services, as plain data.
//
// Both transports (the netlink batch and `nft -f` text) are rendered from this one model, so
// they cannot drift apart. It follows pkg/proxy/nftables/proxier.go for the parts a ClusterIP
// service with ready endpoints uses:
//
//   table ip kube-proxy
//     nat-prerouting  (nat, prerouting, dstnat)   jump services
//     nat-output      (nat, output, dstnat)       jump services
//     nat-postrouting (nat, postrouting, srcnat)  jump masquerading
//     services             ip daddr . meta l4proto . th dport vmap @service-ips
//     mark-for-masquerade  mark set mark or MARK
//     masquerading         mark and MARK == 0 return; mark set mark xor MARK; masquerade
//     fully-random service-ips          map ipv4_addr . inet_proto . inet_service : verdict
//     service-<H>-<ns>/<name>/<proto>/<port>                    one per service port
//     endpoint-<H>-<ns>/<name>/<proto>/<port>__<ip>/<port>      one per endpoint
//
// How a service chain picks its endpoint is the one choice left open (EndpointDispatch): kube-
// proxy's anonymous map per service by default, or one of two shapes with the same verdicts
// that the kernel can load in linear time (docs/nftables-scaling.md says why).
//
// Left out because no generated service needs them: the filter chains (endpoints-check,
// firewall-check, cluster-ips-check), NodePorts, LoadBalancer/external IPs, session affinity
// and the no-endpoint maps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/model/address_plan.h"
#include "harness/model/service_set.h"

namespace svcbench::nft {

inline constexpr std::string_view kTable = "kube-proxy";
inline constexpr std::string_view kTableComment = "rules for kube-proxy";
inline constexpr std::string_view kServicesChain = "services";
inline constexpr std::string_view kMarkMasqChain = "mark-for-masquerade";
inline constexpr std::string_view kMasqueradingChain = "masquerading";
inline constexpr std::string_view kServiceIpsMap = "service-ips";
inline constexpr std::string_view kServiceIpsComment =
    "ClusterIP, ExternalIP and LoadBalancer IP traffic";

// Only with EndpointDispatch::kSharedMap.
inline constexpr std::string_view kServiceEndpointsMap = "service-endpoints";
inline constexpr std::string_view kDispatchChainPrefix = "endpoints-mod-";

enum class Hook : uint8_t { kPrerouting, kOutput, kPostrouting };

// How a service chain sends a packet to one of its N endpoint chains. Every shape picks each
// endpoint with probability 1/N (numgen random) and ends in the same endpoint chain; they differ
// in what the kernel must build and check when the ruleset is loaded.
enum class EndpointDispatch : uint8_t {
  // kube-proxy's: `numgen random mod N vmap { 0 : goto endpoint-…, … }`, an anonymous map per
  // service chain. The kernel walks its whole pending transaction and its list of sets for each
  // one, so one transaction of them costs O(services²).
  kAnonymousMap,
  // One named map for all services, `service-endpoints`, keyed by ip daddr . meta l4proto .
  // th dport . numgen random mod N; the service chain does `goto endpoints-mod-N`, a chain per
  // distinct endpoint count holding the one lookup (so the map has few bindings).
  kSharedMap,
  // No map: `numgen random mod N 0 goto ep0`, `numgen random mod N-1 0 goto ep1`, …, `goto
  // ep(N-1)`, as kube-proxy's iptables mode chains its statistic matches. N rules per service.
  kRuleCascade,
};

std::string_view EndpointDispatchName(EndpointDispatch d);

struct BaseChain {
  std::string_view name;
  Hook hook;
  // Numeric, as knftables writes it: nft 1.0.6 refuses the name "dstnat" on the output hook.
  int priority;
  std::string_view jump_to;
};

// kube-proxy's nat base chains, each with its one jump.
inline constexpr BaseChain kBaseChains[] = {
    {"nat-prerouting", Hook::kPrerouting, -100, kServicesChain},
    {"nat-output", Hook::kOutput, -100, kServicesChain},
    {"nat-postrouting", Hook::kPostrouting, 100, kMasqueradingChain},
};

struct RulesetOptions {
  // kube-proxy's default --masquerade-bit 14.
  uint32_t masquerade_mark = 1u << 14;
  // The local-traffic detector (--cluster-cidr): service traffic from outside it is
  // masqueraded. The backend block, as for the iptables backends, so every backend makes the
  // same masquerading decision for the same packet.
  Ipv4 cluster_cidr = plan::kBackendBase;
  int cluster_prefix = plan::kBackendPrefix;
  EndpointDispatch dispatch = EndpointDispatch::kAnonymousMap;
};

struct EndpointChain {
  std::string name;
  Ipv4 ip = 0;
  uint16_t port = 0;
};

struct ServiceChain {
  std::string name;
  Ipv4 vip = 0;
  uint16_t port = 0;
  Protocol protocol = Protocol::kTcp;
  std::vector<EndpointChain> endpoints;
};

// Rules per regular chain, fixed by kube-proxy's layout (the base chains hold one jump each).
inline constexpr size_t kRulesPerEndpointChain = 2;  // hairpin mark, dnat
inline constexpr size_t kFixedRules = 5;   // services vmap, mark-for-masquerade 1, masquerading 3
inline constexpr size_t kFixedChains = 6;  // 3 base chains, services, masquerading, mark-for-masq

struct Ruleset {
  RulesetOptions options;
  std::vector<ServiceChain> services;

  // Rules as kube-proxy counts them: everything but the base chains' jumps.
  size_t Rules() const;
  // Every chain of the table, base chains included.
  size_t Chains() const;
  size_t Endpoints() const;
  // Rules in this service's chain: the masquerade mark, then the dispatch (one rule, or one
  // per endpoint for kRuleCascade).
  size_t RulesInServiceChain(const ServiceChain& sc) const;
  // kSharedMap: the distinct endpoint counts, ascending, one dispatch chain each; else empty.
  std::vector<uint32_t> DispatchModuli() const;
};

// "endpoints-mod-2": the kSharedMap chain that picks one of 2 endpoints.
std::string DispatchChainName(uint32_t modulus);

// Chain names exactly as proxier.go builds them: prefix, the first 8 base32 characters of the
// SHA-256 of the rest, "-", the rest; truncated to 240 bytes with "..." like kube-proxy.
std::string ServicePortChainName(std::string_view ns, std::string_view name, Protocol protocol,
                                 std::string_view port_name);
std::string EndpointChainName(std::string_view ns, std::string_view name, Protocol protocol,
                              std::string_view port_name, Ipv4 ip, uint16_t port);

// Pure. Throws std::invalid_argument for a service port without endpoints (kube-proxy would
// route it to the no-endpoint maps, which this model leaves out).
Ruleset BuildRuleset(const ServiceSet& set, const RulesetOptions& options = {});

// "ip saddr != 10.0.0.0/8" style text of the cluster CIDR, e.g. "10.0.0.0/8".
std::string ClusterCidrText(const RulesetOptions& options);

}  // namespace svcbench::nft
