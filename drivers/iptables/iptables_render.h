// kube-proxy's iptables-mode nat table for ClusterIP services, as iptables-restore input.
//
// Pure: no kernel, no I/O. The layout follows syncProxyRules in kubernetes
// pkg/proxy/iptables/proxier.go, for `iptables-restore --noflush --counters`:
//
//   *nat
//   :KUBE-SERVICES, :KUBE-NODEPORTS, :KUBE-POSTROUTING, :KUBE-MARK-MASQ     (fixed chains)
//   per service port: :KUBE-SVC-..., then :KUBE-SEP-... of its endpoints
//   :<stale chain> ...                                                       (flushes them)
//   fixed KUBE-POSTROUTING / KUBE-MARK-MASQ rules
//   per service port: KUBE-SERVICES jump, masquerade rule, KUBE-SVC -> KUBE-SEP jumps,
//                     per endpoint: KUBE-SEP masquerade (hairpin) and DNAT
//   -X <stale chain> ...
//   the KUBE-SERVICES -> KUBE-NODEPORTS rule, which must stay last in KUBE-SERVICES
//   COMMIT
//
// The jumps from the base chains (PREROUTING, OUTPUT, POSTROUTING) are not part of it: kube-proxy
// installs them once with `iptables -I` (EnsureRule) and so does the driver. See
// BaseChainJumpRules().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "harness/driver/driver.h"
#include "harness/model/service_set.h"

namespace svcbench {

// kube-proxy's largeClusterEndpointsThreshold: above this many endpoints in total it stops
// writing comments on the KUBE-SVC -> KUBE-SEP jumps and in KUBE-SEP chains, which shrinks
// the ruleset by a large fraction (its "large cluster mode").
constexpr size_t kLargeClusterEndpointsThreshold = 1000;

struct RenderOptions {
  // The pod network as kube-proxy's local-traffic detector sees it: traffic to a cluster IP from
  // outside it is marked for masquerade (`! -s <cidr>`). Our pods are the backend block of the
  // address plan.
  std::string cluster_cidr = "198.19.0.0/16";
  // Large cluster mode when EndpointCount() > this. 0 forces it on, SIZE_MAX off.
  size_t large_cluster_endpoints_threshold = kLargeClusterEndpointsThreshold;
  // Chains a previous sync created that `set` no longer has. kube-proxy flushes them with a chain
  // line and deletes them with -X in the same restore.
  std::vector<std::string> stale_chains;
};

// The restore input for `set`. Payload::rules counts the -A lines (kube-proxy's
// sync_proxy_rules_iptables_total for the nat table, which excludes -X lines); Payload::chains
// counts the chains the table holds afterwards (the 4 fixed ones, one per service port with
// endpoints, one per endpoint; stale chains being deleted are not counted).
//
// A service port without endpoints gets no nat rules, as in kube-proxy (which rejects its
// traffic from the filter table instead; this payload covers the nat table only).
Payload RenderIptablesRestore(const ServiceSet& set, const RenderOptions& opts = {});

// The per-service chains (KUBE-SVC-*, KUBE-SEP-*) `set` renders to, sorted: what a later sync
// compares against to find stale chains.
std::vector<std::string> ServiceChainNames(const ServiceSet& set);

// True for the chain names kube-proxy considers its own per-service chains (isServiceChainName):
// only those are ever deleted as stale.
bool IsServiceChainName(std::string_view chain);

// `payload` (a RenderIptablesRestore() result without stale chains) with the chain lines and
// -X lines for `stale` inserted where RenderIptablesRestore would have put them, so that
// SpliceStaleChainDeletions(Render(set), stale) == Render(set, {.stale_chains = stale}).
// Lets a driver delete stale chains without rendering the set again. With no stale chains it is
// a plain copy (of any text). Throws std::invalid_argument when `stale` is not empty and
// `payload` does not have the expected shape.
std::string SpliceStaleChainDeletions(std::string_view payload,
                                      const std::vector<std::string>& stale);

// The -A lines kube-proxy's EnsureRule puts in the base chains (iptablesJumpChains, nat table),
// as iptables-save prints them; the driver inserts them with -I.
const std::vector<std::string>& BaseChainJumpRules();

}  // namespace svcbench
