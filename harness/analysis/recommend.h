// `svcbench recommend RUN_DIR --slo 'latency.overhead.p99<=100us' ...`: for each backend, the
// largest service count that meets every SLO, which SLO binds, the growth model behind it and
// whether the answer is extrapolated beyond the measured sizes.
//
// Per backend, SLO and label set: the SLO's statistic is taken at each measured size; with at
// least 3 sizes, growth models are fitted (analysis/fit.h) and the bound is where the chosen
// model crosses the limit. Measurements overrule the fit: the bound is never below the largest
// size that met the SLO with every smaller size, nor at or above the smallest size that missed
// it or whose cell failed. With fewer than 3 sizes the bound is the largest measured size that
// met it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/analysis/fit.h"
#include "harness/report/format.h"
#include "harness/result/result.h"

namespace svcbench {

struct Slo {
  std::string text;  // as written, e.g. "sync.full.wall{state=cold}.p50<=1s"
  std::string metric;
  Labels selector;     // rows must carry these labels; empty: every label set must meet it
  std::string stat;    // p50, p90, p99, mean, min, max
  bool upper = true;   // "<=": a cost; ">=": a rate
  double limit = 0;    // in the metric's SI unit
  std::string unit;    // the unit the limit was written in: "s", "bytes", "1/s" or "" (plain)
  std::string source;  // why this limit (for the defaults)
};

// METRIC[{k=v,...}].STAT(<=|>=)NUMBER[UNIT], units: ns us µs ms s min, B kB MB GB, /s k/s M/s.
// Throws std::invalid_argument naming the part that is wrong.
Slo ParseSlo(const std::string& text);

// The documented defaults (docs/reports.md), each with its source.
std::vector<Slo> DefaultSlos();

// A bound of at least the cap means the SLO does not bound the service count (up to the cap).
inline constexpr double kDefaultCap = 1e6;

struct SloCheck {
  std::string slo;  // Slo::text
  Labels labels;
  std::string unit;
  std::vector<std::pair<uint32_t, double>> points;  // (services, statistic)
  std::optional<Fit> fit;
  double bound = 0;
  bool extrapolated = false;
  std::optional<uint32_t> first_miss;  // smallest size that missed the SLO or failed
  std::string note;
};

struct BackendRecommendation {
  std::string backend;
  double bound = 0;
  int binding = -1;  // index into checks of the check that gives the bound
  std::vector<SloCheck> checks;
  std::optional<uint32_t> failed_at;  // smallest size where one of its cells failed
  std::string failure;
  bool meets_target = true;  // with RecommendOptions::at
};

struct RecommendOptions {
  double cap = kDefaultCap;
  std::optional<uint32_t> at;         // target size: backends with a lower bound fail it
  std::vector<std::string> backends;  // only these (all when empty)
};

struct Recommendation {
  std::string scenario, kernel;
  RecommendOptions options;
  std::vector<Slo> slos;
  std::vector<std::string> not_measured;  // SLO texts whose metric has no rows
  std::vector<BackendRecommendation> backends;

  bool MissesTarget() const;
};

// Throws std::invalid_argument when an SLO's unit does not fit its metric's unit, or when
// `explicit_slos` and an SLO's metric has no rows at all.
Recommendation Recommend(const Result& r, const std::vector<Slo>& slos, bool explicit_slos,
                         const RecommendOptions& opts);

std::string RecommendMarkdown(const Recommendation& rec);
nlohmann::json RecommendJson(const Recommendation& rec);

// 7412 -> "7,410": three significant digits, thousands separated.
std::string RoundServices(double n);

}  // namespace svcbench
