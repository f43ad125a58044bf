// The address plan of DESIGN.md, in one place so every part agrees on it.
//
//   198.18.0.0/16   service VIPs (minus the link block below)
//   198.19.0.0/16   backend (endpoint) addresses
//   198.18.255.0/24 point-to-point links between the lab's namespaces
//
// Above the number of addresses in a block, ports vary instead: the k-th wrap of VIPs uses the
// next service port, the k-th wrap of backend addresses the next target port.
#pragma once

#include <cstdint>

#include "harness/model/service_set.h"

namespace svcbench::plan {

constexpr Ipv4 kVipBase = (198u << 24) | (18u << 16);      // 198.18.0.0
constexpr Ipv4 kBackendBase = (198u << 24) | (19u << 16);  // 198.19.0.0
constexpr Ipv4 kLinkBase = kVipBase | (255u << 8);         // 198.18.255.0
constexpr int kVipPrefix = 16;
constexpr int kBackendPrefix = 16;

// Usable VIPs: 198.18.0.1 .. 198.18.254.254 (no .0/.255 host parts, no link block).
constexpr uint32_t kVipSlots = 255u * 254u;
// Usable backend addresses: 198.19.0.1 .. 198.19.255.254, likewise without .0/.255.
constexpr uint32_t kBackendSlots = 256u * 254u;

constexpr uint16_t kServicePortBase = 80;
constexpr uint16_t kTargetPortBase = 8080;

// The i-th usable VIP / backend address (i < slots).
Ipv4 VipAt(uint32_t slot);
Ipv4 BackendAt(uint32_t slot);

// Links: client <-> node and node <-> backend, each a /30 in the link block.
constexpr Ipv4 kClientAddr = kLinkBase | 1;       // client side of client<->node
constexpr Ipv4 kNodeClientAddr = kLinkBase | 2;   // node side of client<->node
constexpr Ipv4 kNodeBackendAddr = kLinkBase | 5;  // node side of node<->backend
constexpr Ipv4 kBackendLinkAddr = kLinkBase | 6;  // backend side of node<->backend
constexpr int kLinkPrefix = 30;

}  // namespace svcbench::plan
