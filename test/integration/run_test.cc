// The CLI end to end, as root: a small smoke run, an interrupted run, and the host left alone.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness/lab/lab.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// The host's own rules, as every tool that could see a change reports them.
std::string HostRules() {
  return Capture("iptables-legacy-save -t nat 2>&1 | grep -v '^#'") +
         Capture("iptables-nft-save 2>&1 | grep -v '^#'") + Capture("nft list ruleset 2>&1");
}

// The run id svcbench prints first ("svcbench: run <id> of scenario ..."), or "".
std::string RunId(const std::string& log) {
  static const std::regex kRun("svcbench: run ([0-9a-f]+) of scenario");
  std::smatch m;
  return std::regex_search(log, m, kRun) ? m[1].str() : "";
}

// Namespaces of one run: the machine may be shared with other runs, whose namespaces come and
// go on their own.
std::set<std::string> NamespacesOfRun(const std::string& run_id) {
  std::set<std::string> out;
  for (const auto& n : ListLabNamespaces()) {
    if (n.rfind("svcb-" + run_id + "-", 0) == 0) out.insert(n);
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/svcbench-run-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces";
  }
};

TEST_F(RunTest, SmokeRunWritesSyncMetricsForBothBackendsAndLeavesTheHostAlone) {
  TempDir tmp;
  const std::string out = tmp.path() + "/run";
  const std::string host_before = HostRules();
  const std::string cmd = std::string(SVCBENCH_BINARY) + " run " + SVCBENCH_SOURCE_DIR +
                          "/scenarios/smoke.yaml --set sweep.services=[200,400]"
                          " --set measurements.sync.repetitions=2 --out " +
                          out + " 2>&1";
  const std::string log = Capture(cmd);
  const nlohmann::json r = ReadJson(out + "/result.json");
  EXPECT_EQ(r.at("status"), "complete") << log;
  EXPECT_EQ(r.at("schema_version"), 1);
  EXPECT_FALSE(r.at("context").at("kernel").get<std::string>().empty());
  std::set<std::string> seen;
  for (const auto& row : r.at("results")) {
    EXPECT_TRUE(row.at("error").is_null()) << row.dump();
    if (row.at("metric") != "sync.full.wall") continue;
    seen.insert(row.at("backend").get<std::string>() + "/" +
                std::to_string(row.at("services").get<int>()) + "/" +
                row.at("labels").at("state").get<std::string>());
    EXPECT_EQ(row.at("samples").size(), 2u);
    EXPECT_GT(row.at("summary").at("p50").get<double>(), 0.0);
  }
  for (const char* b : {"iptables-legacy", "iptables-nft"}) {
    for (const char* n : {"200", "400"}) {
      for (const char* s : {"cold", "warm"}) {
        EXPECT_TRUE(seen.count(std::string(b) + "/" + n + "/" + s)) << b << " " << n << " " << s;
      }
    }
  }
  EXPECT_TRUE(fs::exists(out + "/summary.md"));
  EXPECT_TRUE(fs::exists(out + "/scenario.yaml"));
  const std::string run_id = RunId(log);
  ASSERT_FALSE(run_id.empty()) << log;
  EXPECT_TRUE(NamespacesOfRun(run_id).empty()) << "the run left namespaces behind";
  EXPECT_EQ(HostRules(), host_before) << "the host's rules changed";
}

TEST_F(RunTest, BadScenarioCreatesNothing) {
  TempDir tmp;
  const std::string out = tmp.path() + "/run";
  const std::string cmd = std::string(SVCBENCH_BINARY) + " run " + SVCBENCH_SOURCE_DIR +
                          "/scenarios/smoke.yaml --set workload.endpoints_per_service=0 --out " +
                          out + " >" + tmp.path() + "/log 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_FALSE(fs::exists(out));
  // Refused before a run id was even drawn: nothing can have been created.
  EXPECT_EQ(RunId(ReadFile(tmp.path() + "/log")), "");
}

TEST_F(RunTest, SigintMidRunRemovesEveryNamespaceAndSaysInterrupted) {
  TempDir tmp;
  const std::string out = tmp.path() + "/run";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Enough work that the run is surely still going when the signal comes.
    const std::string sizes = "--set=sweep.services=[2000,4000,8000]";
    const std::string reps = "--set=measurements.sync.repetitions=50";
    const std::string scenario = std::string(SVCBENCH_SOURCE_DIR) + "/scenarios/smoke.yaml";
    freopen("/dev/null", "w", stdout);
    freopen((tmp.path() + "/log").c_str(), "w", stderr);
    execl(SVCBENCH_BINARY, SVCBENCH_BINARY, "run", scenario.c_str(), sizes.c_str(), reps.c_str(),
          "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the run has built its first lab, then interrupt it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool saw_lab = false;
  std::string run_id;
  while (std::chrono::steady_clock::now() < deadline) {
    if (run_id.empty()) run_id = RunId(ReadFile(tmp.path() + "/log"));
    if (!run_id.empty() && !NamespacesOfRun(run_id).empty()) {
      saw_lab = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(saw_lab) << "the run never created a namespace";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 4);
  ASSERT_FALSE(run_id.empty());
  EXPECT_TRUE(NamespacesOfRun(run_id).empty()) << "namespaces left after SIGINT";
  const nlohmann::json r = ReadJson(out + "/result.json");
  EXPECT_EQ(r.at("status"), "interrupted");
}

}  // namespace
}  // namespace svcbench
