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

// 1000 resamples put the ends of a 95% interval within about a percent of where infinitely many
// would, and cost ~10 ms for 5,000 samples.
inline constexpr size_t kBootstrapResamples = 1000;
// Fixed, so the same samples always give the same interval (result.json is reproducible).
inline constexpr uint64_t kBootstrapSeed = 0x5eedb007;

// Draws `resamples` resamples of v with replacement (SplitMix64 seeded with `seed`), takes the
// quantile q of each exactly as Quantile() does, and returns the (1 - confidence) / 2 and
// (1 + confidence) / 2 quantiles of those. NaN ends for an empty v; for n = 1 both ends are the
// sample.
Interval BootstrapQuantileCi(const std::vector<double>& v, double q, double confidence = 0.95,
                             size_t resamples = kBootstrapResamples,
                             uint64_t seed = kBootstrapSeed);

}  // namespace svcbench
