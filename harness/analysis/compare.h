// `svcbench compare BASE NEW`: for each backend × size × metric × labels present in both runs,
// the ratio of medians (new / base), a two-sided Mann–Whitney U p-value and a verdict.
// Verdict rules (docs/reports.md):
//   too few samples  the exact test could not reach p < alpha even if the samples were fully
//                    separated (2 / C(n1+n2, n1) >= alpha; at alpha 0.05 that is 3 vs 3 or fewer)
//   worse / better   p < alpha and the median moved beyond the threshold in the bad / good
//                    direction (lower is better, except for rates: unit 1/s or throughput.*)
//   same             otherwise
//   new error        NEW failed a cell that BASE measured
// A regression is any "worse" or "new error"; `svcbench compare` then exits 1.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/report/format.h"
#include "harness/result/result.h"

namespace svcbench {

struct CompareOptions {
  double threshold = 0.05;  // relative change of the median that matters
  double alpha = 0.05;      // significance level of the U test
};

enum class Verdict { kSame, kBetter, kWorse, kTooFew, kNewError };
std::string_view VerdictName(Verdict v);  // "same", "better", "worse", "too few samples", ...

struct MetricComparison {
  std::string backend;
  uint32_t services = 0;
  uint32_t endpoints_per_service = 0;
  std::string metric, unit;
  Labels labels;
  size_t n_base = 0, n_new = 0;
  double median_base = 0, median_new = 0;
  double ratio = 1;  // median_new / median_base; +inf when the base median is 0 and new is not
  double p = 1;
  Verdict verdict = Verdict::kSame;
  std::string error;  // kNewError: NEW's error text
};

struct Comparison {
  std::string base_name, new_name;  // how the runs are named in the output
  CompareOptions options;
  std::vector<MetricComparison> rows;
  // Cells present in one run only ("sync.full.wall (state=cold) iptables-nft 5000: only in base").
  std::vector<std::string> unmatched;
  // Context differences that make the comparison suspect (kernel, CPU, build type, ...).
  std::vector<std::string> warnings;

  bool Regressed() const;
};

Comparison Compare(const Result& base, const Result& now, const CompareOptions& opts,
                   const std::string& base_name = "base", const std::string& new_name = "new");

// True for metrics where more is better (rates).
bool HigherIsBetter(const std::string& metric, const std::string& unit);

// "5%" or "0.05" -> 0.05; nullopt when it is not a fraction in [0, 10].
std::optional<double> ParseFraction(const std::string& s);

// GitHub-flavoured Markdown: verdict line, warnings, then the changed rows first.
std::string CompareMarkdown(const Comparison& c);
nlohmann::json CompareJson(const Comparison& c);

}  // namespace svcbench
