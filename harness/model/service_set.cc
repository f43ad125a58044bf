#include "harness/model/service_set.h"

#include <fmt/format.h>

namespace svcbench {

std::string_view ProtocolName(Protocol p) { return p == Protocol::kUdp ? "udp" : "tcp"; }

std::string FormatIpv4(Ipv4 ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

std::string ServicePort::FullName() const { return fmt::format("{}/{}:{}", ns, name, port_name); }

size_t ServiceSet::EndpointCount() const {
  size_t n = 0;
  for (const auto& p : ports) n += p.endpoints.size();
  return n;
}

}  // namespace svcbench
