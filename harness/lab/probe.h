// One request from inside a namespace to an address, answered by the backend listener: which
// endpoint (after DNAT) took it. Used by tests and by measurements to prove the data path.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "harness/model/service_set.h"

namespace svcbench {

// The endpoint that answered, as the backend listener reports it (see listener.h).
struct ProbeAnswer {
  Ipv4 ip = 0;
  uint16_t port = 0;

  bool operator==(const ProbeAnswer&) const = default;
  std::string ToString() const;  // "198.19.0.7:8080"
};
std::ostream& operator<<(std::ostream& out, const ProbeAnswer& answer);

// Connects over TCP from a socket created inside netns_fd and reads the 6-byte answer.
// nullopt when nothing answered within timeout_s: refused, unreachable, timed out, or closed
// without a full answer. Throws std::system_error only when the probe itself cannot be made
// (setns, socket). @see man 2 connect
std::optional<ProbeAnswer> ProbeTcp(int netns_fd, Ipv4 ip, uint16_t port, double timeout_s);

// Sends one UDP datagram from a connected socket inside netns_fd and waits for the answer;
// nullopt on ICMP errors (refused, unreachable) or timeout.
std::optional<ProbeAnswer> ProbeUdp(int netns_fd, Ipv4 ip, uint16_t port, double timeout_s);

}  // namespace svcbench
