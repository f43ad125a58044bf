// Measurement `sync`: full syncs of a ServiceSet through a Driver, cold (into an empty node)
// and warm (over the identical ruleset), with the harness's own render time beside them.
#pragma once

#include <string>
#include <vector>

#include "harness/driver/driver.h"
#include "harness/measure/measurement.h"
#include "harness/model/service_set.h"
#include "harness/result/result.h"

namespace svcbench {

// Samples of one cell (backend × size), filled one repetition at a time so the caller can
// interleave repetitions of several backends.
struct SyncSamples {
  std::vector<double> render_wall;
  std::vector<double> cold_wall, warm_wall;
  std::vector<double> cold_cpu, warm_cpu;
  std::vector<double> cold_rss, warm_rss;
  std::vector<double> payload_bytes, rules;
  // Only from drivers that report them (CommitStats::build_s, commit_s, retries).
  std::vector<double> cold_build, warm_build;
  std::vector<double> cold_commit, warm_commit;
  std::vector<double> cold_retries, warm_retries;
};

// One repetition: Clear, render (timed), Sync (cold), Sync again (warm). Throws what the
// driver throws; the samples of completed repetitions stay in `out`.
void RunSyncRepetition(Driver& driver, const ServiceSet& set, SyncSamples& out);

// Rows of docs/metrics.md for one cell.
std::vector<ResultRow> SyncRows(const std::string& backend, uint32_t services,
                                uint32_t endpoints_per_service, const SyncSamples& s);

// The measurement: one round is one repetition; leaves the cell's set in the node.
std::unique_ptr<Measurement> MakeSyncMeasurement(const SyncOptions& opts);

}  // namespace svcbench
