// kube-proxy's chain names: a prefix plus the first 16 characters of the base32 (RFC 4648,
// standard alphabet) encoding of the SHA-256 of the service port name and protocol, so that
// generated rulesets look like a real node's (pkg/proxy/iptables: servicePortChainName and
// servicePortEndpointChainName).
#pragma once

#include <string>
#include <string_view>

namespace svcbench {

// First 16 base32 characters of SHA-256(input).
std::string HashPrefix16(std::string_view input);

// "KUBE-SVC-" + hash(service_port_name + protocol).
std::string ServiceChainName(std::string_view service_port_name, std::string_view protocol);

// "KUBE-SEP-" + hash(service_port_name + protocol + "ip:port").
std::string EndpointChainName(std::string_view service_port_name, std::string_view protocol,
                              std::string_view endpoint);

}  // namespace svcbench
