#include "harness/measure/latency_samples.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "harness/analysis/stats.h"
#include "harness/util/proc_stat.h"

namespace svcbench {
namespace {

std::map<uint32_t, uint32_t> MeasuredPerStream(const std::vector<PlannedProbe>& plan) {
  std::map<uint32_t, uint32_t> n;
  for (const PlannedProbe& p : plan) {
    if (!p.warmup) ++n[p.stream];
  }
  return n;
}

TEST(LatencyPlan, SamplesAreSplitAcrossRoundsAndAddUp) {
  // 7 samples over 3 rounds: 3, 2, 2 per stream.
  uint32_t total[4] = {};
  for (uint32_t round = 0; round < 3; ++round) {
    const auto plan = PlanRound(4, 7, 5, 3, round, 42);
    ASSERT_EQ(plan.size(), 5u + 4u * (round == 0 ? 3u : 2u));
    for (size_t i = 0; i < plan.size(); ++i) {
      EXPECT_EQ(plan[i].warmup, i < 5) << "warm-up probes come first, round " << round;
    }
    for (const auto& [stream, n] : MeasuredPerStream(plan)) {
      ASSERT_LT(stream, 4u);
      EXPECT_EQ(n, round == 0 ? 3u : 2u);
      total[stream] += n;
    }
  }
  for (const uint32_t t : total) EXPECT_EQ(t, 7u);
}

TEST(LatencyPlan, StreamsAreInterleavedDeterministicallyAndDifferPerRound) {
  const auto a = PlanRound(6, 600, 0, 3, 1, 42);
  const auto b = PlanRound(6, 600, 0, 3, 1, 42);
  const auto c = PlanRound(6, 600, 0, 3, 2, 42);
  ASSERT_EQ(a.size(), 1200u);
  std::vector<uint32_t> sa, sb, sc;
  for (const auto& p : a) sa.push_back(p.stream);
  for (const auto& p : b) sb.push_back(p.stream);
  for (const auto& p : c) sc.push_back(p.stream);
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
  // Interleaved: every stream shows up in each sixth of the round, not in one block.
  for (size_t part = 0; part < 6; ++part) {
    std::set<uint32_t> seen(sa.begin() + part * 200, sa.begin() + (part + 1) * 200);
    EXPECT_EQ(seen.size(), 6u) << "part " << part;
  }
}

TEST(LatencyPlan, WarmupCoversStreamsAndNothingIsLostWithoutIt) {
  const auto plan = PlanRound(3, 10, 6, 1, 0, 1);
  std::map<uint32_t, int> warm;
  for (const auto& p : plan) {
    if (p.warmup) ++warm[p.stream];
  }
  EXPECT_EQ(warm, (std::map<uint32_t, int>{{0, 2}, {1, 2}, {2, 2}}));
  EXPECT_EQ(PlanRound(3, 10, 0, 1, 0, 1).size(), 30u);
  EXPECT_TRUE(PlanRound(0, 10, 5, 1, 0, 1).empty());
}

TEST(LatencyPositions, FirstMiddleLastAreRulesetOrderAndRandomStaysInside) {
  SplitMix64 rng(3);
  EXPECT_EQ(PortIndexOf(Position::kFirst, 10, rng), 0u);
  EXPECT_EQ(PortIndexOf(Position::kMiddle, 10, rng), 5u);
  EXPECT_EQ(PortIndexOf(Position::kLast, 10, rng), 9u);
  EXPECT_EQ(PortIndexOf(Position::kMiddle, 1, rng), 0u);
  EXPECT_EQ(PortIndexOf(Position::kLast, 1, rng), 0u);
  std::set<size_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const size_t k = PortIndexOf(Position::kRandom, 5, rng);
    ASSERT_LT(k, 5u);
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_THROW(PortIndexOf(Position::kDirect, 10, rng), std::invalid_argument);
  EXPECT_THROW(PortIndexOf(Position::kFirst, 0, rng), std::invalid_argument);
}

TEST(LatencyNames, RoundTrip) {
  for (const char* name : {"tcp-connect", "udp", "established"}) {
    ASSERT_TRUE(ParseProbeKind(name).has_value()) << name;
    EXPECT_EQ(ProbeKindName(*ParseProbeKind(name)), name);
  }
  for (const char* name : {"first", "middle", "last", "random", "direct", "floor"}) {
    ASSERT_TRUE(ParsePosition(name).has_value()) << name;
    EXPECT_EQ(PositionName(*ParsePosition(name)), name);
  }
  EXPECT_FALSE(ParseProbeKind("tcp").has_value());
  EXPECT_FALSE(ParsePosition("end").has_value());
}

TimedProbe Ok(double rtt) { return {rtt, ProbeFailure::kNone, {}}; }
TimedProbe Failed(ProbeFailure f) { return {0, f, {}}; }

const ResultRow* FindRow(const std::vector<ResultRow>& rows, const std::string& metric,
                         const std::map<std::string, std::string>& labels) {
  for (const auto& r : rows) {
    if (r.metric == metric && r.labels == labels) return &r;
  }
  return nullptr;
}

TEST(LatencyBook, CountsSamplesSubtractsTheFloorMedianAndReportsFailures) {
  LatencyBook book(MakeStreams({ProbeKind::kTcpConnect, ProbeKind::kEstablished},
                               {Position::kFirst, Position::kLast, Position::kFloor}));
  ASSERT_EQ(book.streams().size(), 6u);
  // tcp-connect: first 0, last 1, floor 2; established: first 3, last 4, floor 5.
  for (const double x : {10e-6, 11e-6, 12e-6}) book.Record(0, Ok(x));
  for (const double x : {30e-6, 31e-6}) book.Record(1, Ok(x));
  book.Record(1, Failed(ProbeFailure::kTimeout));
  book.Record(1, Failed(ProbeFailure::kTimeout));
  book.Record(1, Failed(ProbeFailure::kWrongEndpoint));
  for (const double x : {4e-6, 6e-6, 5e-6, 100e-6}) book.Record(2, Ok(x));  // median 5.5 µs
  book.Record(3, Ok(2e-6));
  book.CountFlush();
  book.CountFlush();

  const auto rows = book.Rows();
  const ResultRow* first =
      FindRow(rows, "latency.rtt", {{"probe", "tcp-connect"}, {"position", "first"}});
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->unit, "s");
  EXPECT_EQ(first->samples, (std::vector<double>{10e-6, 11e-6, 12e-6}));
  const ResultRow* last =
      FindRow(rows, "latency.rtt", {{"probe", "tcp-connect"}, {"position", "last"}});
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->samples.size(), 2u) << "failed probes are not samples";
  EXPECT_EQ(book.Failures(1), 3u);

  const ResultRow* over =
      FindRow(rows, "latency.overhead", {{"probe", "tcp-connect"}, {"position", "last"}});
  ASSERT_NE(over, nullptr);
  ASSERT_EQ(over->samples.size(), 2u);
  EXPECT_NEAR(over->samples[0], 30e-6 - 5.5e-6, 1e-15);
  EXPECT_NEAR(over->samples[1], 31e-6 - 5.5e-6, 1e-15);
  EXPECT_EQ(FindRow(rows, "latency.overhead", {{"probe", "tcp-connect"}, {"position", "floor"}}),
            nullptr);
  // established has no floor samples: its rtt is there, an overhead cannot be.
  EXPECT_NE(FindRow(rows, "latency.rtt", {{"probe", "established"}, {"position", "first"}}),
            nullptr);
  EXPECT_NE(FindRow(rows, "latency.rtt", {{"probe", "established"}, {"position", "floor"}}),
            nullptr);
  EXPECT_EQ(FindRow(rows, "latency.overhead", {{"probe", "established"}, {"position", "first"}}),
            nullptr);

  const ResultRow* timeouts =
      FindRow(rows, "latency.failures",
              {{"probe", "tcp-connect"}, {"position", "last"}, {"reason", "timeout"}});
  ASSERT_NE(timeouts, nullptr);
  EXPECT_EQ(timeouts->unit, "count");
  EXPECT_EQ(timeouts->samples, std::vector<double>{2});
  const ResultRow* wrong =
      FindRow(rows, "latency.failures",
              {{"probe", "tcp-connect"}, {"position", "last"}, {"reason", "wrong-endpoint"}});
  ASSERT_NE(wrong, nullptr);
  EXPECT_EQ(wrong->samples, std::vector<double>{1});
  size_t failure_rows = 0;
  for (const auto& r : rows) failure_rows += r.metric == "latency.failures";
  EXPECT_EQ(failure_rows, 2u) << "only reasons that happened";

  const ResultRow* flushes = FindRow(rows, "latency.conntrack.flushes", {});
  ASSERT_NE(flushes, nullptr);
  EXPECT_EQ(flushes->samples, std::vector<double>{2});
}

TEST(ProcStat, ParsesTheAggregateLine) {
  const std::string text =
      "cpu  1000 20 300 5000 40 6 70 8 0 0\n"
      "cpu0 500 10 150 2500 20 3 35 4 0 0\n";
  const auto t = ParseProcStat(text, 100);
  ASSERT_TRUE(t.has_value());
  EXPECT_DOUBLE_EQ(t->busy_s, (1000 + 20 + 300 + 6 + 70) / 100.0);
  EXPECT_DOUBLE_EQ(t->softirq_s, 0.7);
  EXPECT_FALSE(ParseProcStat("cpu0 1 2 3 4 5 6 7\n", 100).has_value());
  EXPECT_FALSE(ParseProcStat("cpu  1 2 3\n", 100).has_value());
  EXPECT_FALSE(ParseProcStat("cpu  1 x 3 4 5 6 7\n", 100).has_value());
  const CpuTimes now = ReadProcStat();
  EXPECT_GT(now.busy_s, 0);
}

}  // namespace
}  // namespace svcbench
