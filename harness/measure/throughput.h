// Measurement `throughput`: new TCP connections per second through the node at a fixed client
// concurrency, and the machine's CPU time per connection. What exactly is counted:
// docs/metrics.md, throughput.
#pragma once

#include <cstdint>
#include <memory>

#include "harness/measure/measurement.h"
#include "harness/scenario/scenario.h"

namespace svcbench {

std::unique_ptr<Measurement> MakeThroughputMeasurement(const ThroughputOptions& opts,
                                                       uint64_t seed);

}  // namespace svcbench
