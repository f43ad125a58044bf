// Small statistics over raw samples. Each handles n = 0 and n = 1.
#pragma once

#include <cstddef>
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

}  // namespace svcbench
