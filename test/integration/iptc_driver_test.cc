// The iptc driver against the real kernel, and against the iptables-legacy backend.
//
// Root only (skips with the reason otherwise). Every test works in its own throwaway network
// namespaces, `svcb-itc-<pid>-<n>`, removed when the test ends; libiptc runs only on helper
// threads that entered them, and every lock is a private file (the host guard registered in
// iptables_driver_test.cc checks the host's rulesets and /run/xtables.lock for the whole binary).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

// clang-format off
#include "drivers/iptc/iptc_entry.h"  // before libiptc: <netinet/in.h> first
#include <libiptc/libiptc.h>
// clang-format on

#include "drivers/iptables/iptables_driver.h"
#include "drivers/iptables/iptables_render.h"
#include "drivers/iptc/iptc_driver.h"
#include "harness/lab/netns.h"
#include "harness/model/generator.h"
#include "harness/util/process.h"
#include "test/integration/test_support.h"

namespace svcbench {
namespace {

using testing::Lines;

// Every test's namespaces carry this file's prefix, so a leftover names its test.
class TestNetns : public testing::TestNetns {
 public:
  TestNetns() : testing::TestNetns("svcb-itc") {}
};

const std::string& PrivateDir() {
  static const std::string dir = testing::ProcessTempSubdir("iptc");
  return dir;
}

std::string PrivateLock() { return PrivateDir() + "/xtables.lock"; }
// A second lock file: a writer using it is not serialised with the driver.
std::string OtherLock() { return PrivateDir() + "/other-xtables.lock"; }

SpawnResult RunTool(int netns_fd, std::vector<std::string> argv,
                    const std::string& lock = PrivateLock()) {
  SpawnOptions opts;
  opts.argv = std::move(argv);
  opts.netns_fd = netns_fd;
  opts.extra_env = {"XTABLES_LOCKFILE=" + lock};
  opts.timeout_s = 120;
  return Spawn(opts);
}

// `iptables-legacy-save -t nat`, canonicalised: comment lines ('#') dropped, chain declarations
// without counters and sorted, then the rule lines grouped per chain, in order.
struct CanonicalNat {
  std::vector<std::string> chains;
  std::map<std::string, std::vector<std::string>> rules;
  size_t rule_count = 0;
  std::string text;

  bool operator==(const CanonicalNat& o) const { return text == o.text; }
};

CanonicalNat SaveNat(int netns_fd) {
  const SpawnResult r = RunTool(netns_fd, {"iptables-legacy-save", "-t", "nat"});
  if (!r.Ok()) throw std::runtime_error(r.Describe("iptables-legacy-save"));
  static const std::regex kCounters(R"( \[\d+:\d+\]$)");
  CanonicalNat t;
  for (const auto& line : Lines(r.out)) {
    if (line.starts_with("#")) continue;
    if (line.starts_with(":")) t.chains.push_back(std::regex_replace(line, kCounters, ""));
    if (line.starts_with("-A ")) {
      const size_t sp = line.find(' ', 3);
      t.rules[line.substr(3, sp - 3)].push_back(line);
      ++t.rule_count;
    }
  }
  std::sort(t.chains.begin(), t.chains.end());
  for (const auto& c : t.chains) t.text += c + "\n";
  for (const auto& [chain, rules] : t.rules) {
    for (const auto& r : rules) t.text += r + "\n";
  }
  return t;
}

// Every rule of the nat table as the kernel holds it, read back through libiptc on a thread in
// the namespace: the entry bytes with counters zeroed and a jump's kernel offset replaced by the
// target's name. Catches differences iptables-save does not print.
std::map<std::string, std::vector<std::string>> RawNat(int netns_fd) {
  std::map<std::string, std::vector<std::string>> out;
  netns::RunIn(netns_fd, "", [&] {
    xtc_handle* h = iptc_init("nat");
    if (h == nullptr) throw std::runtime_error(iptc_strerror(errno));
    for (const char* c = iptc_first_chain(h); c != nullptr; c = iptc_next_chain(h)) {
      auto& rules = out[c];
      for (const ipt_entry* e = iptc_first_rule(c, h); e != nullptr; e = iptc_next_rule(e, h)) {
        std::string bytes(reinterpret_cast<const char*>(e), e->next_offset);
        auto* copy = reinterpret_cast<ipt_entry*>(bytes.data());
        std::memset(&copy->counters, 0, sizeof copy->counters);
        auto* t = reinterpret_cast<xt_entry_target*>(bytes.data() + copy->target_offset);
        if (t->u.user.name[0] == '\0') {
          reinterpret_cast<xt_standard_target*>(t)->verdict = 0;
          bytes += std::string("->") + iptc_get_target(e, h);
        }
        rules.push_back(std::move(bytes));
      }
    }
    iptc_free(h);
  });
  return out;
}

// "" when equal, else where the first difference is (chain, rule, byte offset, both bytes).
std::string FirstRawDifference(const std::map<std::string, std::vector<std::string>>& got,
                               const std::map<std::string, std::vector<std::string>>& want) {
  if (got.size() != want.size()) return fmt::format("{} vs {} chains", got.size(), want.size());
  for (const auto& [chain, rules] : want) {
    const auto it = got.find(chain);
    if (it == got.end()) return "missing chain " + chain;
    if (it->second.size() != rules.size()) return "rule count differs in " + chain;
    for (size_t i = 0; i < rules.size(); ++i) {
      const std::string& a = it->second[i];
      const std::string& b = rules[i];
      if (a == b) continue;
      size_t off = 0;
      while (off < a.size() && off < b.size() && a[off] == b[off]) ++off;
      auto hex = [&](const std::string& x) {
        std::string h;
        for (size_t k = off - off % 8; k < std::min(x.size(), off - off % 8 + 16); ++k) {
          h += fmt::format("{:02x}", static_cast<unsigned char>(x[k]));
        }
        return h;
      };
      return fmt::format("{} rule {}: sizes {} vs {}, first difference at byte {}: {} vs {}", chain,
                         i, a.size(), b.size(), off, hex(a), hex(b));
    }
  }
  return "";
}

ServiceSet Gen(uint32_t services, uint32_t endpoints, Protocol proto = Protocol::kTcp) {
  GeneratorSpec spec;
  spec.seed = 42;
  spec.services = services;
  spec.endpoints_per_service = endpoints;
  spec.protocol = proto;
  return Generate(spec);
}

std::set<std::string> KubeChains(const CanonicalNat& t) {
  std::set<std::string> out;
  for (const auto& c : t.chains) {
    if (c.starts_with(":KUBE-")) out.insert(c.substr(1, c.find(' ') - 1));
  }
  return out;
}

std::set<std::string> ExpectedKubeChains(const ServiceSet& set) {
  std::set<std::string> chains = {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING",
                                  "KUBE-MARK-MASQ"};
  for (auto& c : ServiceChainNames(set)) chains.insert(std::move(c));
  return chains;
}

class IptcDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces";
    const Availability a = ProbeIptc();
    if (!a.available) GTEST_SKIP() << "iptc: " << a.reason;
    netns_.emplace();
    ctx_ = ContextFor(*netns_);
  }

  static DriverContext ContextFor(const TestNetns& ns) {
    DriverContext ctx;
    ctx.netns_fd = ns.Fd();
    ctx.netns_name = ns.Name();
    ctx.xtables_lockfile = PrivateLock();
    ctx.lock_wait_s = 5;
    return ctx;
  }

  std::unique_ptr<Driver> MakeDriver(const IptcDriverOptions& opts = {}) {
    return MakeIptcDriver(ctx_, opts);
  }
  CanonicalNat Save() { return SaveNat(netns_->Fd()); }

  std::optional<TestNetns> netns_;
  DriverContext ctx_;
};

TEST_F(IptcDriverTest, ProbeSaysWhatItUses) {
  const Availability a = ProbeIptc();
  EXPECT_TRUE(a.available);
  EXPECT_NE(a.reason.find("libiptc"), std::string::npos) << a.reason;
}

// The acceptance test of the backend: the same ServiceSet through iptables-legacy-restore in one
// fresh namespace and through libiptc in another lists the same nat table.
TEST_F(IptcDriverTest, SameTableAsIptablesLegacy) {
  const Availability legacy = ProbeIptables(IptablesVariant::kLegacy);
  if (!legacy.available) GTEST_SKIP() << "iptables-legacy: " << legacy.reason;
  struct Case {
    const char* name;
    ServiceSet set;
  };
  const Case cases[] = {{"50x2 tcp", Gen(50, 2)},
                        {"200x3 tcp", Gen(200, 3)},
                        {"30x3 udp", Gen(30, 3, Protocol::kUdp)},
                        {"400x3 tcp (large cluster mode)", Gen(400, 3)}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestNetns legacy_ns;
    auto reference = MakeIptablesDriver(IptablesVariant::kLegacy, ContextFor(legacy_ns));
    reference->Sync(c.set, reference->Render(c.set));

    TestNetns iptc_ns;
    auto driver = MakeIptcDriver(ContextFor(iptc_ns));
    const Payload payload = driver->Render(c.set);
    const CommitStats stats = driver->Sync(c.set, payload);

    const CanonicalNat want = SaveNat(legacy_ns.Fd());
    const CanonicalNat got = SaveNat(iptc_ns.Fd());
    EXPECT_EQ(got.rule_count, payload.rules + 3);
    EXPECT_EQ(got.chains, want.chains);
    ASSERT_EQ(got.rules.size(), want.rules.size());
    for (const auto& [chain, rules] : want.rules) {
      const auto it = got.rules.find(chain);
      ASSERT_NE(it, got.rules.end()) << chain;
      ASSERT_EQ(it->second.size(), rules.size()) << chain;
      for (size_t i = 0; i < rules.size(); ++i) EXPECT_EQ(it->second[i], rules[i]);
    }
    EXPECT_TRUE(got == want);
    // Below what iptables-save prints: the kernel's entries themselves.
    EXPECT_EQ(FirstRawDifference(RawNat(iptc_ns.Fd()), RawNat(legacy_ns.Fd())), "")
        << "same listing, but the kernel entries differ";

    EXPECT_EQ(stats.rules, payload.rules);
    ASSERT_TRUE(stats.build_s && stats.commit_s && stats.retries && stats.cpu_s);
    EXPECT_GT(*stats.build_s, 0);
    EXPECT_GT(*stats.commit_s, 0);
    EXPECT_GE(stats.wall_s, *stats.build_s + *stats.commit_s);
    EXPECT_EQ(*stats.retries, 0);
    EXPECT_GT(stats.payload_bytes, payload.rules * sizeof(ipt_entry));
  }
}

TEST_F(IptcDriverTest, WarmSyncIsIdempotent) {
  const ServiceSet set = Gen(50, 2);
  auto driver = MakeDriver();
  const Payload payload = driver->Render(set);
  driver->Sync(set, payload);
  const CanonicalNat first = Save();
  EXPECT_EQ(first.rule_count, payload.rules + 3);
  EXPECT_EQ(KubeChains(first), ExpectedKubeChains(set));
  for (const std::string& jump : BaseChainJumpRules()) {
    const auto& rules = first.rules.at(jump.substr(3, jump.find(' ', 3) - 3));
    EXPECT_EQ(std::count(rules.begin(), rules.end(), jump), 1) << jump;
  }

  const CommitStats warm = driver->Sync(set, payload);
  EXPECT_TRUE(Save() == first);
  EXPECT_EQ(warm.retries, 0);

  // A new driver (a restarted kube-proxy) finds the jumps in place and adds none.
  auto fresh = MakeDriver();
  fresh->Sync(set, payload);
  EXPECT_TRUE(Save() == first);
}

TEST_F(IptcDriverTest, SmallerSetDeletesStaleChains) {
  const ServiceSet big = Gen(50, 2);
  const ServiceSet small = Gen(20, 2);
  auto driver = MakeDriver();
  driver->Sync(big, driver->Render(big));
  const Payload payload = driver->Render(small);
  driver->Sync(small, payload);
  const CanonicalNat t = Save();
  EXPECT_EQ(t.rule_count, payload.rules + 3);
  EXPECT_EQ(KubeChains(t), ExpectedKubeChains(small));

  // Stale chains left by another writer (here the iptables-legacy backend) go as well.
  auto legacy = MakeIptablesDriver(IptablesVariant::kLegacy, ctx_);
  legacy->Sync(big, legacy->Render(big));
  const ServiceSet smaller = Gen(5, 3);
  auto fresh = MakeDriver();
  const Payload p2 = fresh->Render(smaller);
  fresh->Sync(smaller, p2);
  const CanonicalNat t2 = Save();
  EXPECT_EQ(t2.rule_count, p2.rules + 3);
  EXPECT_EQ(KubeChains(t2), ExpectedKubeChains(smaller));
}

TEST_F(IptcDriverTest, ClearEmptiesTheTableAndSyncRestoresTheJumps) {
  const ServiceSet set = Gen(10, 2);
  auto driver = MakeDriver();
  const Payload payload = driver->Render(set);
  driver->Sync(set, payload);
  driver->Clear();
  const CanonicalNat cleared = Save();
  EXPECT_EQ(cleared.rule_count, 0u) << cleared.text;
  EXPECT_TRUE(KubeChains(cleared).empty()) << cleared.text;
  EXPECT_EQ(cleared.chains.size(), 4u) << "only the built-in chains: " << cleared.text;

  driver->Sync(set, payload);
  EXPECT_EQ(Save().rule_count, payload.rules + 3);
}

TEST_F(IptcDriverTest, WaitsForTheConfiguredLockAndCreatesIt) {
  const std::string lock = PrivateDir() + "/held-" + netns_->Name() + ".lock";
  ctx_.xtables_lockfile = lock;
  ctx_.lock_wait_s = 1;
  ASSERT_FALSE(std::filesystem::exists(lock));
  const ServiceSet set = Gen(3, 2);
  {
    auto driver = MakeDriver();
    driver->Sync(set, driver->Render(set));
    EXPECT_TRUE(std::filesystem::exists(lock));
  }
  const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto driver = MakeDriver();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    driver->Sync(set, driver->Render(set));
    ADD_FAILURE() << "expected DriverError while " << lock << " is held";
  } catch (const DriverError& e) {
    EXPECT_NE(std::string(e.what()).find("xtables lock"), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  ::flock(fd, LOCK_UN);
  ::close(fd);
  EXPECT_NO_THROW(driver->Sync(set, driver->Render(set)));
}

// A writer that does not take our lock replaces the table between our iptc_init and
// iptc_commit, deterministically, through the before_commit hook: the kernel answers EAGAIN, the
// driver builds again on top of the writer's table, and the writer's rule survives.
TEST_F(IptcDriverTest, RetriesWhenAnotherWriterReplacedTheTable) {
  IptcDriverOptions opts;
  std::vector<int> attempts;
  opts.before_commit = [&](int attempt) {
    attempts.push_back(attempt);
    if (attempt != 0) return;
    const SpawnResult r = RunTool(
        netns_->Fd(), {"iptables-legacy", "-w", "5", "-t", "nat", "-A", "OUTPUT", "-j", "RETURN"},
        OtherLock());
    if (!r.Ok()) throw std::runtime_error(r.Describe("iptables-legacy"));
  };
  const ServiceSet set = Gen(50, 2);
  auto driver = MakeDriver(opts);
  const Payload payload = driver->Render(set);
  const CommitStats stats = driver->Sync(set, payload);
  ASSERT_TRUE(stats.retries.has_value());
  EXPECT_EQ(*stats.retries, 1);
  EXPECT_EQ(attempts, (std::vector<int>{0, 1}));
  const CanonicalNat t = Save();
  EXPECT_EQ(t.rule_count, payload.rules + 3 + 1);
  EXPECT_EQ(t.rules.at("OUTPUT").back(), "-A OUTPUT -j RETURN") << "the other writer's rule";
  EXPECT_EQ(KubeChains(t), ExpectedKubeChains(set));
}

TEST_F(IptcDriverTest, GivesUpAfterMaxRetriesAndChangesNothing) {
  const ServiceSet set = Gen(10, 2);
  auto plain = MakeDriver();
  plain->Sync(set, plain->Render(set));

  IptcDriverOptions opts;
  opts.max_retries = 2;
  int writes = 0;
  opts.before_commit = [&](int) {
    ++writes;
    const SpawnResult r = RunTool(
        netns_->Fd(), {"iptables-legacy", "-w", "5", "-t", "nat", "-A", "OUTPUT", "-j", "RETURN"},
        OtherLock());
    if (!r.Ok()) throw std::runtime_error(r.Describe("iptables-legacy"));
  };
  const CanonicalNat before = Save();
  const ServiceSet other = Gen(4, 2);
  auto driver = MakeDriver(opts);
  try {
    driver->Sync(other, driver->Render(other));
    ADD_FAILURE() << "expected DriverError";
  } catch (const DriverError& e) {
    EXPECT_NE(std::string(e.what()).find("iptc_commit"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 retries"), std::string::npos) << e.what();
  }
  EXPECT_EQ(writes, 3);
  const CanonicalNat after = Save();
  EXPECT_EQ(after.rule_count, before.rule_count + 3) << "only the other writer's 3 rules";
  EXPECT_EQ(KubeChains(after), KubeChains(before));
}

// The same race without a hook: a separate process appends and deletes a rule in a loop, under
// a different lock file, while the driver syncs. Whether an EAGAIN happens depends on timing;
// over many syncs of a table that takes milliseconds to build it does.
TEST_F(IptcDriverTest, RetriesUnderAConcurrentWriter) {
  const ServiceSet set = Gen(200, 3);
  auto driver = MakeDriver();
  const Payload payload = driver->Render(set);
  driver->Sync(set, payload);

  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::jthread writer([&] {
    while (!stop) {
      for (const char* op : {"-A", "-D"}) {
        const SpawnResult r = RunTool(
            netns_->Fd(), {"iptables-legacy", "-w", "5", "-t", "nat", op, "OUTPUT", "-j", "RETURN"},
            OtherLock());
        if (r.Ok()) ++writes;
      }
    }
  });
  // Stops the writer on every way out, before the namespace goes.
  struct StopWriter {
    std::atomic<bool>& stop;
    std::jthread& writer;
    ~StopWriter() {
      stop = true;
      if (writer.joinable()) writer.join();
    }
  } stop_writer{stop, writer};
  int total_retries = 0;
  int syncs = 0;
  for (; syncs < 40 && total_retries == 0; ++syncs) {
    try {
      const CommitStats stats = driver->Sync(set, payload);
      total_retries += stats.retries.value_or(0);
    } catch (const DriverError& e) {
      // A writer faster than the driver (seen under ASan) can exhaust its retries: that is
      // retrying too, and the failed sync must have left the previous table intact.
      ASSERT_NE(std::string(e.what()).find("retries"), std::string::npos) << e.what();
      ++total_retries;
    }
  }
  stop = true;
  writer.join();
  EXPECT_GT(writes.load(), 0);
  EXPECT_GT(total_retries, 0) << "no EAGAIN in " << syncs << " syncs against " << writes
                              << " concurrent writes";
  // Whatever the interleaving, the service rules are intact.
  // (The writer's own commits can fail with EAGAIN too, leaving an extra RETURN in OUTPUT.)
  const CanonicalNat t = Save();
  EXPECT_EQ(KubeChains(t), ExpectedKubeChains(set));
  const auto& output = t.rules.at("OUTPUT");
  const auto leftovers = std::count(output.begin(), output.end(), "-A OUTPUT -j RETURN");
  EXPECT_EQ(t.rule_count - static_cast<size_t>(leftovers), payload.rules + 3);
}

TEST(IptcDriverNoNetnsTest, RefusesToProgramTheCallersNamespace) {
  DriverContext ctx;  // netns_fd = -1
  ctx.xtables_lockfile = PrivateLock();
  auto driver = MakeIptcDriver(ctx);
  const ServiceSet set = Gen(1, 1);
  EXPECT_THROW(driver->Sync(set, driver->Render(set)), DriverError);
  EXPECT_THROW(driver->Clear(), DriverError);
  EXPECT_EQ(driver->Name(), "iptc");
}

}  // namespace
}  // namespace svcbench
