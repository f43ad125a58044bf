#include "harness/report/series.h"

#include <algorithm>
#include <cmath>

namespace svcbench {

std::string ScenarioName(const Result& r, const std::string& fallback) {
  if (r.scenario.is_object() && r.scenario.contains("name") && r.scenario.at("name").is_string()) {
    return r.scenario.at("name").get<std::string>();
  }
  return fallback;
}

std::vector<double> FiniteSamples(const std::vector<double>& v) {
  std::vector<double> out;
  out.reserve(v.size());
  for (double x : v) {
    if (std::isfinite(x)) out.push_back(x);
  }
  return out;
}

std::vector<MetricSeries> GroupSeries(const Result& r) {
  std::vector<MetricSeries> out;
  // Metrics keep first-seen order; label sets of one metric are sorted, so the order does not
  // depend on which backend happened to run first.
  std::vector<std::string> metrics;
  std::map<std::pair<std::string, Labels>, MetricSeries> by_key;
  for (const ResultRow& row : r.rows) {
    std::vector<double> s = FiniteSamples(row.samples);
    if (s.empty()) continue;
    if (std::find(metrics.begin(), metrics.end(), row.metric) == metrics.end()) {
      metrics.push_back(row.metric);
    }
    MetricSeries& ms = by_key[{row.metric, row.labels}];
    ms.metric = row.metric;
    ms.labels = row.labels;
    ms.unit = row.unit;
    auto& cell = ms.cells[row.backend][row.services];
    cell.insert(cell.end(), s.begin(), s.end());
  }
  for (const std::string& m : metrics) {
    for (auto& [key, ms] : by_key) {
      if (key.first == m) out.push_back(std::move(ms));
    }
  }
  return out;
}

std::vector<std::string> BackendOrder(const Result& r) {
  std::vector<std::string> order;
  if (r.scenario.contains("backends") && r.scenario.at("backends").is_array()) {
    for (const auto& b : r.scenario.at("backends")) {
      if (b.is_string()) order.push_back(b.get<std::string>());
    }
  }
  for (const ResultRow& row : r.rows) {
    if (std::find(order.begin(), order.end(), row.backend) == order.end()) {
      order.push_back(row.backend);
    }
  }
  return order;
}

}  // namespace svcbench
