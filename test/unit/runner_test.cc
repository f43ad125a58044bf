#include "harness/measure/runner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "harness/util/interrupt.h"
#include "test/fake_driver.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;
using testing::FakeDriver;

class FakeTestbed : public Testbed {
 public:
  explicit FakeTestbed(FakeDriver* d) : d_(d) {}
  Driver& driver() override { return *d_; }

 private:
  FakeDriver* d_;
};

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/svcbench-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_; }

 private:
  std::string path_;
};

Scenario SmallScenario() {
  Scenario sc;
  sc.name = "unit";
  sc.backends = {"a", "b"};
  sc.services = {10, 20};
  sc.endpoints_per_service = 2;
  sc.sync = SyncOptions{3};
  sc.source_yaml = "name: unit\n";
  return sc;
}

// Owns one FakeDriver per (backend, size) and logs the order of all driver calls.
struct Fakes {
  std::map<std::string, std::unique_ptr<FakeDriver>> drivers;
  std::vector<std::string> order;
  std::string fail_backend;
  int fail_on_sync = -1;
  std::string setup_fail_backend;
  bool timeout = false;

  TestbedFactory Factory() {
    return [this](const std::string& backend, int, const GeneratorSpec& spec) {
      if (backend == setup_fail_backend) throw std::runtime_error("no such tool");
      auto d = std::make_unique<FakeDriver>(backend);
      if (backend == fail_backend) {
        d->fail_on_sync_number = fail_on_sync;
        d->fail_with_timeout = timeout;
      }
      FakeDriver* raw = d.get();
      drivers[backend + "/" + std::to_string(spec.services)] = std::move(d);
      return std::make_unique<FakeTestbed>(raw);
    };
  }
};

const ResultRow* Find(const Result& r, const std::string& backend, uint32_t n,
                      const std::string& metric, const std::string& state = "") {
  for (const auto& row : r.rows) {
    if (row.backend != backend || row.services != n || row.metric != metric) continue;
    if (!state.empty() && row.labels.count("state") && row.labels.at("state") != state) continue;
    return &row;
  }
  return nullptr;
}

TEST(Runner, CompleteRunWritesEveryCell) {
  TempDir tmp;
  Fakes fakes;
  RunOptions opts;
  opts.out_dir = tmp.path() + "/run";
  const RunOutcome out = RunScenario(SmallScenario(), opts, fakes.Factory(), Context{});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.result.status, RunStatus::kComplete);
  for (const char* b : {"a", "b"}) {
    for (uint32_t n : {10u, 20u}) {
      const ResultRow* cold = Find(out.result, b, n, "sync.full.wall", "cold");
      ASSERT_NE(cold, nullptr) << b << " " << n;
      EXPECT_EQ(cold->samples.size(), 3u);
      EXPECT_EQ(cold->labels.at("state"), "cold");
      const ResultRow* rules = Find(out.result, b, n, "sync.rules");
      ASSERT_NE(rules, nullptr);
      EXPECT_EQ(rules->samples.front(), n);
      // Each repetition is clear, cold sync, warm sync.
      const auto& log = fakes.drivers[std::string(b) + "/" + std::to_string(n)]->log;
      EXPECT_EQ(log, (std::vector<std::string>{
                         "clear", "sync " + std::to_string(n), "sync " + std::to_string(n), "clear",
                         "sync " + std::to_string(n), "sync " + std::to_string(n), "clear",
                         "sync " + std::to_string(n), "sync " + std::to_string(n)}));
    }
  }
  EXPECT_TRUE(fs::exists(opts.out_dir + "/result.json"));
  EXPECT_TRUE(fs::exists(opts.out_dir + "/summary.md"));
  EXPECT_TRUE(fs::exists(opts.out_dir + "/scenario.yaml"));
  std::ifstream in(opts.out_dir + "/result.json");
  const Result back = ResultFromJson(nlohmann::json::parse(in));
  EXPECT_EQ(back.status, RunStatus::kComplete);
  EXPECT_EQ(back.rows.size(), out.result.rows.size());
  EXPECT_FALSE(back.context.finished_at.empty());
}

TEST(Runner, FailingCellIsRecordedAndTheSweepGoesOn) {
  TempDir tmp;
  Fakes fakes;
  fakes.fail_backend = "a";
  fakes.fail_on_sync = 2;  // the cold sync of the second repetition
  RunOptions opts;
  opts.out_dir = tmp.path() + "/run";
  const RunOutcome out = RunScenario(SmallScenario(), opts, fakes.Factory(), Context{});
  EXPECT_EQ(out.exit_code, 4);
  EXPECT_EQ(out.result.status, RunStatus::kPartial);
  // The repetition before the failure is kept; the error is its own row.
  const ResultRow* cold = Find(out.result, "a", 10, "sync.full.wall", "cold");
  ASSERT_NE(cold, nullptr);
  EXPECT_EQ(cold->samples.size(), 1u);
  bool saw_error = false;
  for (const auto& row : out.result.rows) {
    if (row.backend == "a" && row.services == 10 && row.error) {
      saw_error = true;
      EXPECT_NE(row.error->find("injected failure"), std::string::npos);
    }
  }
  EXPECT_TRUE(saw_error);
  // The other backend and the next size ran in full.
  ASSERT_NE(Find(out.result, "b", 10, "sync.full.wall", "cold"), nullptr);
  EXPECT_EQ(Find(out.result, "b", 10, "sync.full.wall", "cold")->samples.size(), 3u);
  ASSERT_NE(Find(out.result, "a", 20, "sync.full.wall", "cold"), nullptr);
}

TEST(Runner, TimeoutSkipsTheLargerSizesOfThatBackendOnly) {
  TempDir tmp;
  Fakes fakes;
  fakes.fail_backend = "a";
  fakes.fail_on_sync = 0;
  fakes.timeout = true;
  RunOptions opts;
  opts.out_dir = tmp.path() + "/run";
  const RunOutcome out = RunScenario(SmallScenario(), opts, fakes.Factory(), Context{});
  EXPECT_EQ(out.result.status, RunStatus::kPartial);
  std::vector<std::string> errors;
  for (const auto& row : out.result.rows) {
    if (row.error)
      errors.push_back(row.backend + "/" + std::to_string(row.services) + ": " + *row.error);
  }
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("a/10: a: injected timeout"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("a/20: skipped: a sync timed out at 10 services"), std::string::npos)
      << errors[1];
  // The larger size of "a" never built a testbed; "b" ran everything.
  EXPECT_EQ(fakes.drivers.count("a/20"), 0u);
  EXPECT_EQ(Find(out.result, "b", 20, "sync.full.wall", "cold")->samples.size(), 3u);
}

TEST(Runner, SetupFailureIsACellError) {
  TempDir tmp;
  Fakes fakes;
  fakes.setup_fail_backend = "b";
  RunOptions opts;
  opts.out_dir = tmp.path() + "/run";
  const RunOutcome out = RunScenario(SmallScenario(), opts, fakes.Factory(), Context{});
  EXPECT_EQ(out.result.status, RunStatus::kPartial);
  int errors = 0;
  for (const auto& row : out.result.rows) {
    if (row.error) {
      ++errors;
      EXPECT_EQ(row.backend, "b");
      EXPECT_NE(row.error->find("setup: no such tool"), std::string::npos);
    }
  }
  EXPECT_EQ(errors, 2);  // one per size point
  EXPECT_EQ(Find(out.result, "a", 20, "sync.full.wall", "warm")->samples.size(), 3u);
}

// Latency and throughput probe real namespaces; on a testbed without a lab they fail their
// cell with a row that says so, after sync's rows, and the run goes on.
TEST(Runner, ProbingMeasurementsWithoutALabAreCellErrors) {
  TempDir tmp;
  Fakes fakes;
  Scenario sc = SmallScenario();
  sc.latency = LatencyOptions{};
  sc.latency->probes = {"tcp-connect"};
  sc.throughput = ThroughputOptions{};
  RunOptions opts;
  opts.out_dir = tmp.path() + "/run";
  const RunOutcome out = RunScenario(sc, opts, fakes.Factory(), Context{});
  EXPECT_EQ(out.result.status, RunStatus::kPartial);
  const ResultRow* err = Find(out.result, "a", 10, "latency.rtt");
  ASSERT_NE(err, nullptr);
  ASSERT_TRUE(err->error.has_value());
  EXPECT_NE(err->error->find("latency needs a lab"), std::string::npos) << *err->error;
  EXPECT_EQ(Find(out.result, "b", 20, "sync.full.wall", "cold")->samples.size(), 3u);
  EXPECT_EQ(ScenarioJson(sc)["measurements"]["latency"]["samples"], 5000);
  EXPECT_EQ(ScenarioJson(sc)["measurements"]["throughput"]["concurrency"], 8);
}

TEST(Runner, RepetitionsOfBackendsAreInterleaved) {
  TempDir tmp;
  std::vector<std::string> calls;
  struct LoggingDriver : FakeDriver {
    LoggingDriver(std::string n, std::vector<std::string>* c) : FakeDriver(n), calls(c) {}
    void Clear() override {
      calls->push_back(std::string(Name()));
      FakeDriver::Clear();
    }
    std::vector<std::string>* calls;
  };
  std::vector<std::unique_ptr<LoggingDriver>> keep;
  TestbedFactory f = [&](const std::string& b, int, const GeneratorSpec&) {
    keep.push_back(std::make_unique<LoggingDriver>(b, &calls));
    return std::make_unique<FakeTestbed>(keep.back().get());
  };
  Scenario sc = SmallScenario();
  sc.services = {10};
  RunOptions opts;
  opts.out_dir = tmp.path() + "/run";
  RunScenario(sc, opts, f, Context{});
  // Rotating start: a b, b a, a b.
  EXPECT_EQ(calls, (std::vector<std::string>{"a", "b", "b", "a", "a", "b"}));
}

}  // namespace
}  // namespace svcbench
