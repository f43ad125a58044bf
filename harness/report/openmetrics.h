// metrics.prom: the run in OpenMetrics text format, for Prometheus' node_exporter textfile
// collector (copy it into --collector.textfile.directory) or any OpenMetrics parser.
//
// Each metric becomes one summary family named svcbench_<metric with '.' -> '_'>_<unit>
// (sync.full.wall -> svcbench_sync_full_wall_seconds) with quantiles 0.5, 0.9, 0.99, _sum and
// _count; labels are backend, services, endpoints_per_service and the row's own labels.
// svcbench_run_info carries the context, svcbench_cell_error marks failed cells.
#pragma once

#include <string>

#include "harness/result/result.h"

namespace svcbench {

std::string OpenMetricsText(const Result& r);

// "sync.full.wall", "s" -> "svcbench_sync_full_wall_seconds".
std::string OpenMetricsName(const std::string& metric, const std::string& unit);

}  // namespace svcbench
