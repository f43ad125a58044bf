#include "harness/analysis/history.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test/unit/report_fixture.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/svcbench-history-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/sub/history.sqlite";  // the directory is created on open
  }
  void TearDown() override { fs::remove_all(dir_); }

  static Result RunAt(const std::string& started, double scale) {
    Result r = testing::ReportFixture();
    r.status = RunStatus::kComplete;
    r.context.started_at = started;
    for (ResultRow& row : r.rows) {
      for (double& s : row.samples) s *= scale;
    }
    return r;
  }

  std::string dir_, path_;
};

TEST_F(HistoryTest, RoundTrip) {
  const Result a = testing::ReportFixture();
  int64_t id = 0;
  {
    History h(path_);
    id = h.Record(a, "/results/run-a");
  }
  History h(path_);  // reopened: what was written is on disk
  const auto runs = h.List();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, id);
  EXPECT_EQ(runs[0].scenario, "fixture");
  EXPECT_EQ(runs[0].status, "partial");
  EXPECT_EQ(runs[0].git_sha, "0123456789ab");
  EXPECT_EQ(runs[0].run_dir, "/results/run-a");
  EXPECT_EQ(runs[0].verdict, "");
  const Result b = h.Load(id);
  ASSERT_EQ(b.rows.size(), a.rows.size());
  for (size_t i = 0; i < a.rows.size(); ++i) {
    EXPECT_EQ(b.rows[i].metric, a.rows[i].metric);
    EXPECT_EQ(b.rows[i].labels, a.rows[i].labels);
    EXPECT_EQ(b.rows[i].error, a.rows[i].error);
    ASSERT_EQ(b.rows[i].samples.size(), a.rows[i].samples.size());
    for (size_t j = 0; j < a.rows[i].samples.size(); ++j) {
      const double x = a.rows[i].samples[j], y = b.rows[i].samples[j];
      EXPECT_TRUE(x == y || (std::isnan(x) && std::isnan(y))) << i << "," << j;
    }
  }
  EXPECT_EQ(b.context.kernel, a.context.kernel);
  EXPECT_EQ(h.IdOf(a), id);
  EXPECT_EQ(h.Find(std::to_string(id))->id, id);
  EXPECT_EQ(h.Find("/results/run-a")->id, id);
  EXPECT_EQ(h.Find("run-a")->id, id);
  EXPECT_FALSE(h.Find("run-b"));
}

TEST_F(HistoryTest, RecordingAgainReplacesRowsAndKeepsIdAndVerdict) {
  History h(path_);
  Result a = testing::ReportFixture();
  const int64_t id = h.Record(a, "/r/a");
  h.SetVerdict(id, "ok");
  a.rows.resize(2);
  a.status = RunStatus::kComplete;
  EXPECT_EQ(h.Record(a, "/r/a"), id);
  EXPECT_EQ(h.List().size(), 1u);
  EXPECT_EQ(h.List()[0].verdict, "ok");
  EXPECT_EQ(h.List()[0].status, "complete");
  EXPECT_EQ(h.Load(id).rows.size(), 2u);
  EXPECT_EQ(h.Trend("sync.rules", "iptables-legacy", 1000, {}, "p50", 0).size(), 0u);
}

TEST_F(HistoryTest, BaselineSkipsRegressionsIncompleteRunsAndLaterRuns) {
  History h(path_);
  const int64_t r1 = h.Record(RunAt("2026-01-01T00:00:00Z", 1.0), "/r/1");
  const int64_t r2 = h.Record(RunAt("2026-01-02T00:00:00Z", 1.1), "/r/2");
  const int64_t r3 = h.Record(RunAt("2026-01-03T00:00:00Z", 2.0), "/r/3");
  h.SetVerdict(r3, "regression");
  Result partial = RunAt("2026-01-04T00:00:00Z", 1.0);
  partial.status = RunStatus::kPartial;
  h.Record(partial, "/r/4");
  const int64_t r5 = h.Record(RunAt("2026-01-05T00:00:00Z", 1.0), "/r/5");

  auto b = h.BaselineFor("fixture", 5, "2026-01-05T00:00:00Z", r5);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->run_ids, (std::vector<int64_t>{r2, r1}));
  EXPECT_EQ(b->result.context.started_at, "2026-01-02T00:00:00Z");
  // Pooled: the rows of both runs.
  EXPECT_EQ(b->result.rows.size(), 2 * testing::ReportFixture().rows.size());
  b = h.BaselineFor("fixture", 1, "", r5);
  EXPECT_EQ(b->run_ids, (std::vector<int64_t>{r2}));
  EXPECT_FALSE(h.BaselineFor("fixture", 5, "2026-01-01T00:00:00Z", std::nullopt));
  EXPECT_FALSE(h.BaselineFor("other", 5, "", std::nullopt));
}

TEST_F(HistoryTest, TrendIsOldestFirstPerLabelSet) {
  History h(path_);
  h.Record(RunAt("2026-01-02T00:00:00Z", 2.0), "/r/2");
  h.Record(RunAt("2026-01-01T00:00:00Z", 1.0), "/r/1");
  h.Record(RunAt("2026-01-03T00:00:00Z", 3.0), "/r/3");
  auto t = h.Trend("sync.full.wall", "iptables-legacy", 1000, {{"state", "cold"}}, "p50", 0);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].started_at, "2026-01-01T00:00:00Z");
  EXPECT_NEAR(t[0].value, 0.11, 1e-12);
  EXPECT_NEAR(t[2].value, 0.33, 1e-12);
  EXPECT_EQ(t[0].n, 3u);
  t = h.Trend("sync.full.wall", "iptables-legacy", 1000, {}, "max", 2);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].started_at, "2026-01-02T00:00:00Z");
  EXPECT_NEAR(t[1].value, 0.36, 1e-12);
  EXPECT_TRUE(
      h.Trend("sync.full.wall", "iptables-legacy", 1000, {{"state", "warm"}}, "p50", 0).empty());
}

TEST_F(HistoryTest, UnopenablePathNamesTheCall) {
  try {
    History h("/proc/no/such/dir/history.sqlite");
    FAIL() << "opened";
  } catch (const std::exception& e) {
    // Either the directory or the database cannot be created; both say where.
    EXPECT_NE(std::string(e.what()).find("/proc/no/such/dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace svcbench
