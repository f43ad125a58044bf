#include "harness/analysis/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace svcbench {

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  q = std::clamp(q, 0.0, 1.0);
  const double h = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

double Mean(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double Stddev(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (v.size() == 1) return 0.0;
  const double m = Mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

Summary Summarize(const std::vector<double>& v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    s.min = s.p50 = s.p90 = s.p99 = s.p999 = s.max = s.mean = s.stddev = nan;
    return s;
  }
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  s.min = sorted.front();
  s.max = sorted.back();
  s.p50 = Quantile(sorted, 0.50);
  s.p90 = Quantile(sorted, 0.90);
  s.p99 = Quantile(sorted, 0.99);
  s.p999 = Quantile(sorted, 0.999);
  s.mean = Mean(sorted);
  s.stddev = Stddev(sorted);
  return s;
}

}  // namespace svcbench
