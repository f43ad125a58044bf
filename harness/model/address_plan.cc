#include "harness/model/address_plan.h"

#include <stdexcept>

namespace svcbench::plan {

// Both blocks skip host parts .0 and .255 in every /24, so no address looks like a network or
// broadcast address to a tool reading the ruleset.
Ipv4 VipAt(uint32_t slot) {
  if (slot >= kVipSlots) throw std::out_of_range("VIP slot out of range");
  return kVipBase | ((slot / 254) << 8) | (slot % 254 + 1);
}

Ipv4 BackendAt(uint32_t slot) {
  if (slot >= kBackendSlots) throw std::out_of_range("backend slot out of range");
  return kBackendBase | ((slot / 254) << 8) | (slot % 254 + 1);
}

}  // namespace svcbench::plan
