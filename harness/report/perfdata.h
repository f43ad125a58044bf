// ClusterLoader2's PerfData JSON, for perfdash (kubernetes/perf-tests): version "v1" and one
// data item per row with Perc50/Perc90/Perc99 (perf-tests clusterloader2/pkg/measurement/util/
// perftype.go). Times are in ms, as ClusterLoader2 writes its latencies; other units unchanged.
// The file is named as ClusterLoader2 names its summaries, <Summary>_<test>_<time>.json, so a
// perfdash TestDescription with OutputFilePrefix "SvcbenchMetrics" and Name "<scenario>" finds it.
#pragma once

#include <string>

#include "harness/result/result.h"

namespace svcbench {

std::string PerfDataJson(const Result& r);

// "SvcbenchMetrics_<scenario>_<started_at>.json" (without the time when it is unknown).
std::string PerfDataFileName(const Result& r);

}  // namespace svcbench
