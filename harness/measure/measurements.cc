#include "harness/measure/contention.h"
#include "harness/measure/latency.h"
#include "harness/measure/sync.h"
#include "harness/measure/throughput.h"

namespace svcbench {

std::vector<std::unique_ptr<Measurement>> MakeMeasurements(const Scenario& sc) {
  std::vector<std::unique_ptr<Measurement>> out;
  if (sc.sync) out.push_back(MakeSyncMeasurement(*sc.sync));
  if (sc.latency) out.push_back(MakeLatencyMeasurement(*sc.latency, sc.seed));
  if (sc.throughput) out.push_back(MakeThroughputMeasurement(*sc.throughput, sc.seed));
  if (sc.contention) out.push_back(MakeContentionMeasurement(*sc.contention));
  return out;
}

}  // namespace svcbench
