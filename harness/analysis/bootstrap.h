// A bootstrap confidence interval of a quantile: how far a row's p50 could move if the same
// measurement were repeated, estimated from its samples alone (Efron's percentile bootstrap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace svcbench {

struct Interval {
  double low = 0;
  double high = 0;
};

// Efron and Tibshirani's usual count for percentile intervals. 5,000 samples take ~10 ms (a
// loop of 10 rows on the 2-core development VM at load average 6.7, 2026-12-02).
inline constexpr size_t kBootstrapResamples = 1000;
// Fixed, so the same samples always give the same interval (result.json is reproducible).
inline constexpr uint64_t kBootstrapSeed = 0x5eedb007;

// Draws `resamples` resamples of v with replacement (SplitMix64::Scaled seeded with `seed`), takes
// the quantile q of each exactly as Quantile() does, and returns the (1 - confidence) / 2 and (1 +
// confidence) / 2 quantiles of those. NaN ends for an empty v (or one of 2^32 samples or more); for
// n = 1 both ends are the sample.
Interval BootstrapQuantileCi(const std::vector<double>& v, double q, double confidence = 0.95,
                             size_t resamples = kBootstrapResamples,
                             uint64_t seed = kBootstrapSeed);

}  // namespace svcbench
