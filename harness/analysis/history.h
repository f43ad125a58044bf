// The history of runs in SQLite (results/history.sqlite by default): every run's result.json
// and one row per result row with its summary, so trends and baselines are queries.
// @see https://sqlite.org/c3ref/intro.html
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/report/format.h"
#include "harness/result/result.h"

struct sqlite3;

namespace svcbench {

struct HistoryRun {
  int64_t id = 0;
  std::string scenario, started_at, status, git_sha, kernel, build_type, run_dir;
  std::string verdict;  // "" (not compared), "ok" or "regression"
};

struct TrendPoint {
  int64_t run_id = 0;
  std::string started_at, git_sha;
  Labels labels;
  size_t n = 0;
  double value = 0;  // the requested statistic of the row's samples
};

class History {
 public:
  // Opens the database, creating it and its directory when missing. Throws std::runtime_error
  // naming the call and the path.
  explicit History(const std::string& path);
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Records a run; recording the same run again (same scenario, start time and host) replaces
  // its rows and keeps its id and verdict. Returns its id.
  int64_t Record(const Result& r, const std::string& run_dir);

  // Newest first; `scenario` "" for all; `limit` 0 for all.
  std::vector<HistoryRun> List(const std::string& scenario = "", size_t limit = 0) const;

  // A run by id ("12"), by run directory (as recorded) or by its last path component.
  std::optional<HistoryRun> Find(const std::string& ref) const;

  // The recorded id of this result (same scenario, start time and host), if any.
  std::optional<int64_t> IdOf(const Result& r) const;

  // The stored result.json of a run.
  Result Load(int64_t id) const;

  // The baseline for a new run: the last `k` runs of `scenario` that completed and were not
  // judged a regression, started before `before` (RFC 3339; "" for no limit), other than
  // `exclude`. Their rows are concatenated, so compare pools their samples per cell; the
  // context is the newest one's. nullopt when there is no such run.
  struct Baseline {
    Result result;
    std::vector<int64_t> run_ids;  // newest first
  };
  std::optional<Baseline> BaselineFor(const std::string& scenario, size_t k,
                                      const std::string& before,
                                      std::optional<int64_t> exclude) const;

  void SetVerdict(int64_t id, const std::string& verdict);

  // One point per run and label set for a metric at one backend and size, oldest first; only
  // rows whose labels include `selector`; the last `last` runs (0: all).
  std::vector<TrendPoint> Trend(const std::string& metric, const std::string& backend,
                                uint32_t services, const Labels& selector, const std::string& stat,
                                size_t last) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace svcbench
