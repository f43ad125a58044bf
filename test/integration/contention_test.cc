// The contention measurement's lock timing, as root: libsvcbench_locktrace.so preloaded into real
// iptables processes that meet a lock this test holds for a known time, and a short CLI run of
// the measurement on every backend it compares. Every lock here is a private file.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness/measure/contention_writers.h"
#include "harness/measure/lock_trace.h"
#include "harness/util/process.h"
#include "harness/util/unique_fd.h"
#include "test/integration/test_support.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;
using testing::ProcessTempSubdir;
using testing::TestNetns;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Holds flock(LOCK_EX) on `path` from construction for `hold`, on a thread of its own, and
// records when it took and released it (the steady clock is CLOCK_MONOTONIC, the library's).
class LockHolder {
 public:
  LockHolder(const std::string& path, std::chrono::milliseconds hold) {
    fd_.Reset(::open(path.c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0600));
    if (!fd_.Valid() || ::flock(fd_.Get(), LOCK_EX | LOCK_NB) != 0) {
      ADD_FAILURE() << "cannot lock " << path;
      return;
    }
    taken_ns_ = NowNs();
    thread_ = std::thread([this, hold] {
      std::this_thread::sleep_for(hold);
      released_ns_ = NowNs();
      ::flock(fd_.Get(), LOCK_UN);
    });
  }
  ~LockHolder() {
    if (thread_.joinable()) thread_.join();
  }
  int64_t taken_ns() const { return taken_ns_; }
  // Valid after Join().
  int64_t released_ns() const { return released_ns_; }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  UniqueFd fd_;
  std::thread thread_;
  int64_t taken_ns_ = 0;
  int64_t released_ns_ = 0;
};

class ContentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces";
    if (!HaveCommand("iptables-legacy")) GTEST_SKIP() << "iptables-legacy not installed";
    library_ = LockTraceLibraryPath();
    ASSERT_FALSE(library_.empty()) << "libsvcbench_locktrace.so not built";
    dir_ = ProcessTempSubdir("contention");
    lock_ = dir_ + "/xtables.lock";
  }

  // Runs `argv` in `ns` with the preload library and the test's lock file; returns what it did
  // and its trace.
  std::pair<SpawnResult, LockTrace> Traced(const TestNetns& ns, std::vector<std::string> argv,
                                           std::string stdin_data = {}) {
    const std::string trace = fmt::format("{}/{}.trace", dir_, n_++);
    SpawnOptions o;
    o.argv = std::move(argv);
    o.stdin_data = std::move(stdin_data);
    o.netns_fd = ns.Fd();
    o.timeout_s = 60;
    o.extra_env = {"LD_PRELOAD=" + library_, std::string(kLockTraceEnv) + "=" + trace,
                   "XTABLES_LOCKFILE=" + lock_};
    SpawnResult r = Spawn(o);
    std::ifstream in(trace);
    std::stringstream text;
    text << in.rdbuf();
    fs::remove(trace);
    return {std::move(r), ParseLockTrace(text.str())};
  }

  std::string library_, dir_, lock_;
  int n_ = 0;
};

TEST_F(ContentionTest, WaitCoversTheTimeTheTestHeldTheLock) {
  TestNetns ns;
  // Started while the test holds the lock for 1 s; -w 5 outlasts it.
  LockHolder holder(lock_, std::chrono::milliseconds(1000));
  const auto [r, t] =
      Traced(ns, {"iptables-legacy", "-w", "5", "-W", "100000", "-t", "filter", "-L", "-n"});
  holder.Join();
  ASSERT_TRUE(r.Ok()) << r.Describe("iptables-legacy");
  ASSERT_TRUE(t.pid);
  EXPECT_EQ(t.lock_path, fs::weakly_canonical(lock_).string());
  ASSERT_TRUE(t.first_attempt_ns && t.acquired_ns && t.exit_ns);
  // It asked while the test held the lock, and got it only after the test let go.
  EXPECT_GT(*t.first_attempt_ns, holder.taken_ns());
  EXPECT_LT(*t.first_attempt_ns, holder.released_ns());
  EXPECT_GE(*t.acquired_ns, holder.released_ns());
  EXPECT_LE(*t.acquired_ns, *t.exit_ns);
  // So its wait covers the overlap of its attempt with the test's hold.
  ASSERT_TRUE(t.WaitS());
  EXPECT_GE(*t.WaitS(), static_cast<double>(holder.released_ns() - *t.first_attempt_ns) / 1e9);
  ASSERT_TRUE(t.HoldS());
  EXPECT_GT(*t.HoldS(), 0.0);
  EXPECT_EQ(contention::Classify(contention::Family::kXtablesLegacy, contention::Op::kCheck, r),
            contention::Outcome::kOk);
}

TEST_F(ContentionTest, RestoreReleasesTheLockAtCommitBeforeItExits) {
  TestNetns ns;
  LockHolder holder(lock_, std::chrono::milliseconds(300));
  const auto [r, t] = Traced(ns, {"iptables-legacy-restore", "-w", "5", "--noflush"},
                             "*filter\n:SVCB-T - [0:0]\n-A SVCB-T -j RETURN\nCOMMIT\n");
  holder.Join();
  ASSERT_TRUE(r.Ok()) << r.Describe("iptables-legacy-restore");
  ASSERT_TRUE(t.acquired_ns && t.released_ns && t.exit_ns);
  EXPECT_GE(*t.acquired_ns, holder.released_ns());
  EXPECT_LE(*t.released_ns, *t.exit_ns);  // close() after COMMIT, not the exit
  EXPECT_GE(*t.WaitS(), static_cast<double>(holder.released_ns() - *t.first_attempt_ns) / 1e9);
}

TEST_F(ContentionTest, HolderThatOutlastsWIsCountedAsATimeout) {
  TestNetns ns;
  // The test holds the lock for 3 s; the writer waits at most 1 s.
  LockHolder holder(lock_, std::chrono::milliseconds(3000));
  const auto [r, t] =
      Traced(ns, {"iptables-legacy", "-w", "1", "-W", "100000", "-t", "filter", "-L", "-n"});
  const int64_t writer_done_ns = NowNs();
  holder.Join();
  EXPECT_EQ(r.exit_code, 4) << r.Describe("iptables-legacy");
  EXPECT_EQ(contention::Classify(contention::Family::kXtablesLegacy, contention::Op::kCheck, r),
            contention::Outcome::kLockTimeout);
  EXPECT_LT(writer_done_ns, holder.released_ns());  // it gave up while the lock was still held
  EXPECT_FALSE(t.TookLock());
  ASSERT_TRUE(t.failed_ns);
  EXPECT_EQ(t.failed_errno, EINTR);  // alarm(1) cut the blocking flock short
  EXPECT_LT(*t.failed_ns, holder.released_ns());
  ASSERT_TRUE(t.WaitS());
  EXPECT_GT(*t.WaitS(), 0.0);
  EXPECT_FALSE(t.HoldS());
}

TEST_F(ContentionTest, NftBatchesAreCounted) {
  if (!HaveCommand("iptables-nft")) GTEST_SKIP() << "iptables-nft not installed";
  TestNetns ns;
  const auto [created, t0] = Traced(ns, {"iptables-nft", "-w", "5", "-t", "filter", "-N", "X"});
  ASSERT_TRUE(created.Ok()) << created.Describe("iptables-nft");
  EXPECT_EQ(t0.batches, 1);
  EXPECT_EQ(t0.Retries(), 0);
  EXPECT_FALSE(t0.TookLock());  // iptables-nft takes no xtables lock
  // It read the ruleset generation around its cache read; nobody else wrote meanwhile.
  EXPECT_GE(t0.generations_read, 2);
  EXPECT_EQ(t0.Restarts(), 0);
  const auto [checked, t1] =
      Traced(ns, {"iptables-nft", "-w", "5", "-t", "filter", "-C", "X", "-j", "RETURN"});
  EXPECT_EQ(checked.exit_code, 1);
  EXPECT_EQ(t1.batches, 0);  // a check reads; it sends no transaction
}

// ---- The measurement through the CLI ----------------------------------------------------------

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

TEST_F(ContentionTest, ShortRunOnEveryComparedBackendUsesThePrivateLock) {
  for (const char* tool : {"iptables-legacy-restore", "iptables-nft-restore", "nft"}) {
    if (!HaveCommand(tool)) GTEST_SKIP() << tool << " not installed";
  }
  const std::string out = ProcessTempSubdir("contention-run") + "/run";
  // Default lock (private): the measurement itself fails the cell when any traced writer took
  // another lock file than the run's, so a complete run with lock rows proves the host's
  // /run/xtables.lock was not taken by a writer.
  const std::string cmd = std::string(SVCBENCH_BINARY) + " run " + SVCBENCH_SOURCE_DIR +
                          "/scenarios/contention.yaml --set sweep.services=[30]"
                          " --set measurements.contention.duration=1s"
                          " --set measurements.contention.contenders=2"
                          " --set measurements.contention.timeout=60s --out " +
                          out + " 2>&1";
  const std::string log = Capture(cmd);
  std::ifstream in(out + "/result.json");
  ASSERT_TRUE(in) << log;
  const nlohmann::json r = nlohmann::json::parse(in);
  EXPECT_EQ(r.at("status"), "complete") << log;
  EXPECT_EQ(r.at("scenario").at("xtables").at("lock"), "private");
  // backend -> "metric{writer,op}" present
  std::map<std::string, std::set<std::string>> seen;
  for (const auto& row : r.at("results")) {
    EXPECT_TRUE(row.at("error").is_null()) << row.dump();
    const auto& labels = row.at("labels");
    auto label = [&](const char* name) {
      return labels.contains(name) ? fmt::format("/{}", labels.at(name).get<std::string>())
                                   : std::string();
    };
    const std::string key =
        fmt::format("{}{}{}", row.at("metric").get<std::string>(), label("writer"), label("op"));
    seen[row.at("backend").get<std::string>()].insert(key);
    if (row.at("metric") == "contention.big_incomplete") {
      EXPECT_EQ(row.at("samples").at(0).get<double>(), 0.0) << row.dump();
    }
  }
  auto has = [&](const std::string& backend, const std::string& key) {
    return seen[backend].count(key) == 1;
  };
  // Legacy: lock waits and holds of both writers, and the parse-only restore beside them.
  for (const char* k :
       {"contention.lock_wait/small/check", "contention.lock_wait/small/write",
        "contention.lock_hold/big", "contention.lock_hold/big-test",
        "contention.lock_hold/big-alone", "contention.call.wall/big", "contention.timeouts/small",
        "contention.failures/big", "contention.big.payload.bytes"}) {
    EXPECT_TRUE(has("iptables-legacy", k)) << k << "\n" << log;
  }
  // iptables-nft takes no lock: its transactions are counted instead.
  EXPECT_FALSE(has("iptables-nft", "contention.lock_wait/small/check"));
  EXPECT_TRUE(has("iptables-nft", "contention.retries/big")) << log;
  EXPECT_TRUE(has("iptables-nft", "contention.kernel_wait/small/write")) << log;
  // nftables: the in-process driver is the big writer; nft calls are the small ones.
  EXPECT_TRUE(has("nftables", "contention.call.wall/big")) << log;
  EXPECT_TRUE(has("nftables", "contention.kernel_wait/small/write")) << log;
  EXPECT_FALSE(has("nftables", "contention.lock_wait/small/write"));
}

}  // namespace
}  // namespace svcbench
