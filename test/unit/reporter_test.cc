#include "harness/report/reporter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "harness/report/plots.h"
#include "harness/util/process.h"
#include "test/unit/report_fixture.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

const fs::path kGolden = fs::path(SVCBENCH_SOURCE_DIR) / "test/fixtures/golden/report";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/svcbench-report-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every reporter's files for the fixture, against test/fixtures/golden/report/<reporter>/.
// After an intended change: SVCBENCH_UPDATE_GOLDEN=1 ./build/test/svcbench_unit_tests
// --gtest_filter='Reporter*', then read the diff before committing it.
class ReporterGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ReporterGolden, MatchesGoldenFiles) {
  const auto rep = MakeReporter(GetParam());
  ASSERT_NE(rep, nullptr);
  const std::vector<ReportFile> files = rep->Render(testing::ReportFixture());
  ASSERT_FALSE(files.empty());
  const fs::path dir = kGolden / GetParam();
  const char* update = std::getenv("SVCBENCH_UPDATE_GOLDEN");
  if (update && *update == '1') {
    fs::remove_all(dir);
    for (const ReportFile& f : files) {
      fs::create_directories((dir / f.path).parent_path());
      std::ofstream(dir / f.path, std::ios::binary) << f.content;
    }
  }
  std::set<std::string> expected;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) expected.insert(fs::relative(e.path(), dir).string());
  }
  std::set<std::string> got;
  for (const ReportFile& f : files) {
    got.insert(f.path);
    EXPECT_EQ(f.content, Slurp(dir / f.path)) << GetParam() << ": " << f.path;
  }
  EXPECT_EQ(got, expected) << "files differ from " << dir;
}

INSTANTIATE_TEST_SUITE_P(All, ReporterGolden, ::testing::ValuesIn(ReporterNames()),
                         [](const auto& info) { return info.param; });

// metrics.prom parses as OpenMetrics and as Prometheus text (what node_exporter's textfile
// collector reads), with the parsers of Debian's python3-prometheus-client.
TEST(Reporter, OpenMetricsParses) {
  SpawnOptions o;
  o.argv = {
      fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3", "-c",
      "import sys\n"
      "from prometheus_client.openmetrics.parser import text_string_to_metric_families as om\n"
      "from prometheus_client.parser import text_string_to_metric_families as prom\n"
      "t = sys.stdin.read()\n"
      "a = [f.name for f in om(t)]\n"
      "b = [f.name for f in prom(t)]\n"
      "print(len(a), len(b), ' '.join(a))\n"};
  SpawnOptions probe = o;
  probe.argv = {o.argv[0], "-c", "import prometheus_client"};
  if (!Spawn(probe).Ok())
    GTEST_SKIP() << "no prometheus_client (apt-get install python3-prometheus-client)";
  const auto rep = MakeReporter("openmetrics");
  o.stdin_data = rep->Render(testing::ReportFixture()).at(0).content;
  const SpawnResult r = Spawn(o);
  ASSERT_TRUE(r.Ok()) << r.err;
  EXPECT_EQ(r.out,
            "7 7 svcbench_run_info svcbench_sync_full_wall_seconds svcbench_sync_payload_bytes "
            "svcbench_sync_rules svcbench_latency_overhead_seconds "
            "svcbench_throughput_connections_per_second svcbench_cell_error\n");
}

TEST(Reporter, UnknownNameIsRefused) {
  EXPECT_EQ(MakeReporter("xml"), nullptr);
  EXPECT_THROW(WriteReports(testing::ReportFixture(), "/nonexistent", {"xml"}),
               std::invalid_argument);
}

TEST(Reporter, PlotsFollowTheRows) {
  // A chart per (metric, labels); CDFs only where a cell has enough samples (latency here).
  std::set<std::string> stems;
  for (const PlotScript& p : PlotScripts(testing::ReportFixture())) stems.insert(p.stem);
  EXPECT_TRUE(stems.count("sync.full.wall_state-cold"));
  EXPECT_TRUE(stems.count("latency.overhead_position-last_probe-tcp-connect"));
  EXPECT_TRUE(stems.count("latency.overhead_position-last_probe-tcp-connect.cdf"));
  EXPECT_TRUE(stems.count("throughput.connections"));
  EXPECT_FALSE(stems.count("sync.full.wall_state-cold.cdf"));
  EXPECT_EQ(stems.size(), 6u);
}

// The default set writes every output but result.json, and gnuplot (when installed) draws a
// PNG and an SVG for every script.
TEST(Reporter, WritesEveryOutputAndDrawsPlots) {
  TempDir dir;
  const Result r = testing::ReportFixture();
  const ReportOutcome out = WriteReports(r, dir.path());
  EXPECT_EQ(out.written.size(), ReporterNames().size() - 1);
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "result.json"));
  for (const char* f : {"summary.md", "samples.csv", "benchmark.json", "metrics.prom",
                        "SvcbenchMetrics_fixture_2026-01-02T03:04:05Z.json"}) {
    EXPECT_TRUE(fs::exists(fs::path(dir.path()) / f)) << f;
  }
  if (!HaveCommand("gnuplot")) GTEST_SKIP() << "gnuplot not installed: scripts only";
  EXPECT_TRUE(out.warnings.empty()) << out.warnings.front();
  for (const PlotScript& p : PlotScripts(r)) {
    const fs::path base = fs::path(dir.path()) / "plots" / p.stem;
    const std::string png = Slurp(base.string() + ".png");
    ASSERT_GE(png.size(), 8u) << base;
    EXPECT_EQ(png.substr(1, 3), "PNG") << base;
    EXPECT_NE(Slurp(base.string() + ".svg").find("<svg"), std::string::npos) << base;
  }
  // Temporary names were renamed away.
  for (const auto& e : fs::directory_iterator(fs::path(dir.path()) / "plots")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

TEST(Reporter, BrokenPlotScriptIsAWarningNotAFile) {
  if (!HaveCommand("gnuplot")) GTEST_SKIP() << "gnuplot not installed";
  TempDir dir;
  PlotScript bad{"broken", "if (!exists(\"out\")) out = 'broken'\nthis is not gnuplot\n"};
  std::ofstream(fs::path(dir.path()) / "broken.gp") << bad.script;
  const std::vector<std::string> w = DrawPlots(dir.path(), {bad});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("broken.gp"), std::string::npos);
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "broken.png"));
}

}  // namespace
}  // namespace svcbench
