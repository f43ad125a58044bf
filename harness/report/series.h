// Rows regrouped the way plots and tables read them: one series per (metric, labels), holding
// each backend's samples by service count. Generic by metric name and labels, so a new
// measurement's rows show up in every report without touching the reporters.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "harness/report/format.h"
#include "harness/result/result.h"

namespace svcbench {

struct MetricSeries {
  std::string metric;
  Labels labels;
  std::string unit;
  // backend -> services -> samples (finite values only; rows of one cell that differ only in
  // endpoints_per_service are pooled)
  std::map<std::string, std::map<uint32_t, std::vector<double>>> cells;
};

// Series of the rows that have samples, in the order their metric first appears.
std::vector<MetricSeries> GroupSeries(const Result& r);

// The scenario's backends in its order, then any other backend in order of first appearance:
// a stable order, so a backend keeps its colour and column across reports of one scenario.
std::vector<std::string> BackendOrder(const Result& r);

// The scenario's name, or `fallback` when the result has none (a Result built in code).
std::string ScenarioName(const Result& r, const std::string& fallback = "?");

// Finite samples of a row (a NaN in result.json is a sample that could not be taken).
std::vector<double> FiniteSamples(const std::vector<double>& v);

}  // namespace svcbench
