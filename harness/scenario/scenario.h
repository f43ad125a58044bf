// A scenario: what to vary and what to measure, validated, with every default filled in.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/model/service_set.h"

namespace svcbench {

struct SyncOptions {
  uint32_t repetitions = 5;  // cold and warm syncs per cell
  // A commit running longer fails the cell, and the backend's larger sizes are skipped.
  int timeout_s = 600;
};

// measurements.latency (docs/metrics.md, latency).
struct LatencyOptions {
  // Probe kinds: tcp-connect and established need a tcp workload, udp a udp one. The default
  // is every kind the workload's protocol allows.
  std::vector<std::string> probes;
  // first, middle, last, random, direct; the floor (the reference lab) is always probed.
  std::vector<std::string> positions = {"first", "middle", "last", "random", "direct"};
  uint32_t samples = 5000;  // per probe kind and position, over all rounds; warm-up not included
  uint32_t warmup = 100;    // probes discarded at the start of every round
  uint32_t rounds = 5;      // samples are split across rounds; backends interleave between them
  double timeout_s = 1.0;   // a probe without an answer by then fails (and is counted)
  bool pin = false;         // pin the prober to one CPU and the listeners to another
};

// measurements.throughput (docs/metrics.md, throughput).
struct ThroughputOptions {
  uint32_t concurrency = 8;  // connects kept outstanding
  double duration_s = 6;     // per cell, split evenly across rounds
  uint32_t rounds = 3;
  double timeout_s = 1.0;  // a connect outstanding longer fails (and is counted)
  bool pin = false;
};

// measurements.contention: a kube-proxy-like big writer restores the full ruleset again and again
// while small writers contend with it for `duration` (docs/metrics.md, contention).
struct ContentionOptions {
  uint32_t repetitions = 1;  // windows per cell
  uint32_t contenders = 4;   // small writers running at once
  // What each contender does, assigned round-robin: "agent" (check a rule of its own, then add
  // or delete it: kube-proxy's EnsureRule pattern, which CNI plugins and node agents share) or
  // "restore" (a small restore of a chain of its own).
  std::vector<std::string> mix = {"agent"};
  int interval_ms = 100;  // one contender's pause between iterations
  // The small writers' -w; when the file does not set it, xtables.wait (the big writer's).
  std::optional<int> wait_s;
  int duration_s = 20;  // how long the contenders run per window
  // The bound of one big write (and of the cell's untimed first sync): one still running is
  // killed and counted in contention.big_incomplete.
  int timeout_s = 300;
  std::string table = "filter";  // xtables table of the small writers' chains: filter or nat
};

struct Scenario {
  std::string name;
  std::string description;
  uint64_t seed = 42;
  std::vector<std::string> backends;
  std::vector<uint32_t> services;  // sweep.services, in the order given
  uint32_t ports_per_service = 1;
  uint32_t endpoints_per_service = 2;
  Protocol protocol = Protocol::kTcp;
  // Which measurements run; only the ones present in the file (or added by --set) run.
  std::optional<SyncOptions> sync;
  std::optional<LatencyOptions> latency;
  std::optional<ThroughputOptions> throughput;
  std::optional<ContentionOptions> contention;
  // "private" (default): a lock file of the run's own; "host": /run/xtables.lock (intrusive).
  std::string xtables_lock = "private";
  int lock_wait_s = 5;
  // slo: metric expression -> target, as written ("latency.overhead.p99" -> "100us"). Kept
  // unparsed for the reporting that will judge them; nothing reads them yet.
  std::map<std::string, std::string> slo;
  // The scenario exactly as loaded, after --set overrides, for the result and the copy.
  std::string source_yaml;
  std::string source_path;
};

// One parse or validation error: `file:line:col: message`. Exit code 2 at the CLI.
class ScenarioError : public std::runtime_error {
 public:
  ScenarioError(std::string file, int line, int col, const std::string& message);
  std::string file;
  int line;  // 1-based; 0 when unknown
  int col;   // 1-based; 0 when unknown
};

// Reads, applies overrides ("dotted.key=YAML") in order, validates. Throws ScenarioError.
Scenario LoadScenario(const std::string& path, const std::vector<std::string>& overrides = {});

// Same, from text (for tests and fuzzing); `name` stands in for the file name in errors.
Scenario ParseScenario(const std::string& text, const std::string& name,
                       const std::vector<std::string>& overrides = {});

}  // namespace svcbench
