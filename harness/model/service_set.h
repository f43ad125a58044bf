// The model of what a node programs: service ports and their endpoints.
//
// A ServiceSet is plain data. It is produced by the Generator (pure, deterministic from a seed),
// rendered by drivers into payloads, and later edited by Deltas. Nothing here touches the kernel.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace svcbench {

enum class Protocol : uint8_t { kTcp, kUdp };

// "tcp" / "udp": the lower-case spelling kube-proxy hashes into chain names and iptables takes.
std::string_view ProtocolName(Protocol p);

// An IPv4 address in host byte order.
using Ipv4 = uint32_t;
std::string FormatIpv4(Ipv4 ip);

struct Endpoint {
  Ipv4 ip = 0;
  uint16_t port = 0;
  // kube-proxy's KUBE-SEP-<hash> name for this endpoint of its service port.
  std::string chain;
};

// One port of one Kubernetes Service: what kube-proxy calls a ServicePortName
// ("namespace/name:port_name") with its cluster IP, protocol and endpoints.
struct ServicePort {
  std::string ns;
  std::string name;
  std::string port_name;
  Ipv4 vip = 0;
  uint16_t port = 0;
  Protocol protocol = Protocol::kTcp;
  std::vector<Endpoint> endpoints;
  // kube-proxy's KUBE-SVC-<hash> name.
  std::string chain;

  // "namespace/name:port_name", as kube-proxy prints it in comments and hashes it.
  std::string FullName() const;
};

struct ServiceSet {
  // In ruleset order: position "first" is ports.front(), "last" is ports.back().
  std::vector<ServicePort> ports;
  // Number of Services (a Service may have several ports).
  size_t services = 0;

  size_t EndpointCount() const;
};

}  // namespace svcbench
