// The iptables-legacy and iptables-nft drivers against the real tools and kernel.
//
// Root only (skips with the reason otherwise). Every test works in its own network namespace,
// `svcb-it-<pid>-<n>`, removed when the test ends; xtables tools always get a private
// XTABLES_LOCKFILE. A global environment checks that the host's rulesets and its
// /run/xtables.lock are untouched by the whole run.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "drivers/iptables/iptables_driver.h"
#include "drivers/iptables/iptables_render.h"
#include "harness/model/generator.h"
#include "harness/util/process.h"
#include "test/integration/test_support.h"

namespace svcbench {
namespace {

using testing::Lines;

// Every test's namespaces carry this file's prefix, so a leftover names its test.
class TestNetns : public testing::TestNetns {
 public:
  TestNetns() : testing::TestNetns("svcb-it") {}
};

constexpr const char* kHostLock = "/run/xtables.lock";

const std::string& PrivateDir() {
  static const std::string dir = testing::ProcessTempSubdir("iptables");
  return dir;
}

std::string PrivateLock() { return PrivateDir() + "/xtables.lock"; }

SpawnResult RunIn(int netns_fd, std::vector<std::string> argv, std::string stdin_data = {}) {
  SpawnOptions opts;
  opts.argv = std::move(argv);
  opts.netns_fd = netns_fd;
  opts.extra_env = {"XTABLES_LOCKFILE=" + PrivateLock()};
  opts.stdin_data = std::move(stdin_data);
  opts.timeout_s = 120;
  return Spawn(opts);
}

// What `iptables-<v>-save -t nat` shows in a namespace.
struct NatTable {
  std::vector<std::string> rules;     // -A lines
  std::set<std::string> kube_chains;  // declared KUBE-* chains
  std::string text;
};

NatTable SaveNat(IptablesVariant v, int netns_fd) {
  const std::string tool(IptablesSaveCommand(v));
  const SpawnResult r = RunIn(netns_fd, {tool, "-t", "nat"});
  if (!r.Ok()) throw std::runtime_error(r.Describe(tool));
  NatTable t;
  for (const auto& line : Lines(r.out)) {
    if (line.starts_with("#")) continue;  // timestamps and warnings
    t.text += line + "\n";
    if (line.starts_with("-A ")) t.rules.push_back(line);
    if (line.starts_with(":KUBE-")) t.kube_chains.insert(line.substr(1, line.find(' ') - 1));
  }
  return t;
}

std::set<std::string> ExpectedKubeChains(const ServiceSet& set) {
  std::set<std::string> chains = {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING",
                                  "KUBE-MARK-MASQ"};
  for (auto& c : ServiceChainNames(set)) chains.insert(std::move(c));
  return chains;
}

ServiceSet Gen(uint32_t services, uint32_t endpoints, Protocol proto = Protocol::kTcp) {
  GeneratorSpec spec;
  spec.seed = 42;
  spec.services = services;
  spec.endpoints_per_service = endpoints;
  spec.protocol = proto;
  return Generate(spec);
}

// ---- host guard ---------------------------------------------------------------------------

std::string NormalizeHostDump(const std::string& text) {
  static const std::regex kCounters(R"(\[\d+:\d+\])");
  static const std::regex kNftCounters(R"(packets \d+ bytes \d+)");
  std::string out;
  for (const auto& line : Lines(text)) {
    if (line.starts_with("#")) continue;
    out += std::regex_replace(std::regex_replace(line, kCounters, "[0:0]"), kNftCounters,
                              "packets 0 bytes 0");
    out += "\n";
  }
  return out;
}

// The host's rulesets before and after the whole run, and whether anything opened or created
// the host's xtables lock meanwhile. The dumps are read-only: without -t, the save tools list
// only tables that exist, so they instantiate nothing in the host's namespace.
class HostGuard : public ::testing::Environment {
 public:
  void SetUp() override {
    if (::geteuid() != 0) return;
    before_ = Snapshot();
    inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_ >= 0) {
      ::inotify_add_watch(inotify_, "/run", IN_CREATE);
      struct stat st {};
      if (::stat(kHostLock, &st) == 0) ::inotify_add_watch(inotify_, kHostLock, IN_OPEN);
    }
  }

  void TearDown() override {
    if (::geteuid() != 0) return;
    const std::vector<std::pair<std::string, std::string>> after = Snapshot();
    for (size_t i = 0; i < before_.size() && i < after.size(); ++i) {
      EXPECT_EQ(before_[i].second, after[i].second)
          << "the host's `" << before_[i].first << "` changed during the test run";
    }
    if (inotify_ >= 0) {
      alignas(inotify_event) char buf[4096];
      ssize_t n;
      while ((n = ::read(inotify_, buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + n;) {
          const auto* ev = reinterpret_cast<const inotify_event*>(p);
          const std::string name = ev->len > 0 ? ev->name : "";
          EXPECT_FALSE((ev->mask & IN_OPEN) != 0 || name == "xtables.lock")
              << kHostLock << " was created or opened while the tests ran (by these tests, or by "
              << "another process on the host that uses the default lock)";
          p += sizeof(inotify_event) + ev->len;
        }
      }
      ::close(inotify_);
    }
  }

 private:
  static std::vector<std::pair<std::string, std::string>> Snapshot() {
    std::vector<std::pair<std::string, std::string>> dumps;
    for (const std::vector<std::string>& argv : {std::vector<std::string>{"iptables-legacy-save"},
                                                 {"iptables-nft-save"},
                                                 {"nft", "list", "ruleset"}}) {
      if (!HaveCommand(argv[0])) continue;
      const SpawnResult r = RunIn(-1, argv);
      dumps.emplace_back(argv[0], r.Ok() ? NormalizeHostDump(r.out) : r.Describe(argv[0]));
    }
    return dumps;
  }

  std::vector<std::pair<std::string, std::string>> before_;
  int inotify_ = -1;
};

const auto* const kHostGuard = ::testing::AddGlobalTestEnvironment(new HostGuard);

// ---- tests --------------------------------------------------------------------------------

class IptablesDriverTest : public ::testing::TestWithParam<IptablesVariant> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces";
    const Availability a = ProbeIptables(GetParam());
    if (!a.available) GTEST_SKIP() << IptablesBackendName(GetParam()) << ": " << a.reason;
    netns_.emplace();
    ctx_.netns_fd = netns_->Fd();
    ctx_.netns_name = netns_->Name();
    ctx_.xtables_lockfile = PrivateLock();
    ctx_.lock_wait_s = 5;
  }

  std::unique_ptr<Driver> MakeDriver() { return MakeIptablesDriver(GetParam(), ctx_); }
  NatTable Save() { return SaveNat(GetParam(), netns_->Fd()); }
  std::string Restore() const { return std::string(IptablesRestoreCommand(GetParam())); }

  std::optional<TestNetns> netns_;
  DriverContext ctx_;
};

TEST_P(IptablesDriverTest, ProbeSaysWhatItUses) {
  const Availability a = ProbeIptables(GetParam());
  EXPECT_TRUE(a.available);
  EXPECT_NE(a.reason.find(Restore()), std::string::npos) << a.reason;
}

TEST_P(IptablesDriverTest, RenderedPayloadsPassRestoreTest) {
  RenderOptions forced_large;
  forced_large.large_cluster_endpoints_threshold = 0;
  for (const Payload& p :
       {RenderIptablesRestore(Gen(50, 2)), RenderIptablesRestore(Gen(20, 3, Protocol::kUdp)),
        RenderIptablesRestore(Gen(600, 2)),  // large cluster mode
        RenderIptablesRestore(Gen(30, 2), forced_large)}) {
    const SpawnResult r = RunIn(netns_->Fd(), {Restore(), "-w", "5", "--test"}, p.text);
    EXPECT_TRUE(r.Ok()) << r.Describe(Restore());
  }
}

TEST_P(IptablesDriverTest, SyncLeavesExactlyTheRulesPlusThreeJumps) {
  const ServiceSet set = Gen(50, 2);
  auto driver = MakeDriver();
  const Payload payload = driver->Render(set);
  ASSERT_EQ(payload.rules, 5u + 50 * 8);

  const CommitStats stats = driver->Sync(set, payload);
  const NatTable first = Save();
  EXPECT_EQ(first.rules.size(), payload.rules + 3);
  for (const std::string& jump : BaseChainJumpRules()) {
    EXPECT_EQ(std::count(first.rules.begin(), first.rules.end(), jump), 1) << jump;
  }
  EXPECT_EQ(first.kube_chains, ExpectedKubeChains(set));
  EXPECT_EQ(first.kube_chains.size(), payload.chains);
  EXPECT_GT(stats.wall_s, 0);
  ASSERT_TRUE(stats.cpu_s.has_value());
  EXPECT_GT(*stats.cpu_s, 0);
  ASSERT_TRUE(stats.max_rss_bytes.has_value());
  EXPECT_GT(*stats.max_rss_bytes, 1e5);
  EXPECT_EQ(stats.payload_bytes, payload.text.size());
  EXPECT_EQ(stats.rules, payload.rules);

  // kube-proxy's periodic resync: the same input changes nothing, and no jump is duplicated.
  driver->Sync(set, payload);
  const NatTable second = Save();
  EXPECT_EQ(second.rules.size(), payload.rules + 3);
  EXPECT_EQ(second.text, first.text);
}

TEST_P(IptablesDriverTest, SmallerSetDeletesStaleChains) {
  const ServiceSet big = Gen(50, 2);
  const ServiceSet small = Gen(20, 2);
  auto driver = MakeDriver();
  driver->Sync(big, driver->Render(big));
  const Payload payload = driver->Render(small);
  const CommitStats stats = driver->Sync(small, payload);
  const NatTable t = Save();
  EXPECT_EQ(t.rules.size(), payload.rules + 3);
  EXPECT_EQ(t.kube_chains, ExpectedKubeChains(small));
  EXPECT_GT(stats.payload_bytes, payload.text.size()) << "-X lines were sent as well";

  // A new driver on a populated namespace (a restarted kube-proxy) learns the existing chains
  // from iptables-save and deletes the ones its first set lacks.
  const ServiceSet smaller = Gen(5, 3);
  auto fresh = MakeDriver();
  const Payload p2 = fresh->Render(smaller);
  fresh->Sync(smaller, p2);
  const NatTable t2 = Save();
  EXPECT_EQ(t2.rules.size(), p2.rules + 3);
  EXPECT_EQ(t2.kube_chains, ExpectedKubeChains(smaller));
}

TEST_P(IptablesDriverTest, ClearEmptiesTheTableAndSyncRestoresTheJumps) {
  const ServiceSet set = Gen(10, 2);
  auto driver = MakeDriver();
  const Payload payload = driver->Render(set);
  driver->Sync(set, payload);
  driver->Clear();
  const NatTable cleared = Save();
  EXPECT_TRUE(cleared.rules.empty()) << cleared.text;
  EXPECT_TRUE(cleared.kube_chains.empty()) << cleared.text;

  driver->Sync(set, payload);
  EXPECT_EQ(Save().rules.size(), payload.rules + 3);
}

TEST_P(IptablesDriverTest, BadPayloadFailsNamingToolAndLineAndChangesNothing) {
  const ServiceSet set = Gen(5, 2);
  auto driver = MakeDriver();
  const Payload good = driver->Render(set);
  driver->Sync(set, good);
  const NatTable before = Save();

  // A rule for a chain that is never declared, just before COMMIT.
  Payload bad = good;
  const size_t commit = bad.text.rfind("COMMIT\n");
  bad.text.insert(commit, "-A KUBE-NOT-DECLARED -j RETURN\n");
  const size_t bad_line = static_cast<size_t>(
      std::count(bad.text.begin(), bad.text.begin() + static_cast<long>(commit), '\n') + 1);
  try {
    driver->Sync(set, bad);
    FAIL() << "expected DriverError";
  } catch (const DriverError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(Restore()), std::string::npos) << what;
    EXPECT_TRUE(std::regex_search(what, std::regex(fmt::format(R"(line:? {}\b)", bad_line))))
        << "expected line " << bad_line << " in: " << what;
  }
  EXPECT_EQ(Save().text, before.text) << "a failed restore must not change the table";

  // The driver still works afterwards.
  driver->Sync(set, good);
  EXPECT_EQ(Save().rules.size(), good.rules + 3);
}

TEST_P(IptablesDriverTest, UsesThePrivateLockFileOnlyWhenLegacy) {
  // A lock file of this test's own, held exclusively: legacy must wait on it (and give up after
  // -w), which proves XTABLES_LOCKFILE is honoured; nft takes no xtables lock at all.
  const std::string lock = PrivateDir() + "/held-" + netns_->Name() + ".lock";
  ctx_.xtables_lockfile = lock;
  ctx_.lock_wait_s = 1;
  const int fd = ::open(lock.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  const ServiceSet set = Gen(3, 2);
  auto driver = MakeDriver();
  if (GetParam() == IptablesVariant::kLegacy) {
    try {
      driver->Sync(set, driver->Render(set));
      ADD_FAILURE() << "expected DriverError while " << lock << " is held";
    } catch (const DriverError& e) {
      EXPECT_NE(std::string(e.what()).find("xtables lock"), std::string::npos) << e.what();
    }
    ::flock(fd, LOCK_UN);
    EXPECT_NO_THROW(driver->Sync(set, driver->Render(set)));
  } else {
    EXPECT_NO_THROW(driver->Sync(set, driver->Render(set)));
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
}

TEST_P(IptablesDriverTest, LegacyCreatesThePrivateLockFile) {
  if (GetParam() != IptablesVariant::kLegacy) GTEST_SKIP() << "iptables-nft takes no xtables lock";
  const std::string lock = PrivateDir() + "/fresh-" + netns_->Name() + ".lock";
  ctx_.xtables_lockfile = lock;
  ASSERT_FALSE(std::filesystem::exists(lock));
  const ServiceSet set = Gen(3, 2);
  auto driver = MakeDriver();
  driver->Sync(set, driver->Render(set));
  EXPECT_TRUE(std::filesystem::exists(lock));
}

INSTANTIATE_TEST_SUITE_P(Variants, IptablesDriverTest,
                         ::testing::Values(IptablesVariant::kLegacy, IptablesVariant::kNft),
                         [](const auto& info) {
                           return info.param == IptablesVariant::kLegacy ? std::string("Legacy")
                                                                         : std::string("Nft");
                         });

TEST(IptablesDriverNoNetnsTest, RefusesToProgramTheCallersNamespace) {
  DriverContext ctx;  // netns_fd = -1
  ctx.xtables_lockfile = PrivateLock();
  for (IptablesVariant v : {IptablesVariant::kLegacy, IptablesVariant::kNft}) {
    auto driver = MakeIptablesDriver(v, ctx);
    const ServiceSet set = Gen(1, 1);
    EXPECT_THROW(driver->Sync(set, driver->Render(set)), DriverError);
    EXPECT_THROW(driver->Clear(), DriverError);
    EXPECT_EQ(driver->Name(), IptablesBackendName(v));
  }
}

}  // namespace
}  // namespace svcbench
