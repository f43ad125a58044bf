#include "harness/analysis/stats.h"

#include <gtest/gtest.h>

#include <cmath>

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

}  // namespace
}  // namespace svcbench
