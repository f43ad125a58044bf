#include "harness/model/generator.h"

#include <fmt/format.h>

#include <numeric>
#include <stdexcept>

#include "harness/model/address_plan.h"
#include "harness/model/chain_names.h"
#include "harness/util/splitmix64.h"

namespace svcbench {
namespace {

using Rng = SplitMix64;

std::vector<uint32_t> Permutation(uint32_t n, Rng& rng) {
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  for (uint32_t i = n; i > 1; --i) std::swap(v[i - 1], v[rng.Below(i)]);
  return v;
}

struct Layout {
  uint32_t vip_slots_used;
  uint32_t backend_slots_used;
  uint64_t endpoints;
};

Layout CheckLayout(const GeneratorSpec& spec) {
  if (spec.services == 0) throw std::invalid_argument("services must be >= 1");
  if (spec.ports_per_service == 0) throw std::invalid_argument("ports_per_service must be >= 1");
  if (spec.endpoints_per_service == 0) {
    throw std::invalid_argument("endpoints_per_service must be >= 1");
  }
  const uint64_t endpoints = uint64_t{spec.services} * spec.endpoints_per_service;
  const uint64_t vip_wraps = (spec.services - 1) / plan::kVipSlots;
  const uint64_t backend_wraps = (endpoints - 1) / plan::kBackendSlots;
  if (plan::kServicePortBase + (vip_wraps + 1) * spec.ports_per_service - 1 > 65535 ||
      plan::kTargetPortBase + (backend_wraps + 1) * spec.ports_per_service - 1 > 65535) {
    throw std::invalid_argument(
        fmt::format("{} services x {} ports x {} endpoints do not fit the address plan's ports",
                    spec.services, spec.ports_per_service, spec.endpoints_per_service));
  }
  return Layout{std::min(spec.services, plan::kVipSlots),
                static_cast<uint32_t>(std::min<uint64_t>(endpoints, plan::kBackendSlots)),
                endpoints};
}

}  // namespace

ServiceSet Generate(const GeneratorSpec& spec) {
  const Layout layout = CheckLayout(spec);
  Rng rng(spec.seed);
  // Which VIP a service gets and which address an endpoint gets are shuffled, so a service's
  // position in the ruleset says nothing about its address (as on a real node).
  const std::vector<uint32_t> vip_perm = Permutation(layout.vip_slots_used, rng);
  const std::vector<uint32_t> backend_perm = Permutation(layout.backend_slots_used, rng);
  const std::string_view proto = ProtocolName(spec.protocol);
  const uint32_t P = spec.ports_per_service;
  const uint32_t E = spec.endpoints_per_service;

  ServiceSet set;
  set.services = spec.services;
  set.ports.reserve(size_t{spec.services} * P);
  for (uint32_t s = 0; s < spec.services; ++s) {
    const Ipv4 vip = plan::VipAt(vip_perm[s % layout.vip_slots_used]);
    const uint32_t vip_wrap = s / plan::kVipSlots;
    for (uint32_t k = 0; k < P; ++k) {
      ServicePort sp;
      sp.ns = fmt::format("ns-{:04}", s / 100);
      sp.name = fmt::format("svc-{:06}", s);
      sp.port_name = P == 1 ? "http" : fmt::format("p{}", k);
      sp.vip = vip;
      sp.port = static_cast<uint16_t>(plan::kServicePortBase + vip_wrap * P + k);
      sp.protocol = spec.protocol;
      const std::string full = sp.FullName();
      sp.chain = ServiceChainName(full, proto);
      sp.endpoints.reserve(E);
      for (uint32_t j = 0; j < E; ++j) {
        const uint64_t e = uint64_t{s} * E + j;
        Endpoint ep;
        ep.ip = plan::BackendAt(backend_perm[e % layout.backend_slots_used]);
        ep.port = static_cast<uint16_t>(plan::kTargetPortBase + (e / plan::kBackendSlots) * P + k);
        ep.chain = EndpointChainName(full, proto, fmt::format("{}:{}", FormatIpv4(ep.ip), ep.port));
        sp.endpoints.push_back(std::move(ep));
      }
      set.ports.push_back(std::move(sp));
    }
  }
  return set;
}

std::vector<uint16_t> TargetPorts(const GeneratorSpec& spec) {
  const Layout layout = CheckLayout(spec);
  const uint64_t wraps = (layout.endpoints - 1) / plan::kBackendSlots + 1;
  std::vector<uint16_t> ports;
  for (uint64_t p = 0; p < wraps * spec.ports_per_service; ++p) {
    ports.push_back(static_cast<uint16_t>(plan::kTargetPortBase + p));
  }
  return ports;
}

}  // namespace svcbench
