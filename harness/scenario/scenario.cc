#include "harness/scenario/scenario.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <map>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <limits>
#include <regex>
#include <system_error>

#include "harness/driver/driver.h"
#include "harness/model/generator.h"
#include "harness/scenario/overrides.h"
#include "harness/scenario/yaml_util.h"

namespace svcbench {

using scenario_internal::Describe;
using scenario_internal::Fail;
using scenario_internal::FailExpected;
using scenario_internal::FormatWhere;
using scenario_internal::JoinNames;
using scenario_internal::JoinPath;
using scenario_internal::Quote;
using scenario_internal::Suggest;
using scenario_internal::Where;
using scenario_internal::YamlNode;

namespace {

constexpr std::string_view kTopLevel = "(top level)";

const std::vector<std::string> kTopKeys = {"name",         "description", "seed",
                                           "backends",     "sweep",       "workload",
                                           "measurements", "xtables",     "slo"};
const std::vector<std::string> kSweepKeys = {"services"};
const std::vector<std::string> kWorkloadKeys = {"ports_per_service", "endpoints_per_service",
                                                "protocol"};
const std::vector<std::string> kSyncKeys = {"repetitions", "timeout"};
const std::vector<std::string> kLatencyKeys = {"probes", "positions", "samples", "warmup",
                                               "rounds", "timeout",   "pin"};
const std::vector<std::string> kThroughputKeys = {"concurrency", "duration", "rounds", "timeout",
                                                  "pin"};
const std::vector<std::string> kTcpProbes = {"tcp-connect", "established"};
const std::vector<std::string> kUdpProbes = {"udp"};
const std::vector<std::string> kPositions = {"first", "middle", "last", "random", "direct"};
const std::vector<std::string> kContentionKeys = {
    "repetitions", "contenders", "mix", "interval", "wait", "duration", "timeout", "table"};
const std::vector<std::string> kXtablesKeys = {"lock", "wait"};

const std::vector<std::string> kImplementedMeasurements = {"sync", "latency", "throughput",
                                                           "contention"};
// Named by DESIGN.md; refusing them loudly beats running a scenario without them.
const std::vector<std::string> kPlannedMeasurements = {"update", "programming_latency"};

// Maps whose keys are metric expressions with dots in them; `--set` must not split those.
const std::vector<std::string> kOpaqueMaps = {"slo"};

constexpr uint64_t kMaxServices = 1000000;
constexpr uint64_t kMaxLockWaitS = 600;
constexpr uint64_t kMaxSyncTimeoutS = 86400;
constexpr uint64_t kMaxLatencySamples = 1000000;
constexpr uint64_t kMaxRounds = 1000;

std::string WithSuggestion(std::string got, std::string_view word,
                           const std::vector<std::string>& candidates) {
  if (auto suggestion = Suggest(word, candidates)) {
    got += fmt::format("; did you mean '{}'?", *suggestion);
  }
  return got;
}

// A map of the schema. Every key is checked when the view is made, so a misspelt optional key
// is reported as a typo instead of being ignored, and before "missing key" errors it causes.
class MapView {
 public:
  MapView(const YamlNode& node, std::string path, const std::vector<std::string>& keys)
      : node_(node), path_(std::move(path)) {
    const std::string_view shown = path_.empty() ? kTopLevel : std::string_view(path_);
    if (node.kind != YamlNode::Kind::kMap) {
      FailExpected(node.where, shown, fmt::format("a map with keys {}", JoinNames(keys)),
                   Describe(node));
    }
    for (const auto& [key, value] : node.entries) {
      if (std::find(keys.begin(), keys.end(), key.scalar) == keys.end()) {
        FailExpected(
            key.where, JoinPath(path_, key.scalar),
            fmt::format("a key of {} ({})", path_.empty() ? "a scenario" : path_, JoinNames(keys)),
            WithSuggestion("an unknown key", key.scalar, keys));
      }
    }
  }

  const YamlNode* Get(std::string_view key) const { return node_.Find(key); }

  // A missing key is reported at the map that should hold it: that is where it goes.
  const YamlNode& Require(std::string_view key, std::string_view what) const {
    const YamlNode* value = node_.Find(key);
    if (value == nullptr) {
      FailExpected(node_.where, Path(key), what, fmt::format("no '{}' key (it is required)", key));
    }
    return *value;
  }

  std::string Path(std::string_view key) const { return JoinPath(path_, key); }

 private:
  const YamlNode& node_;
  std::string path_;
};

// An optional section, or nullptr when absent or empty: `workload:` with every line below it
// commented out means "all defaults", not an error.
const YamlNode* Section(const MapView& map, std::string_view key) {
  const YamlNode* node = map.Get(key);
  return node != nullptr && node->kind != YamlNode::Kind::kNull ? node : nullptr;
}

bool ParseDecimal(const std::string& text, bool& negative, uint64_t& value, bool& overflow) {
  size_t i = 0;
  negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  if (i == text.size()) return false;
  if (!std::all_of(text.begin() + static_cast<std::ptrdiff_t>(i), text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), value);
  overflow = ec == std::errc::result_out_of_range;
  return true;
}

uint64_t ReadInteger(const YamlNode& node, const std::string& path, uint64_t min, uint64_t max) {
  const std::string what = max == std::numeric_limits<uint64_t>::max() && min == 0
                               ? "an unsigned 64-bit integer"
                               : fmt::format("an integer in {}..{}", min, max);
  bool negative = false;
  bool overflow = false;
  uint64_t value = 0;
  if (node.kind != YamlNode::Kind::kScalar || !node.plain ||
      !ParseDecimal(node.scalar, negative, value, overflow)) {
    FailExpected(node.where, path, what, Describe(node));
  }
  if (overflow) FailExpected(node.where, path, what, Describe(node) + " (too large)");
  if ((negative && value != 0) || value < min || value > max) {
    FailExpected(node.where, path, what, Describe(node));
  }
  return value;
}

std::string ReadString(const YamlNode& node, const std::string& path, std::string_view what) {
  if (node.kind != YamlNode::Kind::kScalar) FailExpected(node.where, path, what, Describe(node));
  return node.scalar;
}

std::string ReadChoice(const YamlNode& node, const std::string& path,
                       const std::vector<std::string>& choices) {
  const std::string what = fmt::format("one of {}", JoinNames(choices));
  const std::string value = ReadString(node, path, what);
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    FailExpected(node.where, path, what, WithSuggestion(Describe(node), value, choices));
  }
  return value;
}

const std::vector<YamlNode>& ReadNonEmptyList(const YamlNode& node, const std::string& path,
                                              std::string_view what) {
  if (node.kind != YamlNode::Kind::kList || node.items.empty()) {
    FailExpected(node.where, path, what, Describe(node));
  }
  return node.items;
}

// "5s", "5000ms" or 5, in min_s..max_s. Whole seconds only, because that is what iptables' -w
// takes.
int ReadWholeSeconds(const YamlNode& node, const std::string& path, uint64_t min_s,
                     uint64_t max_s) {
  static const std::regex kDuration("([0-9]+)(s|ms)?");
  const std::string what =
      fmt::format("a whole number of seconds in {}..{} (like 5s, 5000ms or 5)", min_s, max_s);
  std::smatch match;
  if (node.kind != YamlNode::Kind::kScalar || !std::regex_match(node.scalar, match, kDuration)) {
    FailExpected(node.where, path, what, Describe(node));
  }
  uint64_t amount = 0;
  const std::string digits = match[1].str();
  if (std::from_chars(digits.data(), digits.data() + digits.size(), amount).ec != std::errc()) {
    FailExpected(node.where, path, what, Describe(node));
  }
  if (match[2] == "ms") {
    if (amount % 1000 != 0) FailExpected(node.where, path, what, Describe(node));
    amount /= 1000;
  }
  if (amount < min_s || amount > max_s) FailExpected(node.where, path, what, Describe(node));
  return static_cast<int>(amount);
}

// "250ms", "2s" or 2 (seconds), in min_ms..max_ms milliseconds; returned in seconds.
double ReadSeconds(const YamlNode& node, const std::string& path, uint64_t min_ms,
                   uint64_t max_ms) {
  static const std::regex kDuration("([0-9]+)(s|ms)?");
  const std::string what =
      fmt::format("a duration in {}..{} ms (like 250ms, 2s or 2)", min_ms, max_ms);
  std::smatch match;
  if (node.kind != YamlNode::Kind::kScalar || !node.plain ||
      !std::regex_match(node.scalar, match, kDuration)) {
    FailExpected(node.where, path, what, Describe(node));
  }
  uint64_t amount = 0;
  const std::string digits = match[1].str();
  if (std::from_chars(digits.data(), digits.data() + digits.size(), amount).ec != std::errc() ||
      amount > max_ms) {
    FailExpected(node.where, path, what, Describe(node));
  }
  const uint64_t ms = match[2] == "ms" ? amount : amount * 1000;
  if (ms < min_ms || ms > max_ms) FailExpected(node.where, path, what, Describe(node));
  return static_cast<double>(ms) / 1000.0;
}

bool ReadBool(const YamlNode& node, const std::string& path) {
  if (node.kind == YamlNode::Kind::kScalar && node.plain) {
    if (node.scalar == "true") return true;
    if (node.scalar == "false") return false;
  }
  FailExpected(node.where, path, "true or false", Describe(node));
}

// A non-empty list of distinct names from `choices`.
std::vector<std::string> ReadChoiceList(const YamlNode& node, const std::string& path,
                                        const std::vector<std::string>& choices) {
  const std::string what = fmt::format("a non-empty list of {}", JoinNames(choices));
  std::vector<std::string> out;
  std::vector<const YamlNode*> seen;
  const auto& items = ReadNonEmptyList(node, path, what);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item_path = fmt::format("{}[{}]", path, i);
    const std::string value = ReadChoice(items[i], item_path, choices);
    const auto first = std::find_if(seen.begin(), seen.end(),
                                    [&](const YamlNode* n) { return n->scalar == value; });
    if (first != seen.end()) {
      FailExpected(
          items[i].where, item_path, "each name once",
          fmt::format("{} again (first at {})", Quote(value), FormatWhere((*first)->where)));
    }
    seen.push_back(&items[i]);
    out.push_back(value);
  }
  return out;
}

// "100ms", "2s" or 0, in min_ms..max_ms: a pause, where a bare number would be ambiguous.
int ReadMilliseconds(const YamlNode& node, const std::string& path, uint64_t min_ms,
                     uint64_t max_ms) {
  static const std::regex kDuration("([0-9]+)(s|ms)|0");
  const std::string what =
      fmt::format("a duration in {}..{} ms (like 100ms or 1s)", min_ms, max_ms);
  std::smatch match;
  if (node.kind != YamlNode::Kind::kScalar || !std::regex_match(node.scalar, match, kDuration)) {
    FailExpected(node.where, path, what, Describe(node));
  }
  uint64_t amount = 0;
  const std::string digits = match[1].str();
  if (!digits.empty() &&
      std::from_chars(digits.data(), digits.data() + digits.size(), amount).ec != std::errc()) {
    FailExpected(node.where, path, what, Describe(node));
  }
  if (match[2] == "s") {
    if (amount > max_ms / 1000) FailExpected(node.where, path, what, Describe(node));
    amount *= 1000;
  }
  if (amount < min_ms || amount > max_ms) FailExpected(node.where, path, what, Describe(node));
  return static_cast<int>(amount);
}

void ReadBackends(const YamlNode& node, const std::string& path, Scenario& scenario) {
  const std::vector<std::string>& known = KnownBackendNames();
  const std::string what = fmt::format("a backend name (one of {})", JoinNames(known));
  const auto& items = ReadNonEmptyList(node, path, "a non-empty list of backend names");
  std::vector<const YamlNode*> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item_path = fmt::format("{}[{}]", path, i);
    const std::string name = ReadString(items[i], item_path, what);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      FailExpected(items[i].where, item_path, what,
                   WithSuggestion(Describe(items[i]), name, known));
    }
    const auto first = std::find_if(seen.begin(), seen.end(),
                                    [&](const YamlNode* n) { return n->scalar == name; });
    if (first != seen.end()) {
      FailExpected(
          items[i].where, item_path, "each backend once",
          fmt::format("{} again (first at {})", Quote(name), FormatWhere((*first)->where)));
    }
    seen.push_back(&items[i]);
    scenario.backends.push_back(name);
  }
}

std::string WhatMeasurements() {
  return fmt::format("a map of at least one measurement (available: {})",
                     JoinNames(kImplementedMeasurements));
}

// One reader per implemented measurement: `value` is the measurement's options (null for
// `sync:` alone, which asks for the defaults like `sync: {}`), `path` its dotted key.
using MeasurementReader = void (*)(const YamlNode& value, const std::string& path, Scenario&);

void ReadSync(const YamlNode& value, const std::string& path, Scenario& scenario) {
  SyncOptions sync;
  if (value.kind != YamlNode::Kind::kNull) {
    const MapView options(value, path, kSyncKeys);
    if (const YamlNode* n = options.Get("repetitions")) {
      sync.repetitions =
          static_cast<uint32_t>(ReadInteger(*n, options.Path("repetitions"), 1, 1000));
    }
    if (const YamlNode* n = options.Get("timeout")) {
      sync.timeout_s = ReadWholeSeconds(*n, options.Path("timeout"), 1, kMaxSyncTimeoutS);
    }
  }
  scenario.sync = sync;
}

// Probes must match the workload's protocol: the rules only match that protocol, so a udp probe
// of a tcp service would only ever measure a miss.
void ReadLatency(const YamlNode& value, const std::string& path, Scenario& scenario) {
  LatencyOptions latency;
  const bool udp = scenario.protocol == Protocol::kUdp;
  const std::vector<std::string>& allowed = udp ? kUdpProbes : kTcpProbes;
  latency.probes = allowed;
  if (value.kind != YamlNode::Kind::kNull) {
    const MapView options(value, path, kLatencyKeys);
    if (const YamlNode* n = options.Get("probes")) {
      std::vector<std::string> all = kTcpProbes;
      all.insert(all.end(), kUdpProbes.begin(), kUdpProbes.end());
      latency.probes = ReadChoiceList(*n, options.Path("probes"), all);
      for (size_t i = 0; i < latency.probes.size(); ++i) {
        if (std::find(allowed.begin(), allowed.end(), latency.probes[i]) == allowed.end()) {
          FailExpected(
              n->items[i].where, fmt::format("{}[{}]", options.Path("probes"), i),
              fmt::format("a probe of a {} workload ({})", udp ? "udp" : "tcp", JoinNames(allowed)),
              fmt::format("{} (it needs workload.protocol: {})", Describe(n->items[i]),
                          udp ? "tcp" : "udp"));
        }
      }
    }
    if (const YamlNode* n = options.Get("positions")) {
      latency.positions = ReadChoiceList(*n, options.Path("positions"), kPositions);
    }
    if (const YamlNode* n = options.Get("samples")) {
      latency.samples =
          static_cast<uint32_t>(ReadInteger(*n, options.Path("samples"), 1, kMaxLatencySamples));
    }
    if (const YamlNode* n = options.Get("warmup")) {
      latency.warmup =
          static_cast<uint32_t>(ReadInteger(*n, options.Path("warmup"), 0, kMaxLatencySamples));
    }
    if (const YamlNode* n = options.Get("rounds")) {
      latency.rounds =
          static_cast<uint32_t>(ReadInteger(*n, options.Path("rounds"), 1, kMaxRounds));
    }
    if (const YamlNode* n = options.Get("timeout")) {
      latency.timeout_s = ReadSeconds(*n, options.Path("timeout"), 1, 60000);
    }
    if (const YamlNode* n = options.Get("pin")) latency.pin = ReadBool(*n, options.Path("pin"));
    // Every round must take at least one sample of each stream. The default gives way to a
    // small `samples`; a `rounds` the user wrote does not.
    if (const YamlNode* n = options.Get("rounds"); n != nullptr) {
      if (latency.rounds > latency.samples) {
        FailExpected(n->where, options.Path("rounds"),
                     fmt::format("at most samples ({}) rounds", latency.samples), Describe(*n));
      }
    } else {
      latency.rounds = std::min(latency.rounds, latency.samples);
    }
  }
  scenario.latency = latency;
}

void ReadThroughput(const YamlNode& value, const std::string& path, Scenario& scenario) {
  if (scenario.protocol != Protocol::kTcp) {
    Fail(value.where, path, "throughput counts TCP connections: it needs workload.protocol: tcp");
  }
  ThroughputOptions throughput;
  if (value.kind != YamlNode::Kind::kNull) {
    const MapView options(value, path, kThroughputKeys);
    if (const YamlNode* n = options.Get("concurrency")) {
      throughput.concurrency =
          static_cast<uint32_t>(ReadInteger(*n, options.Path("concurrency"), 1, 1024));
    }
    if (const YamlNode* n = options.Get("duration")) {
      throughput.duration_s = ReadSeconds(*n, options.Path("duration"), 100, 3600 * 1000);
    }
    if (const YamlNode* n = options.Get("rounds")) {
      throughput.rounds =
          static_cast<uint32_t>(ReadInteger(*n, options.Path("rounds"), 1, kMaxRounds));
    }
    if (const YamlNode* n = options.Get("timeout")) {
      throughput.timeout_s = ReadSeconds(*n, options.Path("timeout"), 1, 60000);
    }
    if (const YamlNode* n = options.Get("pin")) {
      throughput.pin = ReadBool(*n, options.Path("pin"));
    }
  }
  scenario.throughput = throughput;
}

void ReadContention(const YamlNode& value, const std::string& path, Scenario& scenario) {
  ContentionOptions c;
  if (value.kind != YamlNode::Kind::kNull) {
    const MapView options(value, path, kContentionKeys);
    if (const YamlNode* n = options.Get("repetitions")) {
      c.repetitions = static_cast<uint32_t>(ReadInteger(*n, options.Path("repetitions"), 1, 100));
    }
    if (const YamlNode* n = options.Get("contenders")) {
      c.contenders = static_cast<uint32_t>(ReadInteger(*n, options.Path("contenders"), 0, 64));
    }
    if (const YamlNode* n = options.Get("mix")) {
      const std::string mix_path = options.Path("mix");
      c.mix.clear();
      for (const YamlNode& item :
           ReadNonEmptyList(*n, mix_path, "a non-empty list of contender kinds")) {
        c.mix.push_back(
            ReadChoice(item, fmt::format("{}[{}]", mix_path, c.mix.size()), {"agent", "restore"}));
      }
    }
    if (const YamlNode* n = options.Get("interval")) {
      c.interval_ms = ReadMilliseconds(*n, options.Path("interval"), 0, 60000);
    }
    if (const YamlNode* n = options.Get("wait")) {
      // -w 0 would be no alarm at all in iptables 1.8.9: a blocking flock that waits forever.
      c.wait_s = ReadWholeSeconds(*n, options.Path("wait"), 1, kMaxLockWaitS);
    }
    if (const YamlNode* n = options.Get("duration")) {
      c.duration_s = ReadWholeSeconds(*n, options.Path("duration"), 1, 3600);
    }
    if (const YamlNode* n = options.Get("timeout")) {
      c.timeout_s = ReadWholeSeconds(*n, options.Path("timeout"), 1, kMaxSyncTimeoutS);
    }
    if (const YamlNode* n = options.Get("table")) {
      c.table = ReadChoice(*n, options.Path("table"), {"filter", "nat"});
    }
  }
  scenario.contention = c;
}

// Keep kImplementedMeasurements in step: it names them in errors and --help.
const std::map<std::string, MeasurementReader>& MeasurementReaders() {
  static const std::map<std::string, MeasurementReader> readers = {
      {"sync", ReadSync},
      {"latency", ReadLatency},
      {"throughput", ReadThroughput},
      {"contention", ReadContention},
  };
  return readers;
}

void ReadMeasurements(const YamlNode& node, const std::string& path, Scenario& scenario) {
  const std::string available = fmt::format("available: {}", JoinNames(kImplementedMeasurements));
  if (node.kind != YamlNode::Kind::kMap || node.entries.empty()) {
    FailExpected(node.where, path, WhatMeasurements(), Describe(node));
  }
  for (const auto& [key, value] : node.entries) {
    const std::string name = key.scalar;
    const std::string key_path = JoinPath(path, name);
    if (const auto r = MeasurementReaders().find(name); r != MeasurementReaders().end()) {
      r->second(value, key_path, scenario);
      continue;
    }
    if (std::find(kPlannedMeasurements.begin(), kPlannedMeasurements.end(), name) !=
        kPlannedMeasurements.end()) {
      Fail(key.where, key_path,
           fmt::format("measurement '{}' is not implemented yet ({})", name, available));
    }
    std::vector<std::string> all = kImplementedMeasurements;
    all.insert(all.end(), kPlannedMeasurements.begin(), kPlannedMeasurements.end());
    FailExpected(key.where, key_path, fmt::format("a measurement ({})", available),
                 WithSuggestion("an unknown key", name, all));
  }
}

// Catches a sweep that cannot be laid out before any namespace is made, at the element to fix.
void CheckAddressPlan(const YamlNode& services_node, const Scenario& scenario) {
  for (size_t i = 0; i < scenario.services.size(); ++i) {
    GeneratorSpec spec;
    spec.seed = scenario.seed;
    spec.services = scenario.services[i];
    spec.ports_per_service = scenario.ports_per_service;
    spec.endpoints_per_service = scenario.endpoints_per_service;
    spec.protocol = scenario.protocol;
    try {
      TargetPorts(spec);
    } catch (const std::invalid_argument& e) {
      FailExpected(services_node.items[i].where, fmt::format("sweep.services[{}]", i),
                   "a service count that fits the address plan",
                   fmt::format("{} ({})", scenario.services[i], e.what()));
    }
  }
}

Scenario Build(const YamlNode& root) {
  Scenario scenario;
  const MapView top(root, "", kTopKeys);

  const YamlNode& name = top.Require("name", "a scenario name");
  static const std::regex kName("[A-Za-z0-9._-]+");
  scenario.name = ReadString(name, "name", "a scenario name");
  if (!std::regex_match(scenario.name, kName)) {
    FailExpected(name.where, "name", "a name of letters, digits, '.', '_' and '-'", Describe(name));
  }
  if (const YamlNode* n = top.Get("description")) {
    scenario.description = ReadString(*n, "description", "a description");
  }
  if (const YamlNode* n = top.Get("seed")) {
    scenario.seed = ReadInteger(*n, "seed", 0, std::numeric_limits<uint64_t>::max());
  }

  ReadBackends(top.Require("backends", "a non-empty list of backend names"), "backends", scenario);

  const MapView sweep(top.Require("sweep", "a map with key services"), "sweep", kSweepKeys);
  const std::string what_services =
      fmt::format("a non-empty list of service counts (1..{})", kMaxServices);
  const YamlNode& services = sweep.Require("services", what_services);
  for (const YamlNode& item : ReadNonEmptyList(services, "sweep.services", what_services)) {
    const std::string item_path = fmt::format("sweep.services[{}]", scenario.services.size());
    scenario.services.push_back(
        static_cast<uint32_t>(ReadInteger(item, item_path, 1, kMaxServices)));
  }

  if (const YamlNode* n = Section(top, "workload")) {
    const MapView workload(*n, "workload", kWorkloadKeys);
    if (const YamlNode* v = workload.Get("ports_per_service")) {
      scenario.ports_per_service =
          static_cast<uint32_t>(ReadInteger(*v, workload.Path("ports_per_service"), 1, 64));
    }
    if (const YamlNode* v = workload.Get("endpoints_per_service")) {
      scenario.endpoints_per_service =
          static_cast<uint32_t>(ReadInteger(*v, workload.Path("endpoints_per_service"), 1, 1000));
    }
    if (const YamlNode* v = workload.Get("protocol")) {
      scenario.protocol = ReadChoice(*v, workload.Path("protocol"), {"tcp", "udp"}) == "udp"
                              ? Protocol::kUdp
                              : Protocol::kTcp;
    }
  }

  ReadMeasurements(top.Require("measurements", WhatMeasurements()), "measurements", scenario);

  if (const YamlNode* n = Section(top, "xtables")) {
    const MapView xtables(*n, "xtables", kXtablesKeys);
    if (const YamlNode* v = xtables.Get("lock")) {
      scenario.xtables_lock = ReadChoice(*v, xtables.Path("lock"), {"private", "host"});
    }
    if (const YamlNode* v = xtables.Get("wait")) {
      scenario.lock_wait_s = ReadWholeSeconds(*v, xtables.Path("wait"), 0, kMaxLockWaitS);
    }
  }

  // The small writers wait as long as the big one unless told otherwise, as kube-proxy's -w 5
  // and an agent's usually match.
  if (scenario.contention && !scenario.contention->wait_s) {
    scenario.contention->wait_s = scenario.lock_wait_s;
  }

  if (const YamlNode* n = Section(top, "slo")) {
    if (n->kind != YamlNode::Kind::kMap) {
      FailExpected(n->where, "slo", "a map of metric expression to target", Describe(*n));
    }
    for (const auto& [key, value] : n->entries) {
      scenario.slo[key.scalar] =
          ReadString(value, JoinPath("slo", key.scalar), "a target like 100us or 1s");
    }
  }

  CheckAddressPlan(services, scenario);
  return scenario;
}

std::string ReadFile(const std::string& path) {
  const auto fail = [&path](int err) {
    throw ScenarioError(path, 0, 0, "cannot read: " + std::generic_category().message(err));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(errno);
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      fail(err);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace

ScenarioError::ScenarioError(std::string file, int line, int col, const std::string& message)
    : std::runtime_error(fmt::format("{}:{}:{}: {}", file, line, col, message)),
      file(std::move(file)),
      line(line),
      col(col) {}

Scenario ParseScenario(const std::string& text, const std::string& name,
                       const std::vector<std::string>& overrides) {
  YamlNode root = scenario_internal::ParseYaml(text, "", [&name](const YAML::Mark& mark) {
    // Only an empty document has no mark; it starts at the top of the file.
    return mark.is_null() ? Where{name, 1, 1} : Where{name, mark.line + 1, mark.column + 1};
  });
  if (root.kind != YamlNode::Kind::kMap) {
    FailExpected(root.where, kTopLevel, "a map of scenario keys (name, backends, sweep, ...)",
                 root.kind == YamlNode::Kind::kNull ? "an empty document" : Describe(root));
  }
  for (size_t i = 0; i < overrides.size(); ++i) {
    scenario_internal::ApplyOverride(root, overrides[i], static_cast<int>(i), kOpaqueMaps);
  }
  Scenario scenario = Build(root);
  scenario.source_yaml = scenario_internal::EmitYaml(root);
  scenario.source_path = name;
  return scenario;
}

Scenario LoadScenario(const std::string& path, const std::vector<std::string>& overrides) {
  return ParseScenario(ReadFile(path), path, overrides);
}

}  // namespace svcbench
