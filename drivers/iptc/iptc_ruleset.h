// kube-proxy's iptables-mode nat ruleset (the one RenderIptablesRestore writes as text) as
// ipt_entry structures, rule by rule, in the order iptables-restore would append them.
//
// Pure: the rules go to a callback, which the driver points at iptc_append_entry() and tests at
// a vector. No libiptc handle is needed to build them.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/iptables/iptables_render.h"
#include "drivers/iptc/iptc_entry.h"
#include "harness/model/service_set.h"

namespace svcbench::iptc {

// KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ: the user chains every sync
// declares besides the per-service ones.
const std::vector<std::string>& FixedChains();

// Called once per rule: the chain to append to and the finished entry (valid during the call).
using RuleSink = std::function<void(const std::string& chain, const ipt_entry& entry)>;

// Emits the rules of RenderIptablesRestore(set, opts) in the same per-chain order (stale chains
// of opts are ignored: the driver finds them in the table). Returns the number of rules, which
// equals RenderIptablesRestore(...).rules. Throws std::invalid_argument for a bad cluster CIDR
// or a comment that does not fit.
size_t BuildNatRules(const ServiceSet& set, const RenderOptions& opts, const RuleSink& sink);

// One of kube-proxy's jumps from a base chain (BaseChainJumpRules(), in the same order).
struct BaseChainJump {
  std::string chain;    // PREROUTING, OUTPUT, POSTROUTING
  std::string target;   // KUBE-SERVICES, KUBE-POSTROUTING
  std::string comment;  // "kubernetes service portals", ...
};
const std::vector<BaseChainJump>& BaseChainJumps();

// The entry for a base-chain jump: -m comment --comment C -j TARGET.
const ipt_entry& BuildBaseChainJump(const BaseChainJump& jump, EntryBuilder& b);

// The text of the first comment match of `e`, or empty.
std::string_view EntryComment(const ipt_entry& e);

}  // namespace svcbench::iptc
