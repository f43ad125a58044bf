#include "harness/analysis/stats.h"

#include "harness/analysis/bootstrap.h"
#include "harness/util/splitmix64.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace svcbench {
namespace {

TEST(Stats, EmptyIsNaN) {
  EXPECT_TRUE(std::isnan(Quantile({}, 0.5)));
  EXPECT_TRUE(std::isnan(Mean({})));
  EXPECT_TRUE(std::isnan(Stddev({})));
  const Summary s = Summarize({});
  EXPECT_EQ(s.n, 0u);
  EXPECT_TRUE(std::isnan(s.p50));
}

TEST(Stats, SingleSample) {
  const Summary s = Summarize({3.5});
  EXPECT_EQ(s.n, 1u);
  EXPECT_DOUBLE_EQ(s.min, 3.5);
  EXPECT_DOUBLE_EQ(s.p50, 3.5);
  EXPECT_DOUBLE_EQ(s.p99, 3.5);
  EXPECT_DOUBLE_EQ(s.max, 3.5);
  EXPECT_DOUBLE_EQ(s.stddev, 0.0);
}

TEST(Stats, QuantileInterpolatesLikeNumpy) {
  // numpy.percentile([1, 2, 3, 4], [50, 90]) == [2.5, 3.7]
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_NEAR(Quantile({4, 1, 3, 2}, 0.9), 3.7, 1e-12);
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 1.0), 4.0);
}

TEST(Stats, MeanAndSampleStddev) {
  // statistics.stdev([2, 4, 4, 4, 5, 5, 7, 9]) == 2.138089935299395
  const std::vector<double> v{2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(Mean(v), 5.0);
  EXPECT_NEAR(Stddev(v), 2.138089935299395, 1e-12);
  const Summary s = Summarize(v);
  EXPECT_EQ(s.n, 8u);
  EXPECT_DOUBLE_EQ(s.min, 2);
  EXPECT_DOUBLE_EQ(s.max, 9);
  EXPECT_DOUBLE_EQ(s.p50, 4.5);
}

TEST(Stats, P999InterpolatesLikeNumpy) {
  // numpy.percentile(range(1, 1001), 99.9) == 999.001
  std::vector<double> v;
  for (int i = 1000; i >= 1; --i) v.push_back(i);
  EXPECT_NEAR(Summarize(v).p999, 999.001, 1e-9);
  EXPECT_DOUBLE_EQ(Summarize({2, 1}).p999, 1.999);
  EXPECT_TRUE(std::isnan(Summarize({}).p999));
}

// The textbook percentile bootstrap, a sort per resample, drawing the same indices as
// BootstrapQuantileCi does: the counting shortcut must give exactly the same interval.
Interval NaiveBootstrap(std::vector<double> v, double q, double confidence, size_t resamples,
                        uint64_t seed) {
  std::sort(v.begin(), v.end());
  SplitMix64 rng(seed);
  std::vector<double> stats;
  for (size_t b = 0; b < resamples; ++b) {
    std::vector<double> resample;
    for (size_t i = 0; i < v.size(); ++i) {
      resample.push_back(v[rng.Scaled(static_cast<uint32_t>(v.size()))]);
    }
    stats.push_back(Quantile(resample, q));
  }
  const double tail = (1 - confidence) / 2;
  return {Quantile(stats, tail), Quantile(stats, 1 - tail)};
}

TEST(Bootstrap, MatchesTheTextbookBootstrapExactly) {
  SplitMix64 rng(7);
  for (const size_t n : {2u, 3u, 10u, 101u, 1000u}) {
    std::vector<double> v;
    for (size_t i = 0; i < n; ++i) v.push_back(static_cast<double>(rng.Below(1000)) / 7.0);
    for (const double q : {0.5, 0.9}) {
      const Interval fast = BootstrapQuantileCi(v, q, 0.95, 200, 99);
      const Interval slow = NaiveBootstrap(v, q, 0.95, 200, 99);
      EXPECT_DOUBLE_EQ(fast.low, slow.low) << "n=" << n << " q=" << q;
      EXPECT_DOUBLE_EQ(fast.high, slow.high) << "n=" << n << " q=" << q;
    }
  }
}

TEST(Bootstrap, DeterministicAndAroundTheMedian) {
  std::vector<double> v;
  for (int i = 0; i < 2001; ++i) v.push_back(i % 2 == 0 ? i : 4000 - i);  // 0..4000, shuffled
  const Interval a = BootstrapQuantileCi(v, 0.5);
  const Interval b = BootstrapQuantileCi(v, 0.5);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  const double median = Quantile(v, 0.5);
  EXPECT_LT(a.low, median);
  EXPECT_GT(a.high, median);
  // Of uniform data the median's standard error is ~ range / (2 sqrt(n)) ~ 45; the interval is
  // about 4 of them wide, nowhere near the whole range.
  EXPECT_LT(a.high - a.low, 400);
  // Another seed moves the ends a little, not the picture.
  const Interval c = BootstrapQuantileCi(v, 0.5, 0.95, kBootstrapResamples, 1);
  EXPECT_NEAR(c.low, a.low, 40);
  EXPECT_NEAR(c.high, a.high, 40);
}

TEST(Bootstrap, EdgeCases) {
  const Interval none = BootstrapQuantileCi({}, 0.5);
  EXPECT_TRUE(std::isnan(none.low));
  EXPECT_TRUE(std::isnan(none.high));
  const Interval one = BootstrapQuantileCi({3.5}, 0.5);
  EXPECT_EQ(one.low, 3.5);
  EXPECT_EQ(one.high, 3.5);
  const Interval same = BootstrapQuantileCi({2, 2, 2, 2}, 0.5);
  EXPECT_EQ(same.low, 2);
  EXPECT_EQ(same.high, 2);
}

}  // namespace
}  // namespace svcbench
