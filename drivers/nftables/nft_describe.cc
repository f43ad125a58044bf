// Batch::Describe: from a sequence number (and the kernel's attribute offset) back to the object
// a user can recognise. Only the error path runs this, so it favours clarity over speed.
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>

#include <fmt/format.h>

#include <cstring>

#include "drivers/nftables/nft_batch.h"

namespace svcbench::nft {
namespace {

// The attributes nested directly in `nest`, by type (the last one wins, as in the kernel).
std::vector<const nlattr*> Nested(const nlattr* nest, uint16_t max_type) {
  std::vector<const nlattr*> out(max_type + 1, nullptr);
  const char* p = static_cast<const char*>(mnl_attr_get_payload(nest));
  int left = static_cast<int>(mnl_attr_get_payload_len(nest));
  auto* a = reinterpret_cast<const nlattr*>(p);
  while (mnl_attr_ok(a, left)) {
    const uint16_t t = mnl_attr_get_type(a);
    if (t <= max_type) out[t] = a;
    left -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = mnl_attr_next(a);
  }
  return out;
}

enum class KeyShape : uint8_t {
  kServiceIps,        // ip . proto . port
  kServiceEndpoints,  // ip . proto . port . index
  kIndex,             // index
};

// "198.18.3.7 . tcp . 80 (goto service-…)", "198.18.3.7 . tcp . 80 . 1 (goto endpoint-…)" or
// "1 (goto endpoint-…)", from the element's bytes.
std::string DescribeElement(const nlattr* elem, KeyShape shape) {
  const auto attrs = Nested(elem, NFTA_SET_ELEM_MAX);
  std::string out = "?";
  if (const nlattr* key = attrs[NFTA_SET_ELEM_KEY]) {
    const auto value = Nested(key, NFTA_DATA_MAX)[NFTA_DATA_VALUE];
    if (value != nullptr) {
      const auto* b = static_cast<const uint8_t*>(mnl_attr_get_payload(value));
      const uint16_t n = mnl_attr_get_payload_len(value);
      const bool concat = shape != KeyShape::kIndex;
      const uint16_t want = shape == KeyShape::kServiceIps ? 12
                            : shape == KeyShape::kIndex    ? 4
                                                           : 16;
      if (n == want && concat) {
        const char* proto = b[4] == IPPROTO_TCP ? "tcp" : b[4] == IPPROTO_UDP ? "udp" : "?";
        out =
            fmt::format("{}.{}.{}.{} . {} . {}", b[0], b[1], b[2], b[3], proto, (b[8] << 8) | b[9]);
      }
      if (n == want && shape != KeyShape::kServiceIps) {
        uint32_t v;
        std::memcpy(&v, b + n - 4, sizeof(v));  // numgen's index, host order
        out = concat ? fmt::format("{} . {}", out, v) : fmt::format("{}", v);
      }
    }
  }
  if (const nlattr* data = attrs[NFTA_SET_ELEM_DATA]) {
    if (const nlattr* verdict = Nested(data, NFTA_DATA_MAX)[NFTA_DATA_VERDICT]) {
      if (const nlattr* chain = Nested(verdict, NFTA_VERDICT_MAX)[NFTA_VERDICT_CHAIN]) {
        out += fmt::format(" (goto {})", mnl_attr_get_str(chain));
      }
    }
  }
  return out;
}

std::string FixedRuleText(uint32_t i, const Ruleset& rs) {
  const std::string mark = fmt::format("{:#08x}", rs.options.masquerade_mark);
  if (i < std::size(kBaseChains)) {
    return fmt::format("{} jump {}", kBaseChains[i].name, kBaseChains[i].jump_to);
  }
  switch (i - std::size(kBaseChains)) {
    case 0:
      return fmt::format("{} mark set mark or {}", kMarkMasqChain, mark);
    case 1:
      return fmt::format("{} mark and {} == 0 return", kMasqueradingChain, mark);
    case 2:
      return fmt::format("{} mark set mark xor {}", kMasqueradingChain, mark);
    case 3:
      return fmt::format("{} masquerade fully-random", kMasqueradingChain);
    default:
      return fmt::format("{} ip daddr . meta l4proto . th dport vmap @{}", kServicesChain,
                         kServiceIpsMap);
  }
}

}  // namespace

std::string Batch::Describe(uint32_t seq, const Ruleset& rs,
                            std::optional<uint32_t> bad_attr_offset) const {
  const MsgRef* ref = Ref(seq);
  if (ref == nullptr) return fmt::format("message seq {} (not in this batch)", seq);
  auto svc = [&]() -> const ServiceChain* {
    return ref->service < rs.services.size() ? &rs.services[ref->service] : nullptr;
  };
  auto ep_name = [&]() -> std::string {
    const ServiceChain* s = svc();
    return s != nullptr && ref->index < s->endpoints.size() ? s->endpoints[ref->index].name : "?";
  };
  switch (ref->kind) {
    case MsgKind::kBatchBegin:
      return "BATCH_BEGIN (the transaction as a whole)";
    case MsgKind::kBatchEnd:
      return "BATCH_END";
    case MsgKind::kNewTable:
      return fmt::format("NEWTABLE ip {}", kTable);
    case MsgKind::kDelTable:
      return fmt::format("DELTABLE ip {}", kTable);
    case MsgKind::kBaseChain:
      return fmt::format("NEWCHAIN {}", kBaseChains[ref->index % std::size(kBaseChains)].name);
    case MsgKind::kFixedChain: {
      const std::string_view fixed[] = {kServicesChain, kMasqueradingChain, kMarkMasqChain};
      return fmt::format("NEWCHAIN {}", fixed[ref->index % std::size(fixed)]);
    }
    case MsgKind::kFixedRule:
      return fmt::format("NEWRULE {}", FixedRuleText(ref->index, rs));
    case MsgKind::kServiceIpsMap:
      return fmt::format("NEWSET {}", kServiceIpsMap);
    case MsgKind::kServiceChain:
      return fmt::format("NEWCHAIN {}", svc() ? svc()->name : "?");
    case MsgKind::kEndpointChain:
      return fmt::format("NEWCHAIN {}", ep_name());
    case MsgKind::kMasqRule:
      return fmt::format("NEWRULE {} ip daddr {} {} dport {} ip saddr != {} jump {}",
                         svc() ? svc()->name : "?", FormatIpv4(svc() ? svc()->vip : 0),
                         ProtocolName(svc() ? svc()->protocol : Protocol::kTcp),
                         svc() ? svc()->port : 0, ClusterCidrText(rs.options), kMarkMasqChain);
    case MsgKind::kNumgenMap:
      return fmt::format("NEWSET __map%d (numgen map of {})", svc() ? svc()->name : "?");
    case MsgKind::kNumgenRule:
      return fmt::format("NEWRULE {} numgen random mod {} vmap", svc() ? svc()->name : "?",
                         svc() ? svc()->endpoints.size() : 0);
    case MsgKind::kHairpinRule:
      return fmt::format("NEWRULE {} ip saddr … jump {}", ep_name(), kMarkMasqChain);
    case MsgKind::kDnatRule:
      return fmt::format("NEWRULE {} dnat", ep_name());
    case MsgKind::kServiceEndpointsMap:
      return fmt::format("NEWSET {}", kServiceEndpointsMap);
    case MsgKind::kDispatchChain:
    case MsgKind::kDispatchRule: {
      const std::vector<uint32_t> moduli = rs.DispatchModuli();
      const uint32_t m = ref->index < moduli.size() ? moduli[ref->index] : 0;
      if (ref->kind == MsgKind::kDispatchChain) {
        return fmt::format("NEWCHAIN {}", DispatchChainName(m));
      }
      return fmt::format(
          "NEWRULE {} ip daddr . meta l4proto . th dport . numgen random mod {} "
          "vmap @{}",
          DispatchChainName(m), m, kServiceEndpointsMap);
    }
    case MsgKind::kDispatchGotoRule:
      return fmt::format(
          "NEWRULE {} goto {}", svc() ? svc()->name : "?",
          DispatchChainName(svc() ? static_cast<uint32_t>(svc()->endpoints.size()) : 0));
    case MsgKind::kCascadeRule:
      return fmt::format("NEWRULE {} … goto {}", svc() ? svc()->name : "?", ep_name());
    case MsgKind::kServiceIpsElems:
    case MsgKind::kServiceEndpointsElems:
    case MsgKind::kNumgenElems:
      break;
  }

  KeyShape shape = KeyShape::kIndex;
  std::string set = fmt::format("__map%d (numgen map of {})", svc() ? svc()->name : "?");
  if (ref->kind == MsgKind::kServiceIpsElems) {
    shape = KeyShape::kServiceIps;
    set = kServiceIpsMap;
  } else if (ref->kind == MsgKind::kServiceEndpointsElems) {
    shape = KeyShape::kServiceEndpoints;
    set = kServiceEndpointsMap;
  }
  const nlmsghdr* nlh = FindMessage(seq);
  if (nlh == nullptr || !bad_attr_offset.has_value() ||
      *bad_attr_offset + sizeof(nlattr) > nlh->nlmsg_len) {
    return fmt::format("NEWSETELEM {}", set);
  }
  const auto* attr =
      reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(nlh) + *bad_attr_offset);
  if (*bad_attr_offset + attr->nla_len > nlh->nlmsg_len) return fmt::format("NEWSETELEM {}", set);
  return fmt::format("NEWSETELEM {} {}", set, DescribeElement(attr, shape));
}

}  // namespace svcbench::nft
