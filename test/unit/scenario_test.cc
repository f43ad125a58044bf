#include "harness/scenario/scenario.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "harness/scenario/yaml_util.h"

namespace svcbench {
namespace {

const std::string kFixtures = SVCBENCH_SOURCE_DIR "/test/fixtures/scenarios/";

// Smallest valid scenario. Its lines, for the positions below:
//   1 name: t
//   2 backends: [iptables-legacy]
//   3 sweep:
//   4   services: [10]
//   5 measurements:
//   6   sync: {}
//   7 (whatever a test appends)
constexpr char kMinimal[] = R"(name: t
backends: [iptables-legacy]
sweep:
  services: [10]
measurements:
  sync: {}
)";

// The error ParseScenario throws for `text` (named "t.yaml"); the test fails if it throws none.
ScenarioError ErrorOf(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    ParseScenario(text, "t.yaml", overrides);
  } catch (const ScenarioError& e) {
    return e;
  }
  ADD_FAILURE() << "no ScenarioError for:\n" << text;
  return ScenarioError("(no error)", -1, -1, "");
}

ScenarioError LoadErrorOf(const std::string& path) {
  try {
    LoadScenario(path);
  } catch (const ScenarioError& e) {
    return e;
  }
  ADD_FAILURE() << "no ScenarioError for " << path;
  return ScenarioError("(no error)", -1, -1, "");
}

// Checks the position fields and the whole one-line message.
::testing::AssertionResult IsError(const ScenarioError& e, const std::string& file, int line,
                                   int col, const std::string& message) {
  const std::string expected =
      file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + message;
  if (e.file == file && e.line == line && e.col == col && e.what() == expected) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "\n  got:      " << e.what() << " (file=" << e.file << " line=" << e.line
         << " col=" << e.col << ")\n  expected: " << expected;
}

// ---- Good paths -------------------------------------------------------------------------------

TEST(ScenarioParse, MinimalScenarioGetsEveryDefault) {
  const Scenario s = ParseScenario(kMinimal, "t.yaml");
  EXPECT_EQ(s.name, "t");
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.backends, std::vector<std::string>{"iptables-legacy"});
  EXPECT_EQ(s.services, std::vector<uint32_t>{10});
  EXPECT_EQ(s.ports_per_service, 1u);
  EXPECT_EQ(s.endpoints_per_service, 2u);
  EXPECT_EQ(s.protocol, Protocol::kTcp);
  ASSERT_TRUE(s.sync.has_value());
  EXPECT_EQ(s.sync->repetitions, 5u);
  EXPECT_FALSE(s.contention.has_value());
  EXPECT_EQ(s.xtables_lock, "private");
  EXPECT_EQ(s.lock_wait_s, 5);
  EXPECT_TRUE(s.slo.empty());
  EXPECT_EQ(s.source_path, "t.yaml");
}

TEST(ScenarioParse, EveryKeyIsRead) {
  const std::string path = kFixtures + "good-full.yaml";
  const Scenario s = LoadScenario(path);
  EXPECT_EQ(s.name, "full.v1_test-A");
  EXPECT_EQ(s.description, "Every key set.\nTwo lines.\n");
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.backends, (std::vector<std::string>{"iptables-nft", "nftables"}));
  EXPECT_EQ(s.services, (std::vector<uint32_t>{1, 64770, 1000000}));
  EXPECT_EQ(s.ports_per_service, 2u);
  EXPECT_EQ(s.endpoints_per_service, 3u);
  EXPECT_EQ(s.protocol, Protocol::kUdp);
  ASSERT_TRUE(s.sync.has_value());
  EXPECT_EQ(s.sync->repetitions, 9u);
  EXPECT_EQ(s.sync->timeout_s, 90);
  ASSERT_TRUE(s.latency.has_value());
  EXPECT_EQ(s.latency->probes, std::vector<std::string>{"udp"});
  EXPECT_EQ(s.latency->positions, (std::vector<std::string>{"last", "first"}));
  EXPECT_EQ(s.latency->samples, 300u);
  EXPECT_EQ(s.latency->warmup, 7u);
  EXPECT_EQ(s.latency->rounds, 3u);
  EXPECT_DOUBLE_EQ(s.latency->timeout_s, 0.25);
  EXPECT_TRUE(s.latency->pin);
  ASSERT_TRUE(s.contention.has_value());
  EXPECT_EQ(s.contention->repetitions, 2u);
  EXPECT_EQ(s.contention->contenders, 8u);
  EXPECT_EQ(s.contention->mix, (std::vector<std::string>{"restore", "agent"}));
  EXPECT_EQ(s.contention->interval_ms, 250);
  EXPECT_EQ(s.contention->wait_s, 1);
  EXPECT_EQ(s.contention->duration_s, 30);
  EXPECT_EQ(s.contention->timeout_s, 90);
  EXPECT_EQ(s.contention->table, "nat");
  EXPECT_EQ(s.xtables_lock, "host");
  EXPECT_EQ(s.lock_wait_s, 2);
  EXPECT_EQ(s.slo, (std::map<std::string, std::string>{{"latency.overhead.p99", "100us"},
                                                       {"sync.full.wall.p50", "1s"}}));
  EXPECT_EQ(s.source_path, path);
}

TEST(ScenarioParse, LargestSeedFits) {
  const Scenario s = ParseScenario(std::string(kMinimal) + "seed: 18446744073709551615\n", "t");
  EXPECT_EQ(s.seed, UINT64_MAX);
}

TEST(ScenarioParse, WaitTakesSecondsMillisecondsOrANumber) {
  const struct {
    const char* text;
    int seconds;
  } kCases[] = {{"5s", 5}, {"3000ms", 3}, {"7", 7}, {"0", 0}, {"600s", 600}};
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.text);
    const Scenario s =
        ParseScenario(std::string(kMinimal) + "xtables: {wait: " + c.text + "}\n", "t.yaml");
    EXPECT_EQ(s.lock_wait_s, c.seconds);
  }
}

TEST(ScenarioParse, EmptySyncAndEmptySectionsMeanDefaults) {
  const Scenario s = ParseScenario(R"(name: t
backends: [iptables-legacy]
sweep:
  services: [10]
workload:
xtables:
slo:
measurements:
  sync:
)",
                                   "t.yaml");
  ASSERT_TRUE(s.sync.has_value());
  EXPECT_EQ(s.sync->repetitions, 5u);
  EXPECT_EQ(s.endpoints_per_service, 2u);
  EXPECT_EQ(s.lock_wait_s, 5);
}

TEST(ScenarioParse, LatencyDefaultsFollowTheProtocol) {
  const Scenario tcp = ParseScenario(std::string(kMinimal) + "  latency:\n", "t.yaml");
  ASSERT_TRUE(tcp.latency.has_value());
  EXPECT_EQ(tcp.latency->probes, (std::vector<std::string>{"tcp-connect", "established"}));
  EXPECT_EQ(tcp.latency->positions,
            (std::vector<std::string>{"first", "middle", "last", "random", "direct"}));
  EXPECT_EQ(tcp.latency->samples, 5000u);
  EXPECT_EQ(tcp.latency->warmup, 100u);
  EXPECT_EQ(tcp.latency->rounds, 5u);
  EXPECT_DOUBLE_EQ(tcp.latency->timeout_s, 1.0);
  EXPECT_FALSE(tcp.latency->pin);
  EXPECT_FALSE(tcp.throughput.has_value());
  const Scenario udp =
      ParseScenario(std::string(kMinimal) + "  latency: {}\n", "t.yaml", {"workload.protocol=udp"});
  EXPECT_EQ(udp.latency->probes, std::vector<std::string>{"udp"});
}

TEST(ScenarioParse, LatencyRoundsGiveWayToFewSamples) {
  const Scenario s = ParseScenario(std::string(kMinimal) + "  latency: {samples: 3}\n", "t.yaml");
  EXPECT_EQ(s.latency->rounds, 3u);
}

TEST(ScenarioParse, LatencyKeys) {
  const Scenario s = ParseScenario(std::string(kMinimal) +
                                       "  latency: {probes: [established], positions: [random], "
                                       "samples: 10, warmup: 0, rounds: 10, timeout: 2, "
                                       "pin: false}\n",
                                   "t.yaml");
  EXPECT_EQ(s.latency->probes, std::vector<std::string>{"established"});
  EXPECT_EQ(s.latency->positions, std::vector<std::string>{"random"});
  EXPECT_EQ(s.latency->samples, 10u);
  EXPECT_EQ(s.latency->warmup, 0u);
  EXPECT_EQ(s.latency->rounds, 10u);
  EXPECT_DOUBLE_EQ(s.latency->timeout_s, 2.0);
  EXPECT_FALSE(s.latency->pin);
}

TEST(ScenarioParse, ThroughputDefaultsAndKeys) {
  const Scenario d = ParseScenario(std::string(kMinimal) + "  throughput:\n", "t.yaml");
  ASSERT_TRUE(d.throughput.has_value());
  EXPECT_EQ(d.throughput->concurrency, 8u);
  EXPECT_DOUBLE_EQ(d.throughput->duration_s, 6.0);
  EXPECT_EQ(d.throughput->rounds, 3u);
  EXPECT_DOUBLE_EQ(d.throughput->timeout_s, 1.0);
  EXPECT_FALSE(d.throughput->pin);
  const Scenario s = ParseScenario(std::string(kMinimal) +
                                       "  throughput: {concurrency: 32, duration: 1500ms, "
                                       "rounds: 2, timeout: 300ms, pin: true}\n",
                                   "t.yaml");
  EXPECT_EQ(s.throughput->concurrency, 32u);
  EXPECT_DOUBLE_EQ(s.throughput->duration_s, 1.5);
  EXPECT_EQ(s.throughput->rounds, 2u);
  EXPECT_DOUBLE_EQ(s.throughput->timeout_s, 0.3);
  EXPECT_TRUE(s.throughput->pin);
}

TEST(ScenarioShipped, LatencySweepParses) {
  const Scenario s = LoadScenario(SVCBENCH_SOURCE_DIR "/scenarios/latency-sweep.yaml");
  EXPECT_EQ(s.name, "latency-sweep");
  EXPECT_EQ(s.backends,
            (std::vector<std::string>{"iptables-legacy", "iptables-nft", "iptc", "nftables"}));
  EXPECT_EQ(s.services, (std::vector<uint32_t>{1000, 5000, 10000, 30000, 100000}));
  EXPECT_EQ(s.endpoints_per_service, 2u);
  ASSERT_TRUE(s.sync.has_value());
  EXPECT_EQ(s.sync->repetitions, 1u);
  ASSERT_TRUE(s.latency.has_value());
  EXPECT_EQ(s.latency->probes, (std::vector<std::string>{"tcp-connect", "established"}));
  ASSERT_TRUE(s.throughput.has_value());
}

TEST(ScenarioShipped, SmokeParses) {
  const Scenario s = LoadScenario(SVCBENCH_SOURCE_DIR "/scenarios/smoke.yaml");
  EXPECT_EQ(s.name, "smoke");
  EXPECT_EQ(s.backends, (std::vector<std::string>{"iptables-legacy", "iptables-nft"}));
  EXPECT_EQ(s.services, (std::vector<uint32_t>{1000, 5000}));
  EXPECT_EQ(s.endpoints_per_service, 2u);
  ASSERT_TRUE(s.sync.has_value());
  EXPECT_EQ(s.sync->repetitions, 3u);
}

TEST(ScenarioShipped, SyncSweepParses) {
  const Scenario s = LoadScenario(SVCBENCH_SOURCE_DIR "/scenarios/sync-sweep.yaml");
  EXPECT_EQ(s.name, "sync-sweep");
  EXPECT_EQ(s.backends, (std::vector<std::string>{"iptables-legacy", "iptables-nft"}));
  EXPECT_EQ(s.services, (std::vector<uint32_t>{1000, 2000, 5000, 10000, 20000, 50000, 100000}));
  ASSERT_TRUE(s.sync.has_value());
  EXPECT_EQ(s.sync->repetitions, 3u);
}

// ---- Overrides --------------------------------------------------------------------------------

TEST(ScenarioOverrides, ReplaceValuesInOrder) {
  const Scenario s = ParseScenario(
      kMinimal, "t.yaml",
      {"sweep.services=[10000]", "backends=[iptables-nft]", "measurements.sync.repetitions=3",
       "workload.protocol=udp", "sweep.services=[20000, 30000]"});
  EXPECT_EQ(s.services, (std::vector<uint32_t>{20000, 30000}));  // the later --set wins
  EXPECT_EQ(s.backends, std::vector<std::string>{"iptables-nft"});
  ASSERT_TRUE(s.sync.has_value());
  EXPECT_EQ(s.sync->repetitions, 3u);
  EXPECT_EQ(s.protocol, Protocol::kUdp);
}

TEST(ScenarioOverrides, CreateMissingMaps) {
  // kMinimal has no workload and no xtables section.
  const Scenario s =
      ParseScenario(kMinimal, "t.yaml", {"workload.endpoints_per_service=4", "xtables.wait=9s"});
  EXPECT_EQ(s.endpoints_per_service, 4u);
  EXPECT_EQ(s.lock_wait_s, 9);
}

TEST(ScenarioOverrides, FillAnEmptySync) {
  const Scenario s = ParseScenario(R"(name: t
backends: [iptables-legacy]
sweep: {services: [10]}
measurements:
  sync:
)",
                                   "t.yaml", {"measurements.sync.repetitions=2"});
  ASSERT_TRUE(s.sync.has_value());
  EXPECT_EQ(s.sync->repetitions, 2u);
}

TEST(ScenarioOverrides, SloKeysKeepTheirDots) {
  const Scenario s = ParseScenario(kMinimal, "t.yaml", {"slo.latency.overhead.p99=100us"});
  EXPECT_EQ(s.slo, (std::map<std::string, std::string>{{"latency.overhead.p99", "100us"}}));
}

TEST(ScenarioOverrides, SourceYamlIsTheDocumentAfterOverrides) {
  const Scenario s =
      ParseScenario(kMinimal, "t.yaml", {"sweep.services=[10000]", "workload.protocol=udp"});
  EXPECT_NE(s.source_yaml.find("services: [10000]"), std::string::npos) << s.source_yaml;
  EXPECT_NE(s.source_yaml.find("protocol: udp"), std::string::npos) << s.source_yaml;

  // Parsing the copy again gives the same scenario: it is what a later run can replay.
  const Scenario again = ParseScenario(s.source_yaml, "copy.yaml");
  EXPECT_EQ(again.services, s.services);
  EXPECT_EQ(again.protocol, s.protocol);
  EXPECT_EQ(again.backends, s.backends);
  EXPECT_EQ(again.source_yaml, s.source_yaml);
}

TEST(ScenarioOverrides, SourceYamlKeepsStringsStrings) {
  const Scenario s = LoadScenario(kFixtures + "good-full.yaml", {"description=\"123\""});
  const Scenario again = ParseScenario(s.source_yaml, "copy.yaml");
  EXPECT_EQ(again.description, "123");
  EXPECT_EQ(again.slo, s.slo);
  EXPECT_EQ(again.lock_wait_s, 2);
}

// ---- Errors in the file -----------------------------------------------------------------------

TEST(ScenarioErrors, FileThatDoesNotExist) {
  const std::string path = kFixtures + "no-such-file.yaml";
  EXPECT_TRUE(IsError(LoadErrorOf(path), path, 0, 0, "cannot read: No such file or directory"));
}

TEST(ScenarioErrors, DirectoryInsteadOfFile) {
  EXPECT_TRUE(IsError(LoadErrorOf(kFixtures), kFixtures, 0, 0, "cannot read: Is a directory"));
}

TEST(ScenarioErrors, NotYaml) {
  // The flow list on line 2 is never closed; yaml-cpp notices at the next key.
  const std::string path = kFixtures + "bad-syntax.yaml";
  EXPECT_TRUE(IsError(LoadErrorOf(path), path, 3, 6,
                      "expected valid YAML, got a syntax error (end of sequence flow not found)"));
}

TEST(ScenarioErrors, EmptyFile) {
  const std::string path = kFixtures + "empty.yaml";
  EXPECT_TRUE(IsError(LoadErrorOf(path), path, 1, 1,
                      "(top level): expected a map of scenario keys (name, backends, sweep, ...), "
                      "got an empty document"));
}

TEST(ScenarioErrors, OnlyComments) {
  EXPECT_TRUE(IsError(ErrorOf("# nothing yet\n"), "t.yaml", 1, 1,
                      "(top level): expected a map of scenario keys (name, backends, sweep, ...), "
                      "got an empty document"));
}

TEST(ScenarioErrors, TopLevelList) {
  EXPECT_TRUE(IsError(ErrorOf("# a list\n- name: t\n"), "t.yaml", 2, 1,
                      "(top level): expected a map of scenario keys (name, backends, sweep, ...), "
                      "got a list"));
}

TEST(ScenarioErrors, TopLevelScalar) {
  EXPECT_TRUE(IsError(ErrorOf("smoke\n"), "t.yaml", 1, 1,
                      "(top level): expected a map of scenario keys (name, backends, sweep, ...), "
                      "got the string 'smoke'"));
}

TEST(ScenarioErrors, TwoDocuments) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "---\nname: u\n"), "t.yaml", 8, 1,
                      "expected one YAML document, got 2 documents"));
}

TEST(ScenarioErrors, UnknownKeySuggestsTheNearest) {
  const std::string path = kFixtures + "bad-unknown-key.yaml";
  EXPECT_TRUE(IsError(LoadErrorOf(path), path, 7, 3,
                      "workload.endpoint_per_service: expected a key of workload "
                      "(ports_per_service, endpoints_per_service, protocol), got an unknown key; "
                      "did you mean 'endpoints_per_service'?"));
}

TEST(ScenarioErrors, UnknownKeyFarFromAnyHasNoSuggestion) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "colour: blue\n"), "t.yaml", 7, 1,
                      "colour: expected a key of a scenario (name, description, seed, backends, "
                      "sweep, workload, measurements, xtables, slo), got an unknown key"));
}

TEST(ScenarioErrors, StringWhereIntegerExpected) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "workload: {ports_per_service: one}\n"),
                      "t.yaml", 7, 31,
                      "workload.ports_per_service: expected an integer in 1..64, got the string "
                      "'one'"));
}

TEST(ScenarioErrors, ListWhereMapExpected) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-nft]\nsweep: [1000]\n"), "t.yaml", 3, 8,
                      "sweep: expected a map with keys services, got a list"));
}

TEST(ScenarioErrors, ScalarWhereMeasurementOptionsExpected) {
  EXPECT_TRUE(IsError(
      ErrorOf("name: t\nbackends: [iptables-nft]\nsweep: {services: [1]}\n"
              "measurements:\n  sync: 5\n"),
      "t.yaml", 5, 9,
      "measurements.sync: expected a map with keys repetitions, timeout, got the number 5"));
}

TEST(ScenarioErrors, QuotedNumberIsAString) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "seed: \"5\"\n"), "t.yaml", 7, 7,
                      "seed: expected an unsigned 64-bit integer, got the string '5'"));
}

TEST(ScenarioErrors, MapWhereListExpected) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: {iptables-legacy: 1}\n"), "t.yaml", 2, 11,
                      "backends: expected a non-empty list of backend names, got a map"));
}

TEST(ScenarioErrors, NegativeWhereUnsignedExpected) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "seed: -1\n"), "t.yaml", 7, 7,
                      "seed: expected an unsigned 64-bit integer, got the number -1"));
}

TEST(ScenarioErrors, FloatWhereIntegerExpected) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "workload:\n  endpoints_per_service: 2.5\n"),
                      "t.yaml", 8, 26,
                      "workload.endpoints_per_service: expected an integer in 1..1000, got the "
                      "number 2.5"));
}

TEST(ScenarioErrors, SeedTooLargeForUint64) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "seed: 18446744073709551616\n"), "t.yaml", 7,
                      7,
                      "seed: expected an unsigned 64-bit integer, got the number "
                      "18446744073709551616 (too large)"));
}

TEST(ScenarioErrors, NullWhereValueExpectedPointsAtTheKey) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "seed:\n"), "t.yaml", 7, 1,
                      "seed: expected an unsigned 64-bit integer, got null"));
}

TEST(ScenarioErrors, OutOfRange) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "workload: {ports_per_service: 65}\n"),
                      "t.yaml", 7, 31,
                      "workload.ports_per_service: expected an integer in 1..64, got the number "
                      "65"));
}

TEST(ScenarioErrors, SweepSizeOutOfRange) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-legacy]\nsweep:\n"
                              "  services: [1000, 0]\n"),
                      "t.yaml", 4, 20,
                      "sweep.services[1]: expected an integer in 1..1000000, got the number 0"));
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-legacy]\nsweep:\n"
                              "  services: [1000001]\n"),
                      "t.yaml", 4, 14,
                      "sweep.services[0]: expected an integer in 1..1000000, got the number "
                      "1000001"));
}

TEST(ScenarioErrors, RepetitionsOutOfRange) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-legacy]\nsweep: {services: [1]}\n"
                              "measurements:\n  sync: {repetitions: 0}\n"),
                      "t.yaml", 5, 23,
                      "measurements.sync.repetitions: expected an integer in 1..1000, got the "
                      "number 0"));
}

TEST(ScenarioErrors, EmptySweep) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-legacy]\nsweep:\n  services: []\n"),
                      "t.yaml", 4, 13,
                      "sweep.services: expected a non-empty list of service counts (1..1000000), "
                      "got an empty list"));
}

TEST(ScenarioErrors, UnknownBackendSuggestsAndListsValidOnes) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-nft, iptables-legasy]\n"), "t.yaml", 2,
                      26,
                      "backends[1]: expected a backend name (one of iptables-legacy, "
                      "iptables-nft, iptc, nftables, nftables-cli, nftables-shared-map, "
                      "nftables-cli-shared-map, ebpf, ipvs), got the string "
                      "'iptables-legasy'; did you mean 'iptables-legacy'?"));
}

TEST(ScenarioErrors, UnknownBackendFarFromAnyHasNoSuggestion) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends:\n  - cilium\n"), "t.yaml", 3, 5,
                      "backends[0]: expected a backend name (one of iptables-legacy, "
                      "iptables-nft, iptc, nftables, nftables-cli, nftables-shared-map, "
                      "nftables-cli-shared-map, ebpf, ipvs), got the string "
                      "'cilium'"));
}

TEST(ScenarioErrors, DuplicatedBackend) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends:\n  - iptables-nft\n  - nftables\n"
                              "  - iptables-nft\n"),
                      "t.yaml", 5, 5,
                      "backends[2]: expected each backend once, got 'iptables-nft' again (first "
                      "at t.yaml:3:5)"));
}

TEST(ScenarioErrors, DuplicatedKey) {
  const std::string path = kFixtures + "bad-duplicate-key.yaml";
  EXPECT_TRUE(IsError(LoadErrorOf(path), path, 8, 5,
                      "measurements.sync.repetitions: expected each key once, got 'repetitions' "
                      "again (first at " +
                          path + ":7:5)"));
}

TEST(ScenarioErrors, DuplicatedTopLevelKey) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "name: u\n"), "t.yaml", 7, 1,
                      "name: expected each key once, got 'name' again (first at t.yaml:1:1)"));
}

TEST(ScenarioErrors, MissingRequiredKeyPointsAtTheEnclosingMap) {
  EXPECT_TRUE(IsError(ErrorOf("# no backends\nname: t\nsweep: {services: [1]}\n"), "t.yaml", 2, 1,
                      "backends: expected a non-empty list of backend names, got no 'backends' "
                      "key (it is required)"));
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-nft]\nsweep:\n  servces: [1]\n"),
                      "t.yaml", 4, 3,
                      "sweep.servces: expected a key of sweep (services), got an unknown key; did "
                      "you mean 'services'?"));
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-nft]\nsweep: {}\n"), "t.yaml", 3, 8,
                      "sweep.services: expected a non-empty list of service counts (1..1000000), "
                      "got no 'services' key (it is required)"));
}

TEST(ScenarioErrors, MissingMeasurements) {
  EXPECT_TRUE(IsError(
      ErrorOf("name: t\nbackends: [iptables-nft]\nsweep: {services: [1]}\n"), "t.yaml", 1, 1,
      "measurements: expected a map of at least one measurement (available: "
      "sync, latency, throughput, contention), got no 'measurements' key (it is required)"));
}

TEST(ScenarioErrors, EmptyMeasurements) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-nft]\nsweep: {services: [1]}\n"
                              "measurements: {}\n"),
                      "t.yaml", 4, 15,
                      "measurements: expected a map of at least one measurement (available: "
                      "sync, latency, throughput, contention), got an empty map"));
}

TEST(ScenarioErrors, MeasurementNotImplementedYet) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  update: {changes: 100}\n"), "t.yaml", 7, 3,
                      "measurements.update: measurement 'update' is not implemented yet "
                      "(available: sync, latency, throughput, contention)"));
}

TEST(ScenarioErrors, UnknownMeasurementSuggests) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  throughputt: {}\n"), "t.yaml", 7, 3,
                      "measurements.throughputt: expected a measurement (available: sync, latency, "
                      "throughput, contention), got an unknown key; did you mean 'throughput'?"));
}

TEST(ScenarioErrors, UnknownSyncOption) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-nft]\nsweep: {services: [1]}\n"
                              "measurements:\n  sync: {repetitons: 3}\n"),
                      "t.yaml", 5, 10,
                      "measurements.sync.repetitons: expected a key of measurements.sync "
                      "(repetitions, timeout), got an unknown key; did you mean 'repetitions'?"));
}

TEST(ScenarioErrors, LatencyProbeOfTheOtherProtocol) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  latency: {probes: [tcp-connect, udp]}\n"),
                      "t.yaml", 7, 35,
                      "measurements.latency.probes[1]: expected a probe of a tcp workload "
                      "(tcp-connect, established), got the string 'udp' (it needs "
                      "workload.protocol: udp)"));
}

TEST(ScenarioErrors, LatencyBadValues) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  latency: {positions: [first, lsat]}\n"),
                      "t.yaml", 7, 32,
                      "measurements.latency.positions[1]: expected one of first, middle, last, "
                      "random, direct, got the string 'lsat'; did you mean 'last'?"));
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  latency: {positions: [last, last]}\n"),
                      "t.yaml", 7, 31,
                      "measurements.latency.positions[1]: expected each name once, got 'last' "
                      "again (first at t.yaml:7:25)"));
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  latency: {timeout: 1.5s}\n"), "t.yaml", 7,
                      22,
                      "measurements.latency.timeout: expected a duration in 1..60000 ms (like "
                      "250ms, 2s or 2), got the string '1.5s'"));
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  latency: {pin: yes}\n"), "t.yaml", 7, 18,
                      "measurements.latency.pin: expected true or false, got the string 'yes'"));
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  latency: {samples: 3, rounds: 4}\n"),
                      "t.yaml", 7, 33,
                      "measurements.latency.rounds: expected at most samples (3) rounds, got the "
                      "number 4"));
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  latency: {sample: 3}\n"), "t.yaml", 7, 13,
                      "measurements.latency.sample: expected a key of measurements.latency "
                      "(probes, positions, samples, warmup, rounds, timeout, pin), got an unknown "
                      "key; did you mean 'samples'?"));
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  latency: {samples: 0}\n"), "t.yaml", 7, 22,
                      "measurements.latency.samples: expected an integer in 1..1000000, got the "
                      "number 0"));
}

TEST(ScenarioErrors, ThroughputNeedsTcp) {
  EXPECT_TRUE(IsError(
      ErrorOf(std::string(kMinimal) + "  throughput: {concurrency: 4}\n",
              {"workload.protocol=udp"}),
      "t.yaml", 7, 15,
      "measurements.throughput: throughput counts TCP connections: it needs workload.protocol: "
      "tcp"));
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  throughput: {duration: 50ms}\n"), "t.yaml",
                      7, 26,
                      "measurements.throughput.duration: expected a duration in 100..3600000 ms "
                      "(like 250ms, 2s or 2), got the string '50ms'"));
}

TEST(ScenarioErrors, SweepDoesNotFitTheAddressPlan) {
  // 100000 services x 1000 endpoints wrap the backend block ~1538 times; at 64 ports each wrap
  // needs 64 target ports, far more than 8080..65535 holds. 1000 services fit.
  EXPECT_TRUE(IsError(ErrorOf("name: t\nbackends: [iptables-nft]\nsweep:\n"
                              "  services: [1000, 100000]\n"
                              "workload: {ports_per_service: 64, endpoints_per_service: 1000}\n"
                              "measurements: {sync: {}}\n"),
                      "t.yaml", 4, 20,
                      "sweep.services[1]: expected a service count that fits the address plan, "
                      "got 100000 (100000 services x 64 ports x 1000 endpoints do not fit the "
                      "address plan's ports)"));
}

TEST(ScenarioErrors, WaitNotWholeSeconds) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "xtables:\n  wait: 250ms\n"), "t.yaml", 8, 9,
                      "xtables.wait: expected a whole number of seconds in 0..600 (like 5s, "
                      "5000ms or 5), got the string '250ms'"));
}

TEST(ScenarioErrors, WaitTooLong) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "xtables:\n  wait: 601s\n"), "t.yaml", 8, 9,
                      "xtables.wait: expected a whole number of seconds in 0..600 (like 5s, "
                      "5000ms or 5), got the string '601s'"));
}

TEST(ScenarioParse, SyncTimeoutDefaultsAndOverrides) {
  EXPECT_EQ(ParseScenario(kMinimal, "t.yaml").sync->timeout_s, 600);
  const Scenario s = ParseScenario(kMinimal, "t.yaml", {"measurements.sync.timeout=120s"});
  EXPECT_EQ(s.sync->timeout_s, 120);
}

TEST(ScenarioErrors, SyncTimeoutZero) {
  // Line 6 is `  sync: {}`; the override replaces it, so the error points at the --set.
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"measurements.sync.timeout=0"}), "--set", 1, 27,
                      "measurements.sync.timeout: expected a whole number of seconds in 1..86400 "
                      "(like 5s, 5000ms or 5), got the number 0"));
}

TEST(ScenarioParse, ContentionDefaults) {
  const Scenario s = ParseScenario(std::string(kMinimal) + "  contention:\n", "t.yaml");
  ASSERT_TRUE(s.contention.has_value());
  EXPECT_EQ(s.contention->repetitions, 1u);
  EXPECT_EQ(s.contention->contenders, 4u);
  EXPECT_EQ(s.contention->mix, std::vector<std::string>{"agent"});
  EXPECT_EQ(s.contention->interval_ms, 100);
  EXPECT_EQ(s.contention->wait_s, 5);  // xtables.wait's default
  EXPECT_EQ(s.contention->duration_s, 20);
  EXPECT_EQ(s.contention->timeout_s, 300);
  EXPECT_EQ(s.contention->table, "filter");
}

TEST(ScenarioParse, ContentionWaitFollowsXtablesWaitUnlessSet) {
  const std::string text = std::string(kMinimal) + "  contention: {}\nxtables: {wait: 9s}\n";
  EXPECT_EQ(ParseScenario(text, "t.yaml").contention->wait_s, 9);
  EXPECT_EQ(ParseScenario(text, "t.yaml", {"measurements.contention.wait=2s"}).contention->wait_s,
            2);
}

TEST(ScenarioParse, ContentionIntervalTakesMillisecondsSecondsOrZero) {
  const struct {
    const char* text;
    int ms;
  } kCases[] = {{"100ms", 100}, {"2s", 2000}, {"0", 0}, {"0ms", 0}, {"60s", 60000}};
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.text);
    const Scenario s = ParseScenario(kMinimal, "t.yaml",
                                     {std::string("measurements.contention.interval=") + c.text});
    EXPECT_EQ(s.contention->interval_ms, c.ms);
  }
}

TEST(ScenarioErrors, ContentionIntervalNeedsAUnit) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  contention: {interval: 100}\n"), "t.yaml",
                      7, 26,
                      "measurements.contention.interval: expected a duration in 0..60000 ms "
                      "(like 100ms or 1s), got the number 100"));
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  contention: {interval: 61s}\n"), "t.yaml",
                      7, 26,
                      "measurements.contention.interval: expected a duration in 0..60000 ms "
                      "(like 100ms or 1s), got the string '61s'"));
}

TEST(ScenarioErrors, ContentionWaitZeroWouldWaitForever) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  contention: {wait: 0}\n"), "t.yaml", 7, 22,
                      "measurements.contention.wait: expected a whole number of seconds in "
                      "1..600 (like 5s, 5000ms or 5), got the number 0"));
}

TEST(ScenarioErrors, ContentionMixSuggests) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "  contention: {mix: [agent, restor]}\n"),
                      "t.yaml", 7, 29,
                      "measurements.contention.mix[1]: expected one of agent, restore, got the "
                      "string 'restor'; did you mean 'restore'?"));
}

TEST(ScenarioErrors, ContentionLockIsTheRunsXtablesLock) {
  // One lock file serves the big writer (the driver) and the contenders: xtables.lock.
  EXPECT_TRUE(IsError(
      ErrorOf(std::string(kMinimal) + "  contention: {lock: host}\n"), "t.yaml", 7, 16,
      "measurements.contention.lock: expected a key of measurements.contention (repetitions, "
      "contenders, mix, interval, wait, duration, timeout, table), got an unknown key"));
}

TEST(ScenarioErrors, ContentionTableIsFilterOrNat) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"measurements.contention.table=mangle"}), "--set", 1, 31,
                      "measurements.contention.table: expected one of filter, nat, got the "
                      "string 'mangle'"));
}

TEST(ScenarioShipped, ContentionParses) {
  const Scenario s = LoadScenario(SVCBENCH_SOURCE_DIR "/scenarios/contention.yaml");
  EXPECT_EQ(s.services, (std::vector<uint32_t>{10000, 50000}));
  EXPECT_EQ(s.backends, (std::vector<std::string>{"iptables-legacy", "iptables-nft", "nftables"}));
  ASSERT_TRUE(s.contention.has_value());
  EXPECT_EQ(s.contention->contenders, 4u);
  EXPECT_EQ(s.contention->wait_s, 5);
  EXPECT_EQ(s.lock_wait_s, 5);
  EXPECT_EQ(s.xtables_lock, "private");
}

TEST(ScenarioErrors, UnknownLockSuggests) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "xtables:\n  lock: hots\n"), "t.yaml", 8, 9,
                      "xtables.lock: expected one of private, host, got the string 'hots'; did "
                      "you mean 'host'?"));
}

TEST(ScenarioErrors, ProtocolIsCaseSensitive) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "workload:\n  protocol: TCP\n"), "t.yaml", 8,
                      13,
                      "workload.protocol: expected one of tcp, udp, got the string 'TCP'; did "
                      "you mean 'tcp'?"));
}

TEST(ScenarioErrors, NameWithSpace) {
  EXPECT_TRUE(IsError(ErrorOf("name: my scenario\n"), "t.yaml", 1, 7,
                      "name: expected a name of letters, digits, '.', '_' and '-', got the "
                      "string 'my scenario'"));
}

TEST(ScenarioErrors, NonScalarKey) {
  EXPECT_TRUE(IsError(ErrorOf("name: t\n? [a, b]\n: c\n"), "t.yaml", 2, 3,
                      "(top level): expected a string key, got a list"));
}

TEST(ScenarioErrors, SloTargetMustBeScalar) {
  EXPECT_TRUE(IsError(ErrorOf(std::string(kMinimal) + "slo:\n  sync.full.wall.p50: [1s]\n"),
                      "t.yaml", 8, 23,
                      "slo.sync.full.wall.p50: expected a target like 100us or 1s, got a list"));
}

TEST(ScenarioErrors, MultiLineValueStaysOnOneLine) {
  const ScenarioError e = ErrorOf("name: |\n  two\n  lines\n");
  EXPECT_TRUE(IsError(e, "t.yaml", 1, 7,
                      "name: expected a name of letters, digits, '.', '_' and '-', got the "
                      "string 'two\\nlines\\n'"));
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
}

TEST(ScenarioErrors, AliasExpansionIsBounded) {
  // Each level copies the one before ten times: 10^5 copies of `[1]` once expanded. yaml-cpp
  // resolves aliases before we see them, so the error can only point at the anchored node.
  const ScenarioError e = ErrorOf(
      "a: &a [1]\n"
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n");
  EXPECT_EQ(e.file, "t.yaml");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.col, 4);
  EXPECT_THAT(e.what(), ::testing::StartsWith("t.yaml:1:4: f["));
  EXPECT_THAT(e.what(), ::testing::EndsWith(
                            ": expected at most 100000 YAML nodes, got more (aliases expand into "
                            "copies)"));
}

// ---- Errors in --set --------------------------------------------------------------------------

TEST(ScenarioSetErrors, NoEqualsSign) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"sweep.services[10000]"}), "--set", 1, 1,
                      "'sweep.services[10000]': expected KEY=VALUE, got no '='"));
}

TEST(ScenarioSetErrors, EmptyKey) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"=3"}), "--set", 1, 1,
                      "'=3': expected KEY=VALUE, got an empty KEY"));
}

TEST(ScenarioSetErrors, EmptyNameInKey) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"sweep..services=[1]"}), "--set", 1, 7,
                      "'sweep..services': expected KEY as names of letters, digits, '_' and '-' "
                      "joined by '.', got an empty name"));
}

TEST(ScenarioSetErrors, BadCharacterInKey) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"sweep.services[0]=1"}), "--set", 1, 15,
                      "'sweep.services[0]': expected KEY as names of letters, digits, '_' and "
                      "'-' joined by '.', got '['"));
}

TEST(ScenarioSetErrors, ValueIsNotYaml) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"sweep.services=[10000"}), "--set", 1, 22,
                      "sweep.services: expected valid YAML, got a syntax error (end of sequence "
                      "flow not found)"));
}

TEST(ScenarioSetErrors, LineIsTheOverrideNumber) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"seed=1", "workload.protocol=sctp"}), "--set", 2, 19,
                      "workload.protocol: expected one of tcp, udp, got the string 'sctp'"));
}

TEST(ScenarioSetErrors, ElementOfValueIsPointedAt) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"sweep.services=[1000, -5]"}), "--set", 1, 23,
                      "sweep.services[1]: expected an integer in 1..1000000, got the number -5"));
}

TEST(ScenarioSetErrors, EmptyValueIsNull) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"backends="}), "--set", 1, 10,
                      "backends: expected a non-empty list of backend names, got null"));
}

TEST(ScenarioSetErrors, UnknownKeyPointsAtTheOverride) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"workload.endpoint_per_service=3"}), "--set", 1, 10,
                      "workload.endpoint_per_service: expected a key of workload "
                      "(ports_per_service, endpoints_per_service, protocol), got an unknown key; "
                      "did you mean 'endpoints_per_service'?"));
}

TEST(ScenarioSetErrors, UnknownSectionPointsAtTheOverride) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"workloads.protocol=udp"}), "--set", 1, 1,
                      "workloads: expected a key of a scenario (name, description, seed, "
                      "backends, sweep, workload, measurements, xtables, slo), got an unknown "
                      "key; did you mean 'workload'?"));
}

TEST(ScenarioSetErrors, NotImplementedMeasurementPointsAtTheOverride) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"measurements.update.changes=10"}), "--set", 1, 14,
                      "measurements.update: measurement 'update' is not implemented yet "
                      "(available: sync, latency, throughput, contention)"));
}

TEST(ScenarioSetErrors, KeyBelowAScalar) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"name.x=1"}), "--set", 1, 1,
                      "name: expected a map to set 'x' in, got the string 't' (at t.yaml:1:7)"));
}

TEST(ScenarioSetErrors, DuplicateKeyInValue) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"workload={protocol: tcp, protocol: udp}"}), "--set", 1,
                      26,
                      "workload.protocol: expected each key once, got 'protocol' again (first at "
                      "--set:1:11)"));
}

TEST(ScenarioSetErrors, QuotedNumberIsAString) {
  EXPECT_TRUE(IsError(ErrorOf(kMinimal, {"measurements.sync.repetitions=\"3\""}), "--set", 1, 31,
                      "measurements.sync.repetitions: expected an integer in 1..1000, got the "
                      "string '3'"));
}

// ---- Helpers ----------------------------------------------------------------------------------

TEST(ScenarioYamlUtil, EditDistanceCountsASwapAsOne) {
  using scenario_internal::EditDistance;
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("sync", ""), 4u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("protocol", "protcool"), 1u);
}

TEST(ScenarioYamlUtil, SuggestOnlyWhenClose) {
  using scenario_internal::Suggest;
  const std::vector<std::string> names = {"iptables-legacy", "iptables-nft", "nftables"};
  EXPECT_EQ(Suggest("nftable", names), "nftables");
  EXPECT_EQ(Suggest("IPTABLES-NFT", names), "iptables-nft");
  EXPECT_EQ(Suggest("cilium", names), std::nullopt);
  EXPECT_EQ(Suggest("x", {"y"}), "y");  // a one-letter word may differ by one letter
  EXPECT_EQ(Suggest("ab", {"cd"}), std::nullopt);
}

TEST(ScenarioYamlUtil, QuoteKeepsOneLineAndShortens) {
  using scenario_internal::Quote;
  EXPECT_EQ(Quote("a\nb\tc"), "'a\\nb\\tc'");
  EXPECT_EQ(Quote(std::string(100, 'x')), "'" + std::string(60, 'x') + "...'");
}

}  // namespace
}  // namespace svcbench
