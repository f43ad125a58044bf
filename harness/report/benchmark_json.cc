#include "harness/report/benchmark_json.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/analysis/stats.h"
#include "harness/report/series.h"

namespace svcbench {
namespace {

// '/' separates a benchmark name's parts, so it may not appear inside one.
std::string Part(std::string s) {
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

std::string BuildType(const std::string& t) {
  std::string s = t;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s.empty() ? "unknown" : s;
}

}  // namespace

std::string BenchmarkJson(const Result& r) {
  const Context& c = r.context;
  nlohmann::ordered_json ctx = {{"date", c.started_at},
                                {"host_name", c.hostname},
                                {"executable", "svcbench"},
                                {"num_cpus", c.cores},
                                {"mhz_per_cpu", 0},
                                {"cpu_scaling_enabled", false},
                                {"caches", nlohmann::ordered_json::array()},
                                {"load_avg", {c.load_at_start}},
                                {"library_build_type", BuildType(c.build_type)},
                                // Custom context, as benchmark::AddCustomContext adds it.
                                {"svcbench_scenario", ScenarioName(r, "")},
                                {"svcbench_status", std::string(RunStatusName(r.status))},
                                {"kernel", c.kernel},
                                {"cpu", c.cpu},
                                {"git_sha", c.git_sha},
                                {"iptables", c.iptables},
                                {"nft", c.nft}};
  nlohmann::ordered_json benchmarks = nlohmann::ordered_json::array();
  // Families are (backend, metric, labels); instances are the sizes.
  std::map<std::string, int> family_index;
  std::map<std::string, int> instances;
  for (const ResultRow& row : r.rows) {
    if (row.unit != "s") continue;
    const std::vector<double> s = FiniteSamples(row.samples);
    if (s.empty()) continue;
    std::string family = Part(row.backend) + "/" + Part(row.metric);
    for (const auto& [k, v] : row.labels) family += fmt::format("/{}:{}", Part(k), Part(v));
    const std::string name =
        fmt::format("{}/services:{}/endpoints:{}", family, row.services, row.endpoints_per_service);
    const int fi =
        family_index.emplace(family, static_cast<int>(family_index.size())).first->second;
    const int pi = instances[family]++;
    auto entry = [&](const std::string& n, const char* run_type, int rep, const char* agg,
                     double v) {
      // Keys in the order benchmark's JSONReporter writes them.
      nlohmann::ordered_json b = {
          {"name", n},        {"family_index", fi},   {"per_family_instance_index", pi},
          {"run_name", name}, {"run_type", run_type}, {"repetitions", s.size()}};
      if (rep >= 0) b["repetition_index"] = rep;
      b["threads"] = 1;
      if (agg) {
        b["aggregate_name"] = agg;
        b["aggregate_unit"] = std::string(agg) == "cv" ? "percentage" : "time";
      }
      b["iterations"] = rep >= 0 ? size_t{1} : s.size();
      b["real_time"] = v;
      b["cpu_time"] = v;
      b["time_unit"] = "ns";
      return b;
    };
    for (size_t i = 0; i < s.size(); ++i) {
      benchmarks.push_back(entry(name, "iteration", static_cast<int>(i), nullptr, s[i] * 1e9));
    }
    const double mean = Mean(s), median = Quantile(s, 0.5), sd = Stddev(s);
    for (const auto& [agg, v] : {std::pair<const char*, double>{"mean", mean * 1e9},
                                 {"median", median * 1e9},
                                 {"stddev", sd * 1e9},
                                 // The coefficient of variation is a fraction, as benchmark
                                 // writes it.
                                 {"cv", mean != 0 ? sd / mean : 0}}) {
      benchmarks.push_back(entry(name + "_" + agg, "aggregate", -1, agg, v));
    }
  }
  nlohmann::ordered_json j = {{"context", ctx}, {"benchmarks", benchmarks}};
  return j.dump(2) + "\n";
}

}  // namespace svcbench
