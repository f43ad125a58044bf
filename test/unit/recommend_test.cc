#include "harness/analysis/recommend.h"

#include <gtest/gtest.h>

#include "test/unit/report_fixture.h"

namespace svcbench {
namespace {

using testing::Row;

// A backend whose sync p50 follows 10 ms + 1 ms per 1000 services exactly (samples spread
// around the law, the median on it), measured at 1k, 2k, 5k and 10k.
Result LinearLaw() {
  Result r;
  r.scenario = {{"name", "law"}, {"backends", {"linear"}}};
  for (const uint32_t n : {1000u, 2000u, 5000u, 10000u}) {
    const double y = 0.010 + 1e-6 * n;
    r.rows.push_back(
        Row("linear", n, "sync.full.wall", "s", {{"state", "cold"}}, {y * 0.98, y, y * 1.03}));
  }
  return r;
}

TEST(Recommend, RecoversTheBoundOfALinearLaw) {
  // 10 ms + 1 ms/1k <= 18 ms  <=>  n <= 8000, inside the measured range.
  const Recommendation rec =
      Recommend(LinearLaw(), {ParseSlo("sync.full.wall.p50<=18ms")}, true, {});
  ASSERT_EQ(rec.backends.size(), 1u);
  const BackendRecommendation& b = rec.backends[0];
  EXPECT_NEAR(b.bound, 8000, 1e-3);
  ASSERT_EQ(b.binding, 0);
  const SloCheck& c = b.checks[0];
  ASSERT_TRUE(c.fit);
  EXPECT_EQ(c.fit->model, GrowthModel::kLinear);
  EXPECT_NEAR(c.fit->r2, 1.0, 1e-9);
  EXPECT_FALSE(c.extrapolated);
  EXPECT_EQ(c.first_miss, 10000u);
  const std::string md = RecommendMarkdown(rec);
  EXPECT_NE(
      md.find("| linear | 8,000 | `sync.full.wall.p50<=18ms` (state=cold) | linear | 1.000 | no |"),
      std::string::npos)
      << md;
}

TEST(Recommend, FlagsExtrapolation) {
  // <= 30 ms  <=>  n <= 20000: twice the largest measured size.
  const Recommendation rec =
      Recommend(LinearLaw(), {ParseSlo("sync.full.wall.p50<=30ms")}, true, {});
  const BackendRecommendation& b = rec.backends.at(0);
  EXPECT_NEAR(b.bound, 20000, 1e-3);
  EXPECT_TRUE(b.checks.at(0).extrapolated);
  EXPECT_FALSE(b.checks.at(0).first_miss);
  EXPECT_NE(RecommendMarkdown(rec).find("**yes**"), std::string::npos);
  EXPECT_EQ(RecommendJson(rec).at("backends").at(0).at("checks").at(0).at("extrapolated"), true);
}

TEST(Recommend, TargetSizeDecidesTheExitCode) {
  RecommendOptions opts;
  opts.at = 9000;
  EXPECT_TRUE(
      Recommend(LinearLaw(), {ParseSlo("sync.full.wall.p50<=18ms")}, true, opts).MissesTarget());
  opts.at = 5000;
  EXPECT_FALSE(
      Recommend(LinearLaw(), {ParseSlo("sync.full.wall.p50<=18ms")}, true, opts).MissesTarget());
}

TEST(Recommend, MeasurementsOverruleTheFit) {
  // The fit would say 8000, but the cell at 5000 failed.
  Result r = LinearLaw();
  ResultRow err = Row("linear", 5000, "sync.full.wall", "s", {}, {});
  err.error = "timed out";
  r.rows.push_back(err);
  const Recommendation rec = Recommend(r, {ParseSlo("sync.full.wall.p50<=18ms")}, true, {});
  EXPECT_DOUBLE_EQ(rec.backends.at(0).bound, 2000);
  EXPECT_EQ(rec.backends.at(0).failed_at, 5000u);
  EXPECT_NE(rec.backends.at(0).checks.at(0).note.find("5000 services failed"), std::string::npos);
}

TEST(Recommend, RatesUseGreaterOrEqual) {
  // Throughput falling linearly: 10000/s - 0.5/s per service; >= 6000/s  <=>  n <= 8000.
  Result r;
  for (const uint32_t n : {1000u, 2000u, 5000u, 10000u}) {
    r.rows.push_back(Row("b", n, "throughput.connections", "1/s", {}, {10000 - 0.5 * n}));
  }
  const Recommendation rec = Recommend(r, {ParseSlo("throughput.connections.p50>=6k/s")}, true, {});
  EXPECT_NEAR(rec.backends.at(0).bound, 8000, 1e-3);
  EXPECT_NEAR(rec.backends.at(0).checks.at(0).fit->b, -0.5, 1e-9);
}

TEST(Recommend, TheTightestSloBinds) {
  Result r = LinearLaw();
  for (const uint32_t n : {1000u, 2000u, 5000u, 10000u}) {
    r.rows.push_back(Row("linear", n, "sync.payload.bytes", "bytes", {}, {1000.0 * n}));
  }
  const Recommendation rec = Recommend(
      r, {ParseSlo("sync.full.wall.p50<=18ms"), ParseSlo("sync.payload.bytes.max<=3MB")}, true, {});
  const BackendRecommendation& b = rec.backends.at(0);
  EXPECT_NEAR(b.bound, 3000, 1e-3);
  EXPECT_EQ(b.checks.at(static_cast<size_t>(b.binding)).slo, "sync.payload.bytes.max<=3MB");
}

TEST(Recommend, FewerThanThreeSizesIsNotFitted) {
  Result r;
  r.rows.push_back(Row("b", 1000, "sync.full.wall", "s", {}, {0.5}));
  r.rows.push_back(Row("b", 5000, "sync.full.wall", "s", {}, {2.0}));
  const Recommendation rec = Recommend(r, {ParseSlo("sync.full.wall.p50<=1s")}, true, {});
  EXPECT_DOUBLE_EQ(rec.backends.at(0).bound, 1000);
  EXPECT_FALSE(rec.backends.at(0).checks.at(0).fit);
}

TEST(Recommend, UnmeasuredSlos) {
  // Explicit: an error. Default: listed as not measured.
  EXPECT_THROW(Recommend(LinearLaw(), {ParseSlo("latency.overhead.p99<=100us")}, true, {}),
               std::invalid_argument);
  const Recommendation rec = Recommend(LinearLaw(), DefaultSlos(), false, {});
  EXPECT_EQ(rec.slos.size(), 1u);
  EXPECT_EQ(rec.not_measured.size(), DefaultSlos().size() - 1);
  // A limit in the wrong unit is refused.
  EXPECT_THROW(Recommend(LinearLaw(), {ParseSlo("sync.full.wall.p50<=3MB")}, true, {}),
               std::invalid_argument);
}

TEST(Slo, Parse) {
  Slo s = ParseSlo("latency.overhead.p99<=100us");
  EXPECT_EQ(s.metric, "latency.overhead");
  EXPECT_EQ(s.stat, "p99");
  EXPECT_TRUE(s.upper);
  EXPECT_DOUBLE_EQ(s.limit, 100e-6);
  EXPECT_EQ(s.unit, "s");
  s = ParseSlo("update.wall{mode=partial,pattern=endpoint-flap}.max<=2s");
  EXPECT_EQ(s.metric, "update.wall");
  EXPECT_EQ(s.selector, (Labels{{"mode", "partial"}, {"pattern", "endpoint-flap"}}));
  EXPECT_DOUBLE_EQ(s.limit, 2);
  s = ParseSlo("throughput.rps.p50>=10k/s");
  EXPECT_FALSE(s.upper);
  EXPECT_DOUBLE_EQ(s.limit, 10000);
  for (const char* bad : {"sync.full.wall<=1s", "sync.full.wall.p50=1s", "sync.full.wall.p50<=1h",
                          "sync.full.wall.p50<=fast", "x{a}.p50<=1", "x{a=b.p50<=1", ".p50<=1"}) {
    EXPECT_THROW(ParseSlo(bad), std::invalid_argument) << bad;
  }
}

TEST(Recommend, RoundServices) {
  EXPECT_EQ(RoundServices(7412), "7,410");
  EXPECT_EQ(RoundServices(1234567), "1,230,000");
  EXPECT_EQ(RoundServices(999.6), "1,000");
  EXPECT_EQ(RoundServices(42), "42");
  EXPECT_EQ(RoundServices(0), "0");
}

}  // namespace
}  // namespace svcbench
