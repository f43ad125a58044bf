#include "drivers/iptables/iptables_render.h"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace svcbench {
namespace {

constexpr std::string_view kServicesChain = "KUBE-SERVICES";
constexpr std::string_view kNodePortsChain = "KUBE-NODEPORTS";
constexpr std::string_view kPostroutingChain = "KUBE-POSTROUTING";
constexpr std::string_view kMarkMasqChain = "KUBE-MARK-MASQ";
constexpr size_t kFixedChains = 4;
constexpr size_t kFixedRules = 4;  // 3 in KUBE-POSTROUTING, 1 in KUBE-MARK-MASQ

// kube-proxy's default --iptables-masquerade-bit is 14.
constexpr std::string_view kFixedRuleLines =
    "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
    "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000\n"
    "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" "
    "-j MASQUERADE --random-fully\n"
    "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n";

constexpr std::string_view kNodePortsRuleLine =
    "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the "
    "last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n";

constexpr std::string_view kCommit = "COMMIT\n";

// Decimal spellings of 0..255, so an address is four table look-ups instead of a formatter call;
// at 100k services there are about a million of them.
struct Octets {
  std::array<std::array<char, 4>, 256> text{};  // digits, then the length in [3]
  constexpr Octets() {
    for (int i = 0; i < 256; ++i) {
      auto& t = text[i];
      if (i >= 100) {
        t = {static_cast<char>('0' + i / 100), static_cast<char>('0' + i / 10 % 10),
             static_cast<char>('0' + i % 10), 3};
      } else if (i >= 10) {
        t = {static_cast<char>('0' + i / 10), static_cast<char>('0' + i % 10), 0, 2};
      } else {
        t = {static_cast<char>('0' + i), 0, 0, 1};
      }
    }
  }
};
constexpr Octets kOctets;

// Appends to a string reserved up front; every piece is a short memcpy.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  Writer& operator<<(std::string_view s) {
    out_.append(s);
    return *this;
  }
  Writer& operator<<(char c) {
    out_.push_back(c);
    return *this;
  }
  Writer& Ip(Ipv4 ip) {
    char buf[16];
    size_t n = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
      const auto& o = kOctets.text[(ip >> shift) & 0xff];
      const size_t len = static_cast<size_t>(o[3]);
      for (size_t k = 0; k < len; ++k) buf[n++] = o[k];
      if (shift != 0) buf[n++] = '.';
    }
    out_.append(buf, n);
    return *this;
  }
  Writer& Port(uint16_t port) {
    char buf[5];
    size_t n = sizeof buf;
    unsigned v = port;
    do {
      buf[--n] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    out_.append(buf + n, sizeof buf - n);
    return *this;
  }
  Writer& ChainLine(std::string_view chain) { return *this << ':' << chain << " - [0:0]\n"; }

 private:
  std::string& out_;
};

// kube-proxy's probability(n): 1/n with Go's "%0.10f", cached because a few values repeat
// across every service.
class Probabilities {
 public:
  std::string_view For(size_t n) {
    if (n >= cache_.size()) cache_.resize(n + 1);
    std::string& s = cache_[n];
    if (s.empty()) {
      char buf[32];
      const int len = std::snprintf(buf, sizeof buf, "%0.10f", 1.0 / static_cast<double>(n));
      s.assign(buf, static_cast<size_t>(len));
    }
    return s;
  }

 private:
  std::vector<std::string> cache_;
};

// A string with room for `bytes`, backed by transparent huge pages where the kernel allows it.
//
// Writing a fresh 90 MB buffer means 22k page faults; on the VMs this runs on a 4 KiB fault
// costs tens of microseconds (the host backs guest memory lazily), so faulting dominated
// rendering 100k services (~0.4-1 s for ~30 ms of formatting). With MADV_HUGEPAGE it is ~50
// faults. kube-proxy avoids the cost differently, by reusing its buffer across syncs; a Payload
// owns its text, so advising the kernel is the local equivalent. Purely advisory: when THP is
// off nothing changes but the speed.
std::string LargeBuffer(size_t bytes) {
  std::string s;
  s.reserve(bytes);
  constexpr uintptr_t kHugePage = 2u << 20;
  if (bytes >= 2 * kHugePage) {
    const auto begin = reinterpret_cast<uintptr_t>(s.data());
    const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
    const uintptr_t last = (begin + s.capacity()) & ~(kHugePage - 1);
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
  return s;
}

// An upper bound of the payload size, so the string is allocated once. Over-reserving costs
// address space only: pages never written are never touched.
size_t EstimateBytes(const ServiceSet& set, const RenderOptions& opts) {
  size_t bytes = 1024 + opts.cluster_cidr.size();
  for (const auto& sp : set.ports) {
    const size_t name = sp.ns.size() + sp.name.size() + sp.port_name.size() + 2;
    bytes += 2 * (160 + name + sp.chain.size() + opts.cluster_cidr.size()) + sp.chain.size() + 16;
    for (const auto& ep : sp.endpoints) {
      bytes += 3 * (120 + name + 2 * (sp.chain.size() + ep.chain.size())) + ep.chain.size() + 16;
    }
  }
  for (const auto& c : opts.stale_chains) bytes += 2 * c.size() + 16;
  return bytes;
}

}  // namespace

Payload RenderIptablesRestore(const ServiceSet& set, const RenderOptions& opts) {
  Payload payload;
  std::string& text = payload.text;
  text = LargeBuffer(EstimateBytes(set, opts));
  Writer w(text);

  const bool large_cluster = set.EndpointCount() > opts.large_cluster_endpoints_threshold;

  w << "*nat\n";
  w.ChainLine(kServicesChain).ChainLine(kNodePortsChain);
  w.ChainLine(kPostroutingChain).ChainLine(kMarkMasqChain);
  payload.chains = kFixedChains;
  for (const auto& sp : set.ports) {
    if (sp.endpoints.empty()) continue;
    w.ChainLine(sp.chain);
    for (const auto& ep : sp.endpoints) w.ChainLine(ep.chain);
    payload.chains += 1 + sp.endpoints.size();
  }
  for (const auto& c : opts.stale_chains) w.ChainLine(c);

  w << kFixedRuleLines;
  payload.rules = kFixedRules;

  Probabilities probabilities;
  std::string name;  // "ns/name:port", reused so the loop does not allocate
  for (const auto& sp : set.ports) {
    if (sp.endpoints.empty()) continue;
    name.assign(sp.ns).append("/").append(sp.name).append(":").append(sp.port_name);
    const std::string_view proto = ProtocolName(sp.protocol);

    // The cluster IP match, shared by the KUBE-SERVICES jump and the masquerade rule.
    auto cluster_ip_match = [&] {
      w << " -m comment --comment \"" << name << " cluster IP\" -m " << proto << " -p " << proto
        << " -d ";
      w.Ip(sp.vip) << "/32 --dport ";
      w.Port(sp.port);
    };
    w << "-A " << kServicesChain;
    cluster_ip_match();
    w << " -j " << sp.chain << '\n';
    // Masquerade what does not come from a pod, so replies find their way back through this
    // node (kube-proxy's localDetector.IfNotLocal()).
    w << "-A " << sp.chain;
    cluster_ip_match();
    w << " ! -s " << opts.cluster_cidr << " -j " << kMarkMasqChain << '\n';

    const size_t n = sp.endpoints.size();
    for (size_t i = 0; i < n; ++i) {
      const Endpoint& ep = sp.endpoints[i];
      w << "-A " << sp.chain;
      if (!large_cluster) {
        w << " -m comment --comment \"" << name << " -> ";
        w.Ip(ep.ip) << ':';
        w.Port(ep.port) << '"';
      }
      // Endpoint i is picked with 1/(n-i) of what the earlier ones left: uniform overall.
      // The last rule matches unconditionally.
      if (i + 1 < n) w << " -m statistic --mode random --probability " << probabilities.For(n - i);
      w << " -j " << ep.chain << '\n';
    }
    for (const Endpoint& ep : sp.endpoints) {
      // Hairpin: a pod reaching itself through the service must be masqueraded.
      w << "-A " << ep.chain;
      if (!large_cluster) w << " -m comment --comment " << name;
      w << " -s ";
      w.Ip(ep.ip) << "/32 -j " << kMarkMasqChain << '\n';
      w << "-A " << ep.chain;
      if (!large_cluster) w << " -m comment --comment " << name;
      w << " -m " << proto << " -p " << proto << " -j DNAT --to-destination ";
      w.Ip(ep.ip) << ':';
      w.Port(ep.port) << '\n';
    }
    payload.rules += 2 + 3 * n;
  }

  for (const auto& c : opts.stale_chains) w << "-X " << c << '\n';
  w << kNodePortsRuleLine;
  ++payload.rules;  // the fifth fixed rule
  w << kCommit;
  return payload;
}

std::vector<std::string> ServiceChainNames(const ServiceSet& set) {
  std::vector<std::string> chains;
  chains.reserve(set.ports.size() + set.EndpointCount());
  for (const auto& sp : set.ports) {
    if (sp.endpoints.empty()) continue;
    chains.push_back(sp.chain);
    for (const auto& ep : sp.endpoints) chains.push_back(ep.chain);
  }
  std::sort(chains.begin(), chains.end());
  chains.erase(std::unique(chains.begin(), chains.end()), chains.end());
  return chains;
}

bool IsServiceChainName(std::string_view chain) {
  for (std::string_view prefix : {"KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-FW-", "KUBE-EXT-"}) {
    if (chain.starts_with(prefix)) return true;
  }
  return false;
}

std::string SpliceStaleChainDeletions(std::string_view payload,
                                      const std::vector<std::string>& stale) {
  // Chain lines go after the last declaration (before the first rule); -X lines go before the
  // nodeports rule, which is the last line before COMMIT.
  if (stale.empty()) {
    std::string out = LargeBuffer(payload.size());
    out.append(payload);
    return out;
  }
  const size_t first_rule = payload.find("\n-A ");
  const size_t tail_size = kNodePortsRuleLine.size() + kCommit.size();
  if (first_rule == std::string_view::npos || payload.size() < tail_size ||
      payload.substr(payload.size() - tail_size, kNodePortsRuleLine.size()) != kNodePortsRuleLine) {
    throw std::invalid_argument("SpliceStaleChainDeletions: not a RenderIptablesRestore payload");
  }
  const size_t decl_end = first_rule + 1;
  const size_t rules_end = payload.size() - tail_size;

  size_t extra = 0;
  for (const auto& c : stale) extra += 2 * c.size() + 16;  // ":c - [0:0]\n" and "-X c\n"
  std::string out = LargeBuffer(payload.size() + extra);
  Writer w(out);
  w << payload.substr(0, decl_end);
  for (const auto& c : stale) w.ChainLine(c);
  w << payload.substr(decl_end, rules_end - decl_end);
  for (const auto& c : stale) w << "-X " << c << '\n';
  w << payload.substr(rules_end);
  return out;
}

const std::vector<std::string>& BaseChainJumpRules() {
  static const std::vector<std::string> kRules = {
      "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
      "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
      "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
  };
  return kRules;
}

}  // namespace svcbench
