// Mann–Whitney U and growth fits. Reference values from scipy 1.10.1 (Debian 12):
//   /usr/bin/python3 -c "from scipy.stats import mannwhitneyu as m; print(m(A, B))"
#include <gtest/gtest.h>

#include <cmath>

#include "harness/analysis/fit.h"
#include "harness/analysis/stats.h"

namespace svcbench {
namespace {

TEST(MannWhitney, ExactWithoutTies) {
  // m([1,2,3,4,5],[6,7,8,9,10]) -> statistic=0.0, pvalue=0.007936507936507936
  MannWhitney r = MannWhitneyU({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  EXPECT_TRUE(r.exact);
  EXPECT_DOUBLE_EQ(r.u1, 0);
  EXPECT_NEAR(r.p, 0.007936507936507936, 1e-12);
  // m([1.1,2.5,3.2,4.8],[2.0,3.9,5.5,6.1,7.3]) -> statistic=4.0, pvalue=0.19047619047619047
  r = MannWhitneyU({1.1, 2.5, 3.2, 4.8}, {2.0, 3.9, 5.5, 6.1, 7.3});
  EXPECT_DOUBLE_EQ(r.u1, 4);
  EXPECT_NEAR(r.p, 0.19047619047619047, 1e-12);
}

TEST(MannWhitney, NormalApproximationWithTies) {
  // m([1,2,2,3,4],[2,3,4,4,5,6]) -> statistic=5.5, pvalue=0.09337724360511554
  MannWhitney r = MannWhitneyU({1, 2, 2, 3, 4}, {2, 3, 4, 4, 5, 6});
  EXPECT_FALSE(r.exact);
  EXPECT_DOUBLE_EQ(r.u1, 5.5);
  EXPECT_NEAR(r.p, 0.09337724360511554, 1e-12);
  // Both samples larger than 8: m(range(20), [x+5.5 for x in range(20)]) -> 105.0, 0.0105812...
  std::vector<double> a, b;
  for (int i = 0; i < 20; ++i) {
    a.push_back(i);
    b.push_back(i + 5.5);
  }
  r = MannWhitneyU(a, b);
  EXPECT_FALSE(r.exact);
  EXPECT_DOUBLE_EQ(r.u1, 105);
  EXPECT_NEAR(r.p, 0.010581211443165648, 1e-12);
}

TEST(MannWhitney, DegenerateInputs) {
  EXPECT_DOUBLE_EQ(MannWhitneyU({5, 5, 5}, {5, 5, 5}).p, 1.0);  // scipy: 1.0
  EXPECT_DOUBLE_EQ(MannWhitneyU({}, {1, 2}).p, 1.0);
  EXPECT_DOUBLE_EQ(MannWhitneyU({1, 2, 3}, {1, 2, 3}).p, 1.0);
}

TEST(MannWhitney, SmallestReachablePValue) {
  EXPECT_NEAR(MinTwoSidedP(3, 3), 0.1, 1e-12);       // 2 / C(6,3)
  EXPECT_NEAR(MinTwoSidedP(4, 4), 2.0 / 70, 1e-12);  // below 0.05: 4 vs 4 can decide
  EXPECT_NEAR(MinTwoSidedP(5, 5), 2.0 / 252, 1e-12);
  EXPECT_DOUBLE_EQ(MinTwoSidedP(1, 1), 1.0);
  EXPECT_DOUBLE_EQ(MinTwoSidedP(0, 5), 1.0);
  // It is what the exact test gives for complete separation.
  EXPECT_NEAR(MannWhitneyU({1, 2, 3, 4}, {5, 6, 7, 8}).p, MinTwoSidedP(4, 4), 1e-12);
}

TEST(NamedStatistic, Names) {
  const std::vector<double> v{1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(NamedStatistic(v, "p50"), 2.5);
  EXPECT_DOUBLE_EQ(NamedStatistic(v, "mean"), 2.5);
  EXPECT_DOUBLE_EQ(NamedStatistic(v, "min"), 1);
  EXPECT_DOUBLE_EQ(NamedStatistic(v, "max"), 4);
  EXPECT_NEAR(NamedStatistic(v, "p999"), Quantile(v, 0.999), 1e-12);
  EXPECT_NEAR(NamedStatistic(v, "p5"), Quantile(v, 0.05), 1e-12);
  EXPECT_TRUE(std::isnan(NamedStatistic(v, "median")));
  EXPECT_TRUE(std::isnan(NamedStatistic(v, "p")));
}

TEST(Fit, RecoversEachModel) {
  const std::vector<double> n{1000, 2000, 5000, 10000, 20000};
  struct Case {
    GrowthModel model;
    double a, b;
  };
  for (const Case c :
       {Case{GrowthModel::kConstant, 0.004, 0}, Case{GrowthModel::kLinear, 0.01, 2e-6},
        Case{GrowthModel::kNLogN, 0.01, 3e-7}, Case{GrowthModel::kQuadratic, 0.05, 1e-9}}) {
    std::vector<double> y;
    for (double x : n) {
      const double f = c.model == GrowthModel::kLinear      ? x
                       : c.model == GrowthModel::kNLogN     ? x * std::log(x)
                       : c.model == GrowthModel::kQuadratic ? x * x
                                                            : 0;
      y.push_back(c.a + c.b * f);
    }
    const auto fit = BestFit(n, y);
    ASSERT_TRUE(fit);
    EXPECT_EQ(fit->model, c.model)
        << GrowthModelName(c.model) << " fitted as " << GrowthModelName(fit->model);
    EXPECT_NEAR(fit->a, c.a, 1e-9);
    EXPECT_NEAR(fit->b, c.b, 1e-12);
  }
}

TEST(Fit, LargestWithin) {
  Fit lin{GrowthModel::kLinear, 0.01, 1e-6};
  EXPECT_NEAR(lin.LargestWithin(0.02, 1e6), 10000, 1e-6);
  EXPECT_DOUBLE_EQ(lin.LargestWithin(0.005, 1e6), 0);  // missed even at 0 services
  EXPECT_DOUBLE_EQ(lin.LargestWithin(100, 1e6), 1e6);  // not bounded below the cap
  Fit quad{GrowthModel::kQuadratic, 0, 1e-8};
  EXPECT_NEAR(quad.LargestWithin(1, 1e6), 10000, 1e-6);
  Fit nlogn{GrowthModel::kNLogN, 0, 1e-6};
  const double bound = nlogn.LargestWithin(1, 1e6);
  EXPECT_NEAR(nlogn.Predict(bound), 1, 1e-5);
  Fit flat{GrowthModel::kConstant, 0.5, 0};
  EXPECT_DOUBLE_EQ(flat.LargestWithin(1, 1e6), 1e6);
  EXPECT_DOUBLE_EQ(flat.LargestWithin(0.1, 1e6), 0);
}

TEST(Fit, NeedsTwoDistinctSizes) {
  EXPECT_FALSE(BestFit({1000, 1000}, {1, 2}));
  EXPECT_FALSE(BestFit({}, {}));
}

}  // namespace
}  // namespace svcbench
