#include "harness/measure/contention.h"
#include "harness/measure/sync.h"

namespace svcbench {

std::vector<std::unique_ptr<Measurement>> MakeMeasurements(const Scenario& sc) {
  std::vector<std::unique_ptr<Measurement>> out;
  if (sc.sync) out.push_back(MakeSyncMeasurement(*sc.sync));
  if (sc.contention) out.push_back(MakeContentionMeasurement(*sc.contention));
  return out;
}

}  // namespace svcbench
