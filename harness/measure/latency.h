// Measurement `latency`: how long a new connection (tcp-connect), a UDP request (udp) and a
// request on a kept connection (established) take through the node, by the position of the
// target service in the ruleset, against a floor through a node without any rules. What exactly
// is timed: docs/metrics.md, latency.
#pragma once

#include <cstdint>
#include <memory>

#include "harness/measure/measurement.h"
#include "harness/scenario/scenario.h"

namespace svcbench {

// `seed` (the scenario's) fixes the order of probes and the services `random` draws, so every
// backend of a run gets the same sequence.
std::unique_ptr<Measurement> MakeLatencyMeasurement(const LatencyOptions& opts, uint64_t seed);

}  // namespace svcbench
