#include "harness/report/perfdata.h"

#include <nlohmann/json.hpp>

#include "harness/analysis/stats.h"
#include "harness/report/format.h"
#include "harness/report/series.h"

namespace svcbench {

std::string PerfDataJson(const Result& r) {
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const ResultRow& row : r.rows) {
    const std::vector<double> s = FiniteSamples(row.samples);
    if (s.empty()) continue;
    const bool seconds = row.unit == "s";
    const double scale = seconds ? 1e3 : 1.0;
    nlohmann::ordered_json labels = {
        {"Metric", row.metric},
        {"Backend", row.backend},
        {"Services", std::to_string(row.services)},
        {"EndpointsPerService", std::to_string(row.endpoints_per_service)}};
    for (const auto& [k, v] : row.labels) labels[k] = v;
    items.push_back({{"data",
                      {{"Perc50", Quantile(s, 0.5) * scale},
                       {"Perc90", Quantile(s, 0.9) * scale},
                       {"Perc99", Quantile(s, 0.99) * scale}}},
                     {"unit", seconds ? "ms" : row.unit},
                     {"labels", labels}});
  }
  const Context& c = r.context;
  nlohmann::ordered_json j = {{"version", "v1"},
                              {"dataItems", items},
                              {"labels",
                               {{"scenario", ScenarioName(r, "")},
                                {"kernel", c.kernel},
                                {"build_type", c.build_type},
                                {"git_sha", c.git_sha},
                                {"status", std::string(RunStatusName(r.status))}}}};
  return j.dump(2) + "\n";
}

std::string PerfDataFileName(const Result& r) {
  const std::string scenario = FileSafe(ScenarioName(r, "run"));
  const std::string& t = r.context.started_at;
  // ':' is legal in a Linux file name and ClusterLoader2 keeps it (RFC 3339); so do we.
  return "SvcbenchMetrics_" + scenario + (t.empty() ? "" : "_" + t) + ".json";
}

}  // namespace svcbench
