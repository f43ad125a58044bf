// The Generator: a ServiceSet from a few numbers and a seed. Pure (no kernel, no I/O) and
// deterministic: the same spec always gives the same set, byte for byte once rendered.
#pragma once

#include <cstdint>

#include "harness/model/service_set.h"

namespace svcbench {

struct GeneratorSpec {
  uint64_t seed = 42;
  uint32_t services = 1000;
  uint32_t ports_per_service = 1;
  uint32_t endpoints_per_service = 2;
  Protocol protocol = Protocol::kTcp;
};

// Throws std::invalid_argument when the spec cannot be laid out in the address plan.
ServiceSet Generate(const GeneratorSpec& spec);

// Target ports the backend must listen on for this spec (kTargetPortBase upwards).
std::vector<uint16_t> TargetPorts(const GeneratorSpec& spec);

}  // namespace svcbench
