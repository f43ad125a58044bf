// The latency and throughput measurements against real namespaces and real rulesets: their
// mechanics (every probe counted, every answer checked against the target's own endpoints,
// failures counted instead of dropped, conntrack flushed), never the kernel's speed.
//
// Run ids start with t<8-digit pid>, so the cleanup in TearDown only ever touches this
// process's namespaces.
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/lab/conntrack.h"
#include "harness/lab/lab.h"
#include "harness/lab/listener.h"
#include "harness/lab/ns_worker.h"
#include "harness/lab/probe.h"
#include "harness/lab/prober.h"
#include "harness/measure/lab_testbed.h"
#include "harness/measure/latency.h"
#include "harness/measure/throughput.h"
#include "harness/model/address_plan.h"
#include "harness/model/generator.h"
#include "test/integration/test_support.h"

namespace svcbench {
namespace {

std::string RunId() { return fmt::format("t{:08}lt", ::getpid()); }

Scenario TheScenario() {
  Scenario sc;
  sc.name = "latency-it";
  sc.endpoints_per_service = 2;
  return sc;
}

GeneratorSpec Spec(uint32_t services, Protocol protocol = Protocol::kTcp) {
  GeneratorSpec spec;
  spec.seed = 42;
  spec.services = services;
  spec.endpoints_per_service = 2;
  spec.protocol = protocol;
  return spec;
}

std::unique_ptr<Testbed> MakeBed(const std::string& backend, const GeneratorSpec& spec, int index) {
  LabTestbedOptions o;
  o.run_id = RunId();
  o.xtables_lockfile = testing::ProcessTempSubdir("latency") + "/xtables.lock";
  o.commit_timeout_s = 120;
  return MakeLabTestbedFactory(o)(backend, index, spec);
}

LatencyOptions SmallLatency(std::vector<std::string> probes, std::vector<std::string> positions,
                            uint32_t samples, uint32_t rounds) {
  LatencyOptions o;
  o.probes = std::move(probes);
  o.positions = std::move(positions);
  o.samples = samples;
  o.warmup = 3;
  o.rounds = rounds;
  o.timeout_s = 1;
  return o;
}

// Rows of all rounds of one measurement in one cell.
std::vector<ResultRow> RunCell(Measurement& m, const CellEnv& env) {
  auto run = m.Start(env);
  for (uint32_t r = 0; r < m.Rounds(); ++r) run->Round(r);
  return run->Rows();
}

const ResultRow* Find(const std::vector<ResultRow>& rows, const std::string& metric,
                      const std::map<std::string, std::string>& labels) {
  for (const auto& r : rows) {
    if (r.metric == metric && r.labels == labels) return &r;
  }
  return nullptr;
}

// Failures of one stream, by reason.
std::map<std::string, double> FailuresOf(const std::vector<ResultRow>& rows,
                                         const std::string& probe, const std::string& position) {
  std::map<std::string, double> out;
  for (const auto& r : rows) {
    if (r.metric == "latency.failures" && r.labels.at("probe") == probe &&
        r.labels.at("position") == position) {
      out[r.labels.at("reason")] += r.samples.at(0);
    }
  }
  return out;
}

class LatencyTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces";
    const Availability a = ProbeBackend(GetParam());
    if (!a.available) GTEST_SKIP() << GetParam() << ": " << a.reason;
  }
  void TearDown() override {
    if (::geteuid() != 0) return;
    const auto removed = CleanupLeftovers(/*force=*/true, "svcb-" + RunId());
    EXPECT_TRUE(removed.empty()) << "left behind: " << removed.front();
  }
};

// Every position's VIP, the direct address and the floor are answered, and each answer came
// from one of the target's own endpoints: a mismatch would be a wrong-endpoint failure.
TEST_P(LatencyTest, EveryPositionIsAnsweredByItsOwnEndpoints) {
  for (const Protocol protocol : {Protocol::kTcp, Protocol::kUdp}) {
    SCOPED_TRACE(ProtocolName(protocol));
    const GeneratorSpec spec = Spec(50, protocol);
    const ServiceSet set = Generate(spec);
    auto bed = MakeBed(GetParam(), spec, 0);
    const Scenario sc = TheScenario();
    const std::vector<std::string> probes =
        protocol == Protocol::kTcp ? std::vector<std::string>{"tcp-connect", "established"}
                                   : std::vector<std::string>{"udp"};
    const std::vector<std::string> positions = {"first", "middle", "last", "random", "direct"};
    auto m = MakeLatencyMeasurement(SmallLatency(probes, positions, 12, 2), 42);
    const auto rows = RunCell(*m, CellEnv{sc, GetParam(), 50, set, *bed});

    std::vector<std::string> all = positions;
    all.push_back("floor");
    for (const auto& probe : probes) {
      for (const auto& position : all) {
        SCOPED_TRACE(probe + " " + position);
        const ResultRow* rtt =
            Find(rows, "latency.rtt", {{"probe", probe}, {"position", position}});
        ASSERT_NE(rtt, nullptr);
        EXPECT_EQ(rtt->samples.size(), 12u) << "warm-up excluded, nothing lost";
        for (const double x : rtt->samples) EXPECT_GT(x, 0);
        for (const auto& [reason, n] : FailuresOf(rows, probe, position)) {
          ADD_FAILURE() << n << " probes failed: " << reason;
        }
        const ResultRow* over =
            Find(rows, "latency.overhead", {{"probe", probe}, {"position", position}});
        if (position == "floor") {
          EXPECT_EQ(over, nullptr);
        } else {
          ASSERT_NE(over, nullptr);
          EXPECT_EQ(over->samples.size(), 12u);
        }
      }
    }
    // Every round flushed the node's table before it began.
    const ResultRow* flushes = Find(rows, "latency.conntrack.flushes", {});
    ASSERT_NE(flushes, nullptr);
    EXPECT_EQ(flushes->samples, std::vector<double>{2});
    // The traffic went through the listener of the lab under test and of the reference lab.
    const BackendListener* listener = bed->lab()->Listener();
    ASSERT_NE(listener, nullptr);
    ASSERT_NE(bed->reference_lab(), nullptr);
    if (protocol == Protocol::kTcp) {
      EXPECT_GE(listener->TcpAnswered(), 5u * 12u);
      EXPECT_GE(bed->reference_lab()->Listener()->TcpAnswered(), 12u);
      EXPECT_GE(listener->TcpEchoed(), 5u * 12u);
    } else {
      EXPECT_GE(listener->UdpAnswered(), 5u * 12u);
    }
  }
}

// The node holds the real set, the measurement is told that the first two services swapped
// endpoints: every answer for `first` comes from another service's endpoint and must count as
// a failure, while `last` is untouched.
TEST_P(LatencyTest, AnswerFromAnotherServicesEndpointIsAFailure) {
  const GeneratorSpec spec = Spec(20);
  const ServiceSet set = Generate(spec);
  auto bed = MakeBed(GetParam(), spec, 0);
  bed->EnsureSynced(set);
  ServiceSet told = set;
  std::swap(told.ports[0].endpoints, told.ports[1].endpoints);
  const Scenario sc = TheScenario();
  auto m = MakeLatencyMeasurement(
      SmallLatency({"tcp-connect", "established"}, {"first", "last"}, 6, 1), 42);
  const auto rows = RunCell(*m, CellEnv{sc, GetParam(), 20, told, *bed});
  for (const char* probe : {"tcp-connect", "established"}) {
    SCOPED_TRACE(probe);
    EXPECT_TRUE(
        Find(rows, "latency.rtt", {{"probe", probe}, {"position", "first"}})->samples.empty());
    EXPECT_EQ(FailuresOf(rows, probe, "first"),
              (std::map<std::string, double>{{"wrong-endpoint", 6}}));
    EXPECT_EQ(Find(rows, "latency.rtt", {{"probe", probe}, {"position", "last"}})->samples.size(),
              6u);
    EXPECT_TRUE(FailuresOf(rows, probe, "last").empty());
  }
}

// A VIP without a rule: the node has no route for it and answers with ICMP unreachable (or
// nothing). Every such probe is counted under latency.failures, none is silently dropped.
TEST_P(LatencyTest, VipWithoutARuleIsCountedNotDropped) {
  const GeneratorSpec spec = Spec(20);
  const ServiceSet set = Generate(spec);
  auto bed = MakeBed(GetParam(), spec, 0);
  bed->EnsureSynced(set);
  ServiceSet told = set;
  ServicePort ghost = set.ports.back();
  ghost.vip = plan::VipAt(plan::kVipSlots - 1);
  for (const auto& sp : set.ports) ASSERT_NE(sp.vip, ghost.vip);
  told.ports.push_back(ghost);  // now `last`
  const Scenario sc = TheScenario();
  LatencyOptions opts = SmallLatency({"tcp-connect"}, {"first", "last"}, 4, 1);
  opts.warmup = 0;
  opts.timeout_s = 0.3;
  auto m = MakeLatencyMeasurement(opts, 42);
  const auto rows = RunCell(*m, CellEnv{sc, GetParam(), 21, told, *bed});
  EXPECT_TRUE(
      Find(rows, "latency.rtt", {{"probe", "tcp-connect"}, {"position", "last"}})->samples.empty());
  double failed = 0;
  for (const auto& [reason, n] : FailuresOf(rows, "tcp-connect", "last")) {
    EXPECT_TRUE(reason == "unreachable" || reason == "timeout") << reason;
    failed += n;
  }
  EXPECT_EQ(failed, 4);
  EXPECT_EQ(
      Find(rows, "latency.rtt", {{"probe", "tcp-connect"}, {"position", "first"}})->samples.size(),
      4u);
}

TEST_P(LatencyTest, ThroughputCountsConnectionsThroughTheNodeAndTheFloor) {
  const GeneratorSpec spec = Spec(30);
  const ServiceSet set = Generate(spec);
  auto bed = MakeBed(GetParam(), spec, 0);
  const Scenario sc = TheScenario();
  ThroughputOptions opts;
  opts.concurrency = 4;
  opts.duration_s = 0.6;
  opts.rounds = 2;
  auto m = MakeThroughputMeasurement(opts, 42);
  const auto rows = RunCell(*m, CellEnv{sc, GetParam(), 30, set, *bed});
  for (const char* path : {"services", "floor"}) {
    SCOPED_TRACE(path);
    const ResultRow* cps =
        Find(rows, "throughput.connections_per_s", {{"concurrency", "4"}, {"path", path}});
    ASSERT_NE(cps, nullptr);
    ASSERT_EQ(cps->samples.size(), 2u);
    for (const double x : cps->samples) EXPECT_GT(x, 0);
    for (const char* cpu : {"process", "softirq"}) {
      const ResultRow* c = Find(rows, "throughput.cpu_per_connection",
                                {{"concurrency", "4"}, {"path", path}, {"cpu", cpu}});
      ASSERT_NE(c, nullptr) << cpu;
      EXPECT_EQ(c->samples.size(), 2u) << cpu;
    }
  }
  const ResultRow* over =
      Find(rows, "throughput.cpu_overhead_per_connection", {{"concurrency", "4"}});
  ASSERT_NE(over, nullptr);
  EXPECT_EQ(over->samples.size(), 2u);
  for (const auto& r : rows) EXPECT_NE(r.metric, "throughput.failures") << r.labels.at("reason");
}

INSTANTIATE_TEST_SUITE_P(Backends, LatencyTest, ::testing::Values("iptables-legacy", "nftables"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

class ProberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces";
  }
  void TearDown() override {
    if (::geteuid() != 0) return;
    const auto removed = CleanupLeftovers(/*force=*/true, "svcb-" + RunId());
    EXPECT_TRUE(removed.empty()) << "left behind: " << removed.front();
  }
  static LabOptions Options(std::string tag) {
    LabOptions o;
    o.run_id = RunId();
    o.tag = std::move(tag);
    o.tcp_ports = {8080};
    return o;
  }
};

// Waits for an asynchronous count to reach `want` (not a timing assertion: the deadline only
// keeps a broken listener from hanging the test).
template <typename F>
bool Eventually(F read, size_t want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (read() != want) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST_F(ProberTest, KeptConnectionEchoesAndIsDroppedOnReset) {
  Lab lab(Options("echo"));
  const Ipv4 backend = plan::BackendAt(11);
  NsWorker worker;
  SourcePorts ports;
  std::optional<KeptConnection> conn;
  std::vector<TimedProbe> echoes;
  worker.Run([&] {
    worker.Enter(lab.ClientFd());
    ProbeFailure why = ProbeFailure::kNone;
    conn = OpenKept(backend, 8080, ports, 2, &why);
    if (!conn) return;
    for (int i = 0; i < 3; ++i) echoes.push_back(TimeEcho(*conn, 2));
  });
  ASSERT_TRUE(conn.has_value());
  EXPECT_EQ(conn->endpoint, (ProbeAnswer{backend, 8080}));
  ASSERT_EQ(echoes.size(), 3u);
  for (const TimedProbe& e : echoes) {
    EXPECT_EQ(e.failure, ProbeFailure::kNone);
    EXPECT_GT(e.rtt_s, 0);
  }
  const BackendListener* listener = lab.Listener();
  EXPECT_EQ(listener->TcpEchoed(), 3u);
  EXPECT_EQ(listener->TcpKept(), 1u);
  conn.reset();  // SO_LINGER 0: an RST
  EXPECT_TRUE(Eventually([&] { return listener->TcpKept(); }, 0));
}

TEST_F(ProberTest, ConnectAndUdpProbesNameTheirFailures) {
  LabOptions o = Options("fail");
  o.udp_ports = {5353};
  Lab lab(o);
  const Ipv4 backend = plan::BackendAt(12);
  NsWorker worker;
  SourcePorts ports;
  TimedProbe ok, refused, udp_ok, udp_refused, unreachable;
  worker.Run([&] {
    worker.Enter(lab.ClientFd());
    ok = TimeTcpConnect(backend, 8080, ports, 2);
    refused = TimeTcpConnect(backend, 8081, ports, 2);  // nothing listens there
    udp_ok = TimeUdp(backend, 5353, ports, 2);
    udp_refused = TimeUdp(backend, 5354, ports, 2);
    // A VIP: no rules in this node, so no route for it.
    unreachable = TimeUdp(plan::VipAt(5), 53, ports, 2);
  });
  EXPECT_EQ(ok.failure, ProbeFailure::kNone);
  EXPECT_EQ(ok.answer, (ProbeAnswer{backend, 8080}));
  EXPECT_EQ(refused.failure, ProbeFailure::kRefused);
  EXPECT_EQ(udp_ok.failure, ProbeFailure::kNone);
  EXPECT_EQ(udp_ok.answer, (ProbeAnswer{backend, 5353}));
  EXPECT_EQ(udp_refused.failure, ProbeFailure::kRefused);
  EXPECT_EQ(unreachable.failure, ProbeFailure::kUnreachable);
  EXPECT_EQ(ports.Left(), size_t{SourcePorts::kLast} - SourcePorts::kFirst + 1 - 5)
      << "one source port per probe";
}

// The node's table grows with every new connection through the NAT rules and a flush empties it.
TEST_F(ProberTest, ConntrackFlushEmptiesTheNodeTable) {
  const Availability a = ProbeBackend("iptables-legacy");
  if (!a.available) GTEST_SKIP() << a.reason;
  const GeneratorSpec spec = Spec(10);
  const ServiceSet set = Generate(spec);
  auto bed = MakeBed("iptables-legacy", spec, 0);
  bed->EnsureSynced(set);
  Conntrack ct(bed->lab()->NodeFd(), bed->lab()->NodeNs());
  ct.Flush();
  EXPECT_EQ(ct.GetStats().entries, 0u);
  for (const ServicePort& sp : set.ports) {
    ASSERT_TRUE(ProbeTcp(bed->lab()->ClientFd(), sp.vip, sp.port, 2).has_value()) << sp.name;
  }
  const Conntrack::Stats full = ct.GetStats();
  EXPECT_GE(full.entries, set.ports.size());
  EXPECT_GT(full.max, full.entries);
  ct.Flush();
  EXPECT_EQ(ct.GetStats().entries, 0u);
  // The reference lab's node has no rules, so nothing there tracks connections.
  Conntrack ref(bed->reference_lab()->NodeFd(), bed->reference_lab()->NodeNs());
  const Ipv4 backend = set.ports[0].endpoints[0].ip;
  ASSERT_TRUE(ProbeTcp(bed->reference_lab()->ClientFd(), backend, 8080, 2).has_value());
  EXPECT_EQ(ref.GetStats().entries, 0u);
}

}  // namespace
}  // namespace svcbench
