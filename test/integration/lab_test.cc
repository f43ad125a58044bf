// The Lab against the real kernel: namespaces visible to iproute2, traffic from the client to
// backend addresses, cleanup on every path, and a host namespace left exactly as it was.
//
// Every name used here starts with svcb-t<8-digit pid>, so the cleanup calls below (and the
// safety net in TearDown) can never touch another process's namespaces.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/lab/lab.h"
#include "harness/lab/listener.h"
#include "harness/lab/netns.h"
#include "harness/lab/netns_registry.h"
#include "harness/lab/probe.h"
#include "harness/lab/rtnl.h"
#include "harness/model/address_plan.h"

namespace svcbench {
namespace {

constexpr double kProbeTimeoutS = 3.0;

// "t" + fixed-width pid: no run id of this process is a prefix of another process's.
std::string RunId(std::string_view suffix = "") {
  return fmt::format("t{:08}{}", ::getpid(), suffix);
}
std::string OurPrefix() { return fmt::format("svcb-{}", RunId()); }

LabOptions Options(std::string tag, std::string run_suffix = "") {
  LabOptions opts;
  opts.run_id = RunId(run_suffix);
  opts.tag = std::move(tag);
  opts.tcp_ports = {8080, 8081};
  opts.udp_ports = {5353};
  return opts;
}

// Output of a shell command (tests only: the library itself never runs `ip`).
std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  ::pclose(pipe);
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool Listed(const std::string& name) {
  const auto names = ListLabNamespaces();
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// A pid that belonged to a process that has exited (and was reaped).
pid_t DeadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

// A namespace made without a Lab, removed when the test ends however it ends.
class ScopedNetns {
 public:
  explicit ScopedNetns(std::string name) : name_(std::move(name)) { netns::Create(name_); }
  ~ScopedNetns() {
    try {
      netns::Remove(name_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "removing " << name_ << ": " << e.what();
    }
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  }
  // Safety net for a test that failed half-way: nothing of this process outlives its test.
  void TearDown() override {
    if (::geteuid() != 0) return;
    const auto removed = CleanupLeftovers(/*force=*/true, OurPrefix());
    EXPECT_TRUE(removed.empty()) << "left behind: " << removed.front();
  }
};

TEST_F(LabTest, ComesUpVisibleToIproute2) {
  Lab lab(Options("up"));
  const std::string listed = Shell("ip netns list");
  for (const std::string& ns : {lab.ClientNs(), lab.NodeNs(), lab.BackendNs()}) {
    EXPECT_TRUE(Contains(listed, ns)) << ns << " not in:\n" << listed;
    EXPECT_TRUE(Listed(ns)) << ns;
  }
  EXPECT_EQ(lab.ClientNs(), fmt::format("svcb-{}-up-client", RunId()));
  EXPECT_GE(lab.ClientFd(), 0);
  EXPECT_GE(lab.NodeFd(), 0);
  EXPECT_GE(lab.BackendFd(), 0);
  EXPECT_TRUE(FileExists(netns::MarkerPath(RunId())));

  const std::string node_addrs = Shell("ip -n " + lab.NodeNs() + " -o -4 addr");
  EXPECT_TRUE(Contains(node_addrs, "n0    inet 198.18.255.2/30")) << node_addrs;
  EXPECT_TRUE(Contains(node_addrs, "n1    inet 198.18.255.5/30")) << node_addrs;
  const std::string local_routes = Shell("ip -n " + lab.BackendNs() + " route show table local");
  EXPECT_TRUE(Contains(local_routes, "local 198.19.0.0/16 dev lo")) << local_routes;
  EXPECT_EQ(netns::ReadSysctl(lab.NodeFd(), lab.NodeNs(), "net/ipv4/ip_forward"), "1");
  EXPECT_EQ(netns::ReadSysctl(lab.BackendFd(), lab.BackendNs(), "net/ipv4/conf/all/rp_filter"),
            "0");
}

TEST_F(LabTest, ClientReachesBackendAddressesOverTcp) {
  Lab lab(Options("tcp"));
  const Ipv4 first = (198u << 24) | (19u << 16) | 7;  // 198.19.0.7
  EXPECT_EQ(ProbeTcp(lab.ClientFd(), first, 8080, kProbeTimeoutS),
            (ProbeAnswer{.ip = first, .port = 8080}));
  // Any address of the block answers, through the backend's local route.
  const Ipv4 far = plan::BackendAt(40000);
  EXPECT_EQ(ProbeTcp(lab.ClientFd(), far, 8081, kProbeTimeoutS),
            (ProbeAnswer{.ip = far, .port = 8081}));
  // A port without a listener is refused, not answered.
  EXPECT_EQ(ProbeTcp(lab.ClientFd(), first, 8082, kProbeTimeoutS), std::nullopt);
  ASSERT_NE(lab.Listener(), nullptr);
  EXPECT_EQ(lab.Listener()->TcpAnswered(), 2u);
}

TEST_F(LabTest, ClientReachesBackendAddressesOverUdp) {
  Lab lab(Options("udp"));
  const Ipv4 first = (198u << 24) | (19u << 16) | 7;
  EXPECT_EQ(ProbeUdp(lab.ClientFd(), first, 5353, kProbeTimeoutS),
            (ProbeAnswer{.ip = first, .port = 5353}));
  const Ipv4 far = plan::BackendAt(40000);
  EXPECT_EQ(ProbeUdp(lab.ClientFd(), far, 5353, kProbeTimeoutS),
            (ProbeAnswer{.ip = far, .port = 5353}));
  EXPECT_EQ(ProbeUdp(lab.ClientFd(), first, 5354, kProbeTimeoutS), std::nullopt);
  ASSERT_NE(lab.Listener(), nullptr);
  EXPECT_EQ(lab.Listener()->UdpAnswered(), 2u);
}

// What the listener is for: the answer names the endpoint behind a DNAT on the node, and the
// UDP reply comes from the address the datagram was sent to, so reverse NAT turns it back into
// the VIP (the probe's connected socket accepts nothing else).
TEST_F(LabTest, AnswerNamesTheEndpointBehindADnat) {
  if (Shell("command -v nft").empty()) GTEST_SKIP() << "needs nft";
  Lab lab(Options("dnat"));
  const std::string ruleset =
      "table ip svcbtest {\n"
      "  chain pre {\n"
      "    type nat hook prerouting priority dstnat;\n"
      "    ip daddr 198.18.0.10 tcp dport 80 dnat to 198.19.0.7:8080\n"
      "    ip daddr 198.18.0.10 udp dport 53 dnat to 198.19.0.9:5353\n"
      "  }\n"
      "}\n";
  const std::string out = Shell("echo '" + ruleset + "' | ip netns exec " + lab.NodeNs() +
                                " nft -f - 2>&1; echo rc=$?");
  if (!Contains(out, "rc=0")) {
    if (Contains(out, "not supported") || Contains(out, "No such file or directory")) {
      GTEST_SKIP() << "this kernel lacks nftables NAT: " << out;
    }
    FAIL() << "nft refused the test ruleset: " << out;
  }
  const Ipv4 vip = (198u << 24) | (18u << 16) | 10;  // 198.18.0.10
  EXPECT_EQ(ProbeTcp(lab.ClientFd(), vip, 80, kProbeTimeoutS),
            (ProbeAnswer{.ip = (198u << 24) | (19u << 16) | 7, .port = 8080}));
  EXPECT_EQ(ProbeUdp(lab.ClientFd(), vip, 53, kProbeTimeoutS),
            (ProbeAnswer{.ip = (198u << 24) | (19u << 16) | 9, .port = 5353}));
  // Without a rule for the VIP the node has no route for it: no answer.
  EXPECT_EQ(ProbeTcp(lab.ClientFd(), vip, 81, kProbeTimeoutS), std::nullopt);
}

// Drivers that SNAT (masquerade) make the node the source; its own route must work too.
TEST_F(LabTest, NodeReachesBackendAddresses) {
  Lab lab(Options("node"));
  const Ipv4 backend = plan::BackendAt(3);
  EXPECT_EQ(ProbeTcp(lab.NodeFd(), backend, 8080, kProbeTimeoutS),
            (ProbeAnswer{.ip = backend, .port = 8080}));
  EXPECT_EQ(ProbeUdp(lab.NodeFd(), backend, 5353, kProbeTimeoutS),
            (ProbeAnswer{.ip = backend, .port = 5353}));
}

TEST_F(LabTest, DestroyRemovesEverythingAndIsIdempotent) {
  Lab lab(Options("gone", "d"));
  const std::vector<std::string> names = {lab.ClientNs(), lab.NodeNs(), lab.BackendNs()};
  lab.Destroy();
  const std::string listed = Shell("ip netns list");
  for (const auto& ns : names) {
    EXPECT_FALSE(Contains(listed, ns)) << ns << " still in:\n" << listed;
    EXPECT_FALSE(FileExists(netns::PathOf(ns))) << ns;
  }
  EXPECT_EQ(lab.ClientFd(), -1);
  EXPECT_EQ(lab.Listener(), nullptr);
  EXPECT_FALSE(FileExists(netns::MarkerPath(RunId("d"))));
  EXPECT_NO_THROW(lab.Destroy());
}

TEST_F(LabTest, DestructorRemovesNamespaces) {
  std::vector<std::string> names;
  {
    Lab lab(Options("dtor"));
    names = {lab.ClientNs(), lab.NodeNs(), lab.BackendNs()};
  }
  for (const auto& ns : names) EXPECT_FALSE(Listed(ns)) << ns;
}

TEST_F(LabTest, FailedConstructionRemovesOnlyWhatItMade) {
  // The backend's name is taken (by "someone else"), so the Lab fails on its third namespace.
  ScopedNetns taken(fmt::format("svcb-{}-clash-backend", RunId()));
  try {
    Lab lab(Options("clash"));
    ADD_FAILURE() << "Lab took over an existing namespace";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::file_exists) << e.what();
    EXPECT_TRUE(Contains(e.what(), taken.name())) << e.what();
  }
  EXPECT_FALSE(Listed(fmt::format("svcb-{}-clash-client", RunId())));
  EXPECT_FALSE(Listed(fmt::format("svcb-{}-clash-node", RunId())));
  EXPECT_TRUE(Listed(taken.name()));
  const auto registered = netns::Registered();
  EXPECT_EQ(std::count(registered.begin(), registered.end(), taken.name()), 0);
}

TEST_F(LabTest, RejectsBadNamesBeforeCreatingAnything) {
  LabOptions opts = Options("Bad-Tag");
  EXPECT_THROW(Lab lab(opts), std::invalid_argument);
  opts = Options("ok");
  opts.run_id = "has-dash";
  EXPECT_THROW(Lab lab(opts), std::invalid_argument);
}

TEST_F(LabTest, RefusesARunIdOwnedByAnotherLiveProcess) {
  const std::string run = RunId("o");
  netns::WriteRunMarker(run, 1);  // init: alive for as long as the machine is
  struct RemoveMarker {
    std::string path;
    ~RemoveMarker() { ::unlink(path.c_str()); }
  } remove_marker{netns::MarkerPath(run)};
  EXPECT_THROW(Lab lab(Options("own", "o")), std::runtime_error);
  EXPECT_FALSE(Listed(fmt::format("svcb-{}-own-client", run)));
}

TEST_F(LabTest, NetlinkErrorsNameTheMessage) {
  Lab lab(Options("nl"));
  Rtnl nl(lab.ClientFd(), lab.ClientNs());
  try {
    nl.CreateVeth("c0", "n0", lab.NodeFd());
    ADD_FAILURE() << "a second c0 was created";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::file_exists) << e.what();
    EXPECT_TRUE(Contains(e.what(), "RTM_NEWLINK veth c0/n0 in " + lab.ClientNs())) << e.what();
  }
  EXPECT_THROW(nl.SetUp("nosuch0"), std::system_error);
}

TEST_F(LabTest, CleanupLeftoversRemovesDeadRunsAndKeepsLiveOnes) {
  // A run whose process died: its marker names a reaped pid.
  const std::string dead_run = RunId("x");
  ScopedNetns dead(fmt::format("svcb-{}-l0-node", dead_run));
  netns::WriteRunMarker(dead_run, DeadPid());
  // A namespace whose run never wrote (or already lost) its marker.
  ScopedNetns orphan(fmt::format("svcb-{}-l0-node", RunId("y")));
  // This process's live run.
  Lab live(Options("live"));

  const auto removed = CleanupLeftovers(/*force=*/false, OurPrefix());
  EXPECT_EQ(removed, (std::vector<std::string>{dead.name(), orphan.name()}));
  EXPECT_FALSE(Listed(dead.name()));
  EXPECT_FALSE(Listed(orphan.name()));
  EXPECT_FALSE(FileExists(netns::MarkerPath(dead_run)));
  for (const auto& ns : {live.ClientNs(), live.NodeNs(), live.BackendNs()}) {
    EXPECT_TRUE(Listed(ns)) << ns;
  }
  EXPECT_TRUE(FileExists(netns::MarkerPath(RunId())));

  // force takes live runs too; their owner's later Destroy() must cope.
  const auto forced = CleanupLeftovers(/*force=*/true, OurPrefix());
  EXPECT_EQ(forced, (std::vector<std::string>{live.BackendNs(), live.ClientNs(), live.NodeNs()}));
  EXPECT_NO_THROW(live.Destroy());
}

// The case `svcbench cleanup` exists for: a run killed with SIGKILL, which ran no cleanup.
TEST_F(LabTest, CleanupLeftoversRemovesTheLabOfAKilledRun) {
  const LabOptions opts = Options("l0", "k");  // named after this process, built by the child
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char ok = '0';
    try {
      new Lab(opts);  // never destroyed: the process is killed with it
      ok = '1';
    } catch (...) {
    }
    (void)!::write(ready[1], &ok, 1);
    if (ok == '1') ::pause();
    ::_exit(1);
  }
  ::close(ready[1]);
  char ok = '0';
  (void)!::read(ready[0], &ok, 1);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(ok, '1') << "the child could not build its lab";

  const std::string prefix = fmt::format("svcb-{}-", opts.run_id);
  const std::vector<std::string> expected = {prefix + "l0-backend", prefix + "l0-client",
                                             prefix + "l0-node"};
  for (const auto& ns : expected) EXPECT_TRUE(Listed(ns)) << ns;
  EXPECT_TRUE(FileExists(netns::MarkerPath(opts.run_id)));
  EXPECT_EQ(CleanupLeftovers(/*force=*/false, OurPrefix()), expected);
  for (const auto& ns : expected) EXPECT_FALSE(Listed(ns)) << ns;
  EXPECT_FALSE(FileExists(netns::MarkerPath(opts.run_id)));
}

TEST_F(LabTest, CleanupRegisteredNamespacesRemovesThisProcesssNamespaces) {
  auto lab = std::make_unique<Lab>(Options("reg"));
  const std::vector<std::string> names = {lab->ClientNs(), lab->NodeNs(), lab->BackendNs()};
  CleanupRegisteredNamespaces();
  for (const auto& ns : names) EXPECT_FALSE(Listed(ns)) << ns;
  EXPECT_TRUE(netns::Registered().empty());
  EXPECT_NO_THROW(lab.reset());
}

TEST_F(LabTest, HostNamespaceIsUnchanged) {
  const std::string command =
      "ip -o link; ip -o addr; ip route; ip route show table local; "
      "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/all/rp_filter "
      "/proc/sys/net/ipv4/conf/default/rp_filter";
  const std::string before = Shell(command);
  {
    Lab lab(Options("host"));
    EXPECT_TRUE(ProbeTcp(lab.ClientFd(), plan::BackendAt(0), 8080, kProbeTimeoutS).has_value());
    EXPECT_TRUE(ProbeUdp(lab.ClientFd(), plan::BackendAt(0), 5353, kProbeTimeoutS).has_value());
    EXPECT_EQ(Shell(command), before) << "changed while the lab was up";
  }
  EXPECT_EQ(Shell(command), before) << "changed after the lab was removed";
}

}  // namespace
}  // namespace svcbench
