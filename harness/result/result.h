// The Result model: schema version 1 of DESIGN.md. result.json is the source of truth; every
// other output is derived from it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/analysis/stats.h"

namespace svcbench {

constexpr int kSchemaVersion = 1;

struct Context {
  std::string kernel, iptables, nft, cpu, build_type, git_sha, svcbench_version, hostname;
  int cores = 0;
  std::string started_at, finished_at;  // RFC 3339 UTC
  // /proc/loadavg's 1-minute figure when the run started and ended: a busy machine inflates
  // every timing, and this says whether it was busy.
  double load_at_start = 0, load_at_finish = 0;
  std::vector<std::string> warnings;  // e.g. "Debug build: timings are not representative"
};

// Collected once per run: uname, tool versions, /proc/cpuinfo, build info.
Context CollectContext();

// Now as RFC 3339 UTC, to the second.
std::string NowUtc();

// The 1-minute load average (/proc/loadavg), or 0 when unreadable.
double LoadAverage1();

struct ResultRow {
  std::string backend;
  uint32_t services = 0;
  uint32_t endpoints_per_service = 0;
  std::string metric;  // measurement.quantity[.detail], see docs/metrics.md
  std::string unit;    // s, bytes, count, 1/s
  std::map<std::string, std::string> labels;
  std::vector<double> samples;
  std::optional<std::string> error;  // set when the cell failed; samples may be empty
};

enum class RunStatus { kComplete, kPartial, kInterrupted };
std::string_view RunStatusName(RunStatus s);

struct Result {
  nlohmann::json scenario;  // the expanded scenario
  Context context;
  RunStatus status = RunStatus::kComplete;
  std::vector<ResultRow> rows;
};

nlohmann::json ToJson(const Result& r);
Result ResultFromJson(const nlohmann::json& j);  // throws std::runtime_error on a bad document

// Writes `data` to `path` through a temporary file in the same directory and rename(2), so a
// reader never sees a half-written file.
void WriteFileAtomic(const std::string& path, const std::string& data);

}  // namespace svcbench
