#include "harness/analysis/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "harness/analysis/stats.h"
#include "harness/util/splitmix64.h"

namespace svcbench {

Interval BootstrapQuantileCi(const std::vector<double>& v, double q, double confidence,
                             size_t resamples, uint64_t seed) {
  if (v.empty() || resamples == 0 || v.size() > UINT32_MAX) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan};
  }
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  q = std::clamp(q, 0.0, 1.0);
  const double h = q * static_cast<double>(n - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, n - 1);
  const double frac = h - static_cast<double>(lo);

  // A resample is only needed as counts per original sample: its k-th smallest value is the
  // sorted sample where the running count first exceeds k. That makes each resample O(n)
  // instead of a sort.
  SplitMix64 rng(seed);
  std::vector<uint32_t> counts(n);
  std::vector<double> stats;
  stats.reserve(resamples);
  for (size_t b = 0; b < resamples; ++b) {
    std::fill(counts.begin(), counts.end(), 0u);
    for (size_t i = 0; i < n; ++i) ++counts[rng.Scaled(static_cast<uint32_t>(n))];
    // Counts add up to n > hi, so both walks stop inside the array.
    size_t j = 0;
    size_t below = 0;  // resampled values in sorted[0 .. j)
    while (below + counts[j] <= lo) below += counts[j++];
    const double at_lo = sorted[j];
    while (below + counts[j] <= hi) below += counts[j++];
    const double at_hi = sorted[j];
    stats.push_back(at_lo + frac * (at_hi - at_lo));
  }
  const double tail = (1.0 - std::clamp(confidence, 0.0, 1.0)) / 2.0;
  return {Quantile(stats, tail), Quantile(stats, 1.0 - tail)};
}

}  // namespace svcbench
