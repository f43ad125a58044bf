#include "drivers/nftables/nft_text.h"

#include <fmt/format.h>

#include <iterator>

namespace svcbench::nft {
namespace {

using Out = std::back_insert_iterator<fmt::memory_buffer>;

std::string_view HookName(Hook h) {
  switch (h) {
    case Hook::kPrerouting:
      return "prerouting";
    case Hook::kOutput:
      return "output";
    case Hook::kPostrouting:
      return "postrouting";
  }
  return "?";
}

void Ip(Out out, Ipv4 ip) {
  fmt::format_to(out, "{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

void Prefix(Out out, std::string_view verb, std::string_view what) {
  fmt::format_to(out, "{} {} ip {} ", verb, what, kTable);
}

// The service chain's last rule(s): how it picks one of its endpoint chains.
void RenderDispatch(Out out, const ServiceChain& sc, EndpointDispatch dispatch) {
  const size_t n = sc.endpoints.size();
  switch (dispatch) {
    case EndpointDispatch::kAnonymousMap:
      Prefix(out, "add", "rule");
      fmt::format_to(out, "{} numgen random mod {} vmap {{ ", sc.name, n);
      for (size_t i = 0; i < n; ++i) {
        fmt::format_to(out, "{}{} : goto {}", i == 0 ? "" : " , ", i, sc.endpoints[i].name);
      }
      fmt::format_to(out, " }}\n");
      return;
    case EndpointDispatch::kSharedMap:
      Prefix(out, "add", "element");
      fmt::format_to(out, "{} {{ ", kServiceEndpointsMap);
      for (size_t i = 0; i < n; ++i) {
        if (i > 0) fmt::format_to(out, " , ");
        Ip(out, sc.vip);
        fmt::format_to(out, " . {} . {} . {} : goto {}", ProtocolName(sc.protocol), sc.port, i,
                       sc.endpoints[i].name);
      }
      fmt::format_to(out, " }}\n");
      Prefix(out, "add", "rule");
      fmt::format_to(out, "{} goto {}\n", sc.name, DispatchChainName(static_cast<uint32_t>(n)));
      return;
    case EndpointDispatch::kRuleCascade:
      // Endpoint i is taken with probability 1/(n-i) of what is left, so 1/n overall.
      for (size_t i = 0; i + 1 < n; ++i) {
        Prefix(out, "add", "rule");
        fmt::format_to(out, "{} numgen random mod {} 0 goto {}\n", sc.name, n - i,
                       sc.endpoints[i].name);
      }
      Prefix(out, "add", "rule");
      fmt::format_to(out, "{} goto {}\n", sc.name, sc.endpoints[n - 1].name);
      return;
  }
}

void RenderService(Out out, const ServiceChain& sc, std::string_view cidr,
                   EndpointDispatch dispatch) {
  const std::string_view proto = ProtocolName(sc.protocol);
  for (const EndpointChain& ep : sc.endpoints) {
    Prefix(out, "add", "chain");
    fmt::format_to(out, "{}\n", ep.name);
  }
  Prefix(out, "add", "chain");
  fmt::format_to(out, "{}\n", sc.name);

  Prefix(out, "add", "element");
  fmt::format_to(out, "{} {{ ", kServiceIpsMap);
  Ip(out, sc.vip);
  fmt::format_to(out, " . {} . {} : goto {} }}\n", proto, sc.port, sc.name);

  // kube-proxy's local-traffic detector: masquerade what comes from outside the cluster CIDR.
  Prefix(out, "add", "rule");
  fmt::format_to(out, "{} ip daddr ", sc.name);
  Ip(out, sc.vip);
  fmt::format_to(out, " {} dport {} ip saddr != {} jump {}\n", proto, sc.port, cidr,
                 kMarkMasqChain);

  RenderDispatch(out, sc, dispatch);

  for (const EndpointChain& ep : sc.endpoints) {
    // Hairpin: an endpoint reaching its own service must be masqueraded to see the reply.
    Prefix(out, "add", "rule");
    fmt::format_to(out, "{} ip saddr ", ep.name);
    Ip(out, ep.ip);
    fmt::format_to(out, " jump {}\n", kMarkMasqChain);
    Prefix(out, "add", "rule");
    fmt::format_to(out, "{} meta l4proto {} dnat to ", ep.name, proto);
    Ip(out, ep.ip);
    fmt::format_to(out, ":{}\n", ep.port);
  }
}

}  // namespace

std::string RenderNftText(const Ruleset& rs) {
  fmt::memory_buffer buf;
  // About 180 bytes per chain line plus rules; reserving avoids most regrowth at 100k services.
  buf.reserve(1024 + rs.services.size() * 700 + rs.Endpoints() * 400);
  Out out(buf);
  // kube-proxy prints the mark with "%#08x".
  const std::string mark = fmt::format("{:#08x}", rs.options.masquerade_mark);
  const std::string cidr = ClusterCidrText(rs.options);

  fmt::format_to(out, "add table ip {0}\ndelete table ip {0}\n", kTable);
  fmt::format_to(out, "add table ip {} {{ comment \"{}\" ; }}\n", kTable, kTableComment);

  for (const BaseChain& bc : kBaseChains) {
    Prefix(out, "add", "chain");
    fmt::format_to(out, "{} {{ type nat hook {} priority {} ; }}\n", bc.name, HookName(bc.hook),
                   bc.priority);
  }
  for (std::string_view c : {kServicesChain, kMasqueradingChain, kMarkMasqChain}) {
    Prefix(out, "add", "chain");
    fmt::format_to(out, "{}\n", c);
  }
  for (const BaseChain& bc : kBaseChains) {
    Prefix(out, "add", "rule");
    fmt::format_to(out, "{} jump {}\n", bc.name, bc.jump_to);
  }
  Prefix(out, "add", "rule");
  fmt::format_to(out, "{} mark set mark or {}\n", kMarkMasqChain, mark);
  Prefix(out, "add", "rule");
  fmt::format_to(out, "{} mark and {} == 0 return\n", kMasqueradingChain, mark);
  Prefix(out, "add", "rule");
  fmt::format_to(out, "{} mark set mark xor {}\n", kMasqueradingChain, mark);
  Prefix(out, "add", "rule");
  fmt::format_to(out, "{} masquerade fully-random\n", kMasqueradingChain);

  Prefix(out, "add", "map");
  fmt::format_to(out,
                 "{} {{ type ipv4_addr . inet_proto . inet_service : verdict ; comment \"{}\" ; "
                 "}}\n",
                 kServiceIpsMap, kServiceIpsComment);
  Prefix(out, "add", "rule");
  fmt::format_to(out, "{} ip daddr . meta l4proto . th dport vmap @{}\n", kServicesChain,
                 kServiceIpsMap);

  if (rs.options.dispatch == EndpointDispatch::kSharedMap) {
    // The modulus in `typeof` only describes the key's last field for nft; each dispatch chain
    // uses its own. The dispatch chains come before any service chain that jumps to them and
    // bind the map while it is still empty.
    Prefix(out, "add", "map");
    fmt::format_to(out,
                   "{} {{ typeof ip daddr . meta l4proto . th dport . numgen random mod 2 : "
                   "verdict ; }}\n",
                   kServiceEndpointsMap);
    for (const uint32_t m : rs.DispatchModuli()) {
      Prefix(out, "add", "chain");
      fmt::format_to(out, "{}\n", DispatchChainName(m));
      Prefix(out, "add", "rule");
      fmt::format_to(out, "{} ip daddr . meta l4proto . th dport . numgen random mod {} vmap @{}\n",
                     DispatchChainName(m), m, kServiceEndpointsMap);
    }
  }
  for (const ServiceChain& sc : rs.services) RenderService(out, sc, cidr, rs.options.dispatch);
  return fmt::to_string(buf);
}

std::string RenderNftClearText() {
  return fmt::format("add table ip {0}\ndelete table ip {0}\n", kTable);
}

}  // namespace svcbench::nft
