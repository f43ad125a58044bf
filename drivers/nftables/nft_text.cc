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

void RenderService(Out out, const ServiceChain& sc, std::string_view cidr) {
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

  Prefix(out, "add", "rule");
  fmt::format_to(out, "{} numgen random mod {} vmap {{ ", sc.name, sc.endpoints.size());
  for (size_t i = 0; i < sc.endpoints.size(); ++i) {
    fmt::format_to(out, "{}{} : goto {}", i == 0 ? "" : " , ", i, sc.endpoints[i].name);
  }
  fmt::format_to(out, " }}\n");

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

  for (const ServiceChain& sc : rs.services) RenderService(out, sc, cidr);
  return fmt::to_string(buf);
}

std::string RenderNftClearText() {
  return fmt::format("add table ip {0}\ndelete table ip {0}\n", kTable);
}

}  // namespace svcbench::nft
