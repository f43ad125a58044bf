#include "harness/analysis/compare.h"

#include <gtest/gtest.h>

#include "test/unit/report_fixture.h"

namespace svcbench {
namespace {

using testing::Row;

// Two backends, two sizes, one timing metric with `reps` samples per cell.
Result TwoBackends(int reps, double scale_legacy_5000 = 1.0) {
  Result r;
  r.scenario = {{"name", "cmp"}};
  r.context.kernel = "Linux 6.1";
  r.context.build_type = "Release";
  r.context.cores = 2;
  for (const char* b : {"iptables-legacy", "nftables"}) {
    for (const uint32_t n : {1000u, 5000u}) {
      std::vector<double> s;
      for (int i = 0; i < reps; ++i) {
        double v = n * 1e-4 * (1 + 0.01 * i);
        if (std::string(b) == "iptables-legacy" && n == 5000) v *= scale_legacy_5000;
        s.push_back(v);
      }
      r.rows.push_back(Row(b, n, "sync.full.wall", "s", {{"state", "cold"}}, s));
    }
  }
  return r;
}

const MetricComparison& Find(const Comparison& c, const std::string& backend, uint32_t n) {
  for (const MetricComparison& m : c.rows) {
    if (m.backend == backend && m.services == n) return m;
  }
  throw std::runtime_error("row not found");
}

TEST(Compare, SameSamplesAreSame) {
  const Comparison c = Compare(TwoBackends(5), TwoBackends(5), {});
  ASSERT_EQ(c.rows.size(), 4u);
  for (const MetricComparison& m : c.rows) {
    EXPECT_EQ(m.verdict, Verdict::kSame);
    EXPECT_DOUBLE_EQ(m.ratio, 1.0);
  }
  EXPECT_FALSE(c.Regressed());
  EXPECT_TRUE(c.warnings.empty());
}

TEST(Compare, ThirtyPercentSlowerIsWorse) {
  const Comparison c = Compare(TwoBackends(5), TwoBackends(5, 1.3), {});
  EXPECT_TRUE(c.Regressed());
  const MetricComparison& m = Find(c, "iptables-legacy", 5000);
  EXPECT_EQ(m.verdict, Verdict::kWorse);
  EXPECT_NEAR(m.ratio, 1.3, 1e-9);
  EXPECT_LT(m.p, 0.05);
  EXPECT_EQ(Find(c, "nftables", 5000).verdict, Verdict::kSame);
  // The worse row comes first, and the Markdown names it.
  EXPECT_EQ(&c.rows.front(), &m);
  const std::string md = CompareMarkdown(c);
  EXPECT_NE(md.find("**regression**"), std::string::npos);
  EXPECT_NE(md.find("| **worse** | iptables-legacy | 5000 | sync.full.wall | state=cold |"),
            std::string::npos)
      << md;
  EXPECT_EQ(CompareJson(c).at("verdict"), "regression");
}

TEST(Compare, FasterIsBetterNotARegression) {
  const Comparison c = Compare(TwoBackends(5), TwoBackends(5, 0.7), {});
  EXPECT_FALSE(c.Regressed());
  EXPECT_EQ(Find(c, "iptables-legacy", 5000).verdict, Verdict::kBetter);
}

TEST(Compare, SignificantButWithinThresholdIsSame) {
  const Comparison c = Compare(TwoBackends(5), TwoBackends(5, 1.03), {});
  const MetricComparison& m = Find(c, "iptables-legacy", 5000);
  EXPECT_EQ(m.verdict, Verdict::kSame);
  EXPECT_FALSE(c.Regressed());
}

TEST(Compare, TooFewSamplesIsNoVerdict) {
  // 3 vs 3 cannot reach p < 0.05 however far apart; 4 vs 4 can.
  Comparison c = Compare(TwoBackends(3), TwoBackends(3, 2.0), {});
  EXPECT_EQ(Find(c, "iptables-legacy", 5000).verdict, Verdict::kTooFew);
  EXPECT_FALSE(c.Regressed());
  EXPECT_NE(CompareMarkdown(c).find("too few samples"), std::string::npos);
  c = Compare(TwoBackends(4), TwoBackends(4, 2.0), {});
  EXPECT_EQ(Find(c, "iptables-legacy", 5000).verdict, Verdict::kWorse);
}

TEST(Compare, RatesAreBetterWhenHigher) {
  Result a, b;
  a.rows.push_back(Row("x", 1000, "throughput.connections", "1/s", {}, {100, 101, 102, 103, 104}));
  b.rows.push_back(Row("x", 1000, "throughput.connections", "1/s", {}, {60, 61, 62, 63, 64}));
  EXPECT_EQ(Compare(a, b, {}).rows.at(0).verdict, Verdict::kWorse);
  EXPECT_EQ(Compare(b, a, {}).rows.at(0).verdict, Verdict::kBetter);
}

TEST(Compare, NewErrorIsARegressionAndOldOneIsNot) {
  Result base = TwoBackends(5), now = TwoBackends(5);
  ResultRow err = Row("nftables", 5000, "sync.full.wall", "s", {}, {});
  err.error = "timed out";
  now.rows.push_back(err);
  Comparison c = Compare(base, now, {});
  EXPECT_TRUE(c.Regressed());
  EXPECT_EQ(c.rows.front().verdict, Verdict::kNewError);
  EXPECT_EQ(c.rows.front().error, "timed out");
  base.rows.push_back(err);
  EXPECT_FALSE(Compare(base, now, {}).Regressed());
}

TEST(Compare, ContextDifferencesWarn) {
  Result base = TwoBackends(5), now = TwoBackends(5);
  now.context.kernel = "Linux 6.18";
  now.context.build_type = "Debug";
  const Comparison c = Compare(base, now, {}, "a", "b");
  ASSERT_GE(c.warnings.size(), 3u);
  EXPECT_EQ(c.warnings[0], "kernel differs: a 'Linux 6.1', b 'Linux 6.18'");
  EXPECT_EQ(c.warnings[1], "build type differs: a 'Release', b 'Debug'");
  EXPECT_EQ(c.warnings[2], "b is a Debug build: timings are not representative");
}

TEST(Compare, CellsInOneRunOnlyAreListed) {
  Result base = TwoBackends(5), now = TwoBackends(5);
  now.rows.pop_back();
  const Comparison c = Compare(base, now, {}, "a", "b");
  ASSERT_EQ(c.unmatched.size(), 1u);
  EXPECT_EQ(c.unmatched[0], "sync.full.wall (state=cold) nftables at 5000 services: only in a");
}

TEST(Compare, ParseFraction) {
  EXPECT_DOUBLE_EQ(*ParseFraction("5%"), 0.05);
  EXPECT_DOUBLE_EQ(*ParseFraction("0.1"), 0.1);
  EXPECT_FALSE(ParseFraction("five"));
  EXPECT_FALSE(ParseFraction("5%%"));
  EXPECT_FALSE(ParseFraction("-1%"));
  EXPECT_FALSE(ParseFraction(""));
}

}  // namespace
}  // namespace svcbench
