// Small statistics over raw samples. Each handles n = 0 and n = 1.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace svcbench {

// Linear-interpolated quantile (type 7, as R and numpy default), q in [0, 1]. NaN when empty.
double Quantile(std::vector<double> v, double q);
double Mean(const std::vector<double>& v);
// Sample standard deviation (n - 1); 0 for n <= 1, NaN for n == 0.
double Stddev(const std::vector<double>& v);

struct Summary {
  size_t n = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0, stddev = 0;
  double p999 = 0;  // the 99.9th percentile: with fewer than 1000 samples, near the max
};
Summary Summarize(const std::vector<double>& v);

// A statistic by the name SLOs and reports use: p50, p90, p99 (any pNN), mean, min, max.
// NaN for an unknown name or no samples.
double NamedStatistic(const std::vector<double>& v, std::string_view stat);

// The Mann–Whitney U test (Wilcoxon rank-sum) of two independent samples, two-sided, computed
// as scipy.stats.mannwhitneyu does with method="auto": the exact distribution when one sample
// has at most 8 values and there are no ties, else the normal approximation with tie and
// continuity correction. It asks whether one sample tends to be larger than the other without
// assuming a distribution, which suits timings (skewed, with outliers).
struct MannWhitney {
  double u1 = 0;  // U of `a`: pairs (x in a, y in b) with x > y, ties counted 1/2
  double p = 1;   // two-sided p-value; 1 when either sample is empty
  bool exact = false;
};
MannWhitney MannWhitneyU(const std::vector<double>& a, const std::vector<double>& b);

// The smallest two-sided p-value the exact test can reach with samples of these sizes
// (complete separation): 2 / C(n1 + n2, n1). When it is not below alpha, no difference between
// such samples can be significant, however large: "too few samples" rather than "same".
double MinTwoSidedP(size_t n1, size_t n2);

}  // namespace svcbench
