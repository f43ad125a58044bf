// Measurement `contention`: a kube-proxy-like big writer restores the cell's whole ruleset again
// and again while K small, agent-like writers run beside it on chains of their own, for a bounded
// time. It times every call, and, through libsvcbench_locktrace.so preloaded into the spawned
// tools, exactly when each one asked for the xtables lock, got it and let it go, and how often an
// nf_tables transaction was resubmitted. docs/metrics.md says what each metric times.
#pragma once

#include <memory>

#include "harness/measure/measurement.h"
#include "harness/scenario/scenario.h"

namespace svcbench {

std::unique_ptr<Measurement> MakeContentionMeasurement(const ContentionOptions& opts);

}  // namespace svcbench
