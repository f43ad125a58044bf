// The analysis commands through the real binary (no root needed): exit codes and what they
// print, on run directories written by the test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "harness/report/reporter.h"
#include "harness/util/process.h"
#include "test/unit/report_fixture.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;
using testing::Row;

class AnalysisCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/svcbench-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A run directory holding `r` as result.json.
  std::string WriteRun(const std::string& name, const Result& r) {
    const fs::path d = fs::path(dir_) / name;
    fs::create_directories(d);
    WriteFileAtomic((d / "result.json").string(), ToJson(r).dump(1));
    return d.string();
  }

  static SpawnResult Svcbench(std::vector<std::string> args) {
    SpawnOptions o;
    o.argv = {SVCBENCH_BINARY};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.timeout_s = 60;
    return Spawn(o);
  }

  std::string dir_;
};

// Five samples per cell, so the U test can decide at alpha 0.05.
Result Sweep(double scale_rules = 1.0, int reps = 5) {
  Result r;
  r.scenario = {{"name", "cli"}, {"backends", {"iptables-legacy", "iptables-nft"}}};
  r.context.kernel = "Linux 6.1";
  r.context.build_type = "Release";
  r.context.started_at = "2026-01-01T00:00:00Z";
  for (const char* b : {"iptables-legacy", "iptables-nft"}) {
    for (const uint32_t n : {1000u, 2000u, 5000u}) {
      std::vector<double> wall, rules;
      for (int i = 0; i < reps; ++i) {
        wall.push_back(0.01 + 1e-6 * n * (1 + 0.01 * i));
        rules.push_back(8.0 * n * (std::string(b) == "iptables-nft" ? scale_rules : 1.0) + i);
      }
      r.rows.push_back(Row(b, n, "sync.full.wall", "s", {{"state", "cold"}}, wall));
      r.rows.push_back(Row(b, n, "sync.render.wall", "s", {}, rules));
    }
  }
  return r;
}

TEST_F(AnalysisCli, CompareSameSamplesExitsZero) {
  const std::string a = WriteRun("a", Sweep()), b = WriteRun("b", Sweep());
  const SpawnResult r = Svcbench({"compare", a, b});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no regression"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 worse"), std::string::npos) << r.out;
}

TEST_F(AnalysisCli, CompareThirtyPercentWorseExitsOneNamingTheMetric) {
  const std::string a = WriteRun("a", Sweep()), b = WriteRun("b", Sweep(1.3));
  const std::string json = (fs::path(dir_) / "verdict.json").string();
  const SpawnResult r = Svcbench({"compare", a, b, "--json", json});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // Every iptables-nft sync.render.wall cell, and nothing else.
  size_t worse = 0;
  for (size_t pos = 0; (pos = r.out.find("| **worse** |", pos)) != std::string::npos; ++pos) {
    const std::string line = r.out.substr(pos, r.out.find('\n', pos) - pos);
    EXPECT_NE(line.find("| iptables-nft |"), std::string::npos) << line;
    EXPECT_NE(line.find("| sync.render.wall |"), std::string::npos) << line;
    ++worse;
  }
  EXPECT_EQ(worse, 3u) << r.out;
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("verdict"), "regression");
}

TEST_F(AnalysisCli, CompareTooFewSamples) {
  const std::string a = WriteRun("a", Sweep(1.0, 2)), b = WriteRun("b", Sweep(2.0, 2));
  const SpawnResult r = Svcbench({"compare", a, b});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("too few samples"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("**worse**"), std::string::npos) << r.out;
}

TEST_F(AnalysisCli, CompareBadUsageExitsTwo) {
  const std::string a = WriteRun("a", Sweep());
  EXPECT_EQ(Svcbench({"compare", a}).exit_code, 2);
  EXPECT_EQ(Svcbench({"compare", a, a, "--threshold", "lots"}).exit_code, 2);
  EXPECT_EQ(Svcbench({"compare", a, dir_ + "/missing"}).exit_code, 2);
  EXPECT_EQ(Svcbench({"compare", a, "--against", "yesterday"}).exit_code, 2);
}

TEST_F(AnalysisCli, CompareAgainstHistoryRecordsVerdicts) {
  const std::string db = dir_ + "/history.sqlite";
  Result first = Sweep();
  const std::string a = WriteRun("a", first);
  SpawnResult r =
      Svcbench({"compare", a, "--against", "history", "--history", db, "--record-verdict"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no baseline"), std::string::npos) << r.out;
  Result second = Sweep(1.3);
  second.context.started_at = "2026-01-02T00:00:00Z";
  const std::string b = WriteRun("b", second);
  r = Svcbench({"compare", b, "--against", "history", "--history", db, "--record-verdict"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("history " + db + " (1 run: #1)"), std::string::npos) << r.out;
  r = Svcbench({"history", "list", "--history", db});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("regression"), std::string::npos) << r.out;
  // A third run like the first compares with the first only: the regressed one is no baseline.
  Result third = Sweep();
  third.context.started_at = "2026-01-03T00:00:00Z";
  const std::string c = WriteRun("c", third);
  r = Svcbench({"compare", c, "--against", "history", "--history", db, "--record-verdict"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("(1 run: #1)"), std::string::npos) << r.out;
}

TEST_F(AnalysisCli, RecommendAndReport) {
  const std::string a = WriteRun("a", Sweep());
  SpawnResult r = Svcbench({"recommend", a, "--slo", "sync.full.wall.p50<=13ms", "--at", "2000"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // 10 ms + 1 ms per 1000 services (p50 at +2%): 13 ms at about 2,940 services.
  EXPECT_NE(r.out.find("| iptables-legacy | 2,940 |"), std::string::npos) << r.out;
  r = Svcbench({"recommend", a, "--slo", "sync.full.wall.p50<=13ms", "--at", "4000"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Svcbench({"recommend", a, "--slo", "sync.full.wall.p50<<1s"}).exit_code, 2);

  r = Svcbench({"report", a});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* f : {"summary.md", "samples.csv", "benchmark.json", "metrics.prom"}) {
    EXPECT_TRUE(fs::exists(fs::path(a) / f)) << f;
  }
  EXPECT_EQ(Svcbench({"report", a, "--format", "pdf"}).exit_code, 2);
}

// compare.py from Debian's libbenchmark-tools reads benchmark.json and runs its U test.
TEST_F(AnalysisCli, GoogleBenchmarkComparePyAcceptsBenchmarkJson) {
  const char* compare_py = "/usr/share/benchmark/compare.py";
  if (!fs::exists(compare_py))
    GTEST_SKIP() << compare_py << " missing (apt-get install libbenchmark-tools)";
  // compare.py needs scipy; Debian's python3-scipy is for /usr/bin/python3.
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  SpawnOptions probe;
  probe.argv = {python, "-c", "import scipy"};
  if (!Spawn(probe).Ok()) GTEST_SKIP() << python << " has no scipy (apt-get install python3-scipy)";
  const std::string a = WriteRun("a", Sweep()), b = WriteRun("b", Sweep(1.3));
  ASSERT_EQ(Svcbench({"report", a, "--format", "gbench"}).exit_code, 0);
  ASSERT_EQ(Svcbench({"report", b, "--format", "gbench"}).exit_code, 0);
  SpawnOptions o;
  o.argv = {
      python, compare_py, "--no-color", "benchmarks", a + "/benchmark.json", b + "/benchmark.json"};
  const SpawnResult r = Spawn(o);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // The 30% slower render of iptables-nft at 5000 services shows as +0.3, with a U test.
  const std::string name = "iptables-nft/sync.render.wall/services:5000/endpoints:2";
  const size_t pos = r.out.find(name + " ");
  ASSERT_NE(pos, std::string::npos) << r.out;
  const std::string line = r.out.substr(pos, r.out.find('\n', pos) - pos);
  EXPECT_NE(line.find(" +0.3000 "), std::string::npos) << line;
  EXPECT_NE(r.out.find(name + "_pvalue"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace svcbench
