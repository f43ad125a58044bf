#include "harness/analysis/history.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/analysis/stats.h"
#include "harness/report/series.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

constexpr int kHistorySchema = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  scenario TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  hostname TEXT NOT NULL,
  status TEXT NOT NULL,
  git_sha TEXT NOT NULL,
  kernel TEXT NOT NULL,
  cpu TEXT NOT NULL,
  cores INTEGER NOT NULL,
  build_type TEXT NOT NULL,
  load_at_start REAL NOT NULL,
  run_dir TEXT NOT NULL,
  verdict TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL,
  UNIQUE(scenario, started_at, hostname));
CREATE TABLE IF NOT EXISTS rows(
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  backend TEXT NOT NULL,
  services INTEGER NOT NULL,
  endpoints_per_service INTEGER NOT NULL,
  metric TEXT NOT NULL,
  unit TEXT NOT NULL,
  labels TEXT NOT NULL,
  n INTEGER NOT NULL,
  p50 REAL, p90 REAL, p99 REAL, mean REAL, min REAL, max REAL,
  samples TEXT NOT NULL,
  error TEXT);
CREATE INDEX IF NOT EXISTS rows_by_metric ON rows(metric, backend, services);
CREATE INDEX IF NOT EXISTS runs_by_scenario ON runs(scenario, started_at);
)sql";

// A prepared statement, finalized on scope exit. Binds are 1-based, as in sqlite3_bind_*.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) Fail("sqlite3_prepare_v2");
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, const std::string& v) {
    Check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT),
          "sqlite3_bind_text");
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    Check(sqlite3_bind_int64(s_, i, v), "sqlite3_bind_int64");
    return *this;
  }
  Stmt& Bind(int i, double v) {
    // SQLite stores NaN as NULL, which is what an undefined statistic is.
    Check(std::isfinite(v) ? sqlite3_bind_double(s_, i, v) : sqlite3_bind_null(s_, i),
          "sqlite3_bind_double");
    return *this;
  }
  Stmt& BindNull(int i) {
    Check(sqlite3_bind_null(s_, i), "sqlite3_bind_null");
    return *this;
  }
  // True while there is a row.
  bool Step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) Fail("sqlite3_step");
    return false;
  }
  std::string Text(int col) const {
    const auto* t = sqlite3_column_text(s_, col);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }

 private:
  void Check(int rc, const char* what) {
    if (rc != SQLITE_OK) Fail(what);
  }
  [[noreturn]] void Fail(const char* what) {
    throw std::runtime_error(fmt::format("{}({}): {}", what, path_, sqlite3_errmsg(db_)));
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* s_ = nullptr;
};

void Exec(sqlite3* db, const std::string& path, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    throw std::runtime_error(fmt::format("sqlite3_exec({}): {}", path, msg));
  }
}

HistoryRun ReadRun(const Stmt& s) {
  HistoryRun r;
  r.id = s.Int(0);
  r.scenario = s.Text(1);
  r.started_at = s.Text(2);
  r.status = s.Text(3);
  r.git_sha = s.Text(4);
  r.kernel = s.Text(5);
  r.build_type = s.Text(6);
  r.run_dir = s.Text(7);
  r.verdict = s.Text(8);
  return r;
}

constexpr const char* kRunColumns =
    "id, scenario, started_at, status, git_sha, kernel, build_type, run_dir, verdict";

}  // namespace

History::History(const std::string& path) : path_(path) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(fmt::format("sqlite3_open_v2({}): {}", path, msg));
  }
  try {
    // A nightly job and an engineer may touch the file at once: wait for the lock, briefly.
    sqlite3_busy_timeout(db_, 10000);
    Exec(db_, path_, "PRAGMA foreign_keys = ON;");
    Exec(db_, path_, kSchema);
    Stmt version(db_, path_, "SELECT value FROM meta WHERE key = 'schema_version'");
    if (version.Step()) {
      if (version.Text(0) != std::to_string(kHistorySchema)) {
        throw std::runtime_error(fmt::format("{}: history schema version {}, expected {}", path_,
                                             version.Text(0), kHistorySchema));
      }
    } else {
      Stmt set(db_, path_, "INSERT INTO meta(key, value) VALUES('schema_version', ?)");
      set.Bind(1, std::to_string(kHistorySchema)).Step();
    }
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

History::~History() { sqlite3_close(db_); }

int64_t History::Record(const Result& r, const std::string& run_dir) {
  const Context& c = r.context;
  Exec(db_, path_, "BEGIN IMMEDIATE");
  try {
    Stmt up(db_, path_, R"sql(
INSERT INTO runs(scenario, started_at, finished_at, hostname, status, git_sha, kernel, cpu, cores,
                 build_type, load_at_start, run_dir, result_json)
VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(scenario, started_at, hostname) DO UPDATE SET
  finished_at = excluded.finished_at, status = excluded.status, git_sha = excluded.git_sha,
  kernel = excluded.kernel, cpu = excluded.cpu, cores = excluded.cores,
  build_type = excluded.build_type, load_at_start = excluded.load_at_start,
  run_dir = excluded.run_dir, result_json = excluded.result_json
RETURNING id)sql");
    up.Bind(1, ScenarioName(r))
        .Bind(2, c.started_at)
        .Bind(3, c.finished_at)
        .Bind(4, c.hostname)
        .Bind(5, std::string(RunStatusName(r.status)))
        .Bind(6, c.git_sha)
        .Bind(7, c.kernel)
        .Bind(8, c.cpu)
        .Bind(9, static_cast<int64_t>(c.cores))
        .Bind(10, c.build_type)
        .Bind(11, c.load_at_start)
        .Bind(12, run_dir)
        .Bind(13, ToJson(r).dump());
    if (!up.Step()) throw std::runtime_error("INSERT INTO runs returned no id");
    const int64_t id = up.Int(0);
    // RETURNING leaves the statement running until stepped to its end; COMMIT would fail.
    while (up.Step()) {
    }
    Stmt del(db_, path_, "DELETE FROM rows WHERE run_id = ?");
    del.Bind(1, id).Step();
    for (const ResultRow& row : r.rows) {
      const std::vector<double> s = FiniteSamples(row.samples);
      const Summary sum = Summarize(s);
      Stmt ins(db_, path_, R"sql(
INSERT INTO rows(run_id, backend, services, endpoints_per_service, metric, unit, labels, n,
                 p50, p90, p99, mean, min, max, samples, error)
VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))sql");
      ins.Bind(1, id)
          .Bind(2, row.backend)
          .Bind(3, static_cast<int64_t>(row.services))
          .Bind(4, static_cast<int64_t>(row.endpoints_per_service))
          .Bind(5, row.metric)
          .Bind(6, row.unit)
          .Bind(7, nlohmann::json(row.labels).dump())
          .Bind(8, static_cast<int64_t>(sum.n))
          .Bind(9, sum.p50)
          .Bind(10, sum.p90)
          .Bind(11, sum.p99)
          .Bind(12, sum.mean)
          .Bind(13, sum.min)
          .Bind(14, sum.max)
          .Bind(15, nlohmann::json(s).dump());
      if (row.error) {
        ins.Bind(16, *row.error);
      } else {
        ins.BindNull(16);
      }
      ins.Step();
    }
    Exec(db_, path_, "COMMIT");
    return id;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<HistoryRun> History::List(const std::string& scenario, size_t limit) const {
  const std::string sql = fmt::format(
      "SELECT {} FROM runs WHERE (?1 = '' OR scenario = ?1) ORDER BY started_at DESC, id DESC "
      "LIMIT ?2",
      kRunColumns);
  Stmt s(db_, path_, sql.c_str());
  s.Bind(1, scenario).Bind(2, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit));
  std::vector<HistoryRun> out;
  while (s.Step()) out.push_back(ReadRun(s));
  return out;
}

std::optional<HistoryRun> History::Find(const std::string& ref) const {
  const std::string sql = fmt::format(
      "SELECT {} FROM runs WHERE CAST(id AS TEXT) = ?1 OR run_dir = ?1 OR run_dir = ?2 "
      "OR run_dir LIKE '%/' || ?3 ORDER BY started_at DESC LIMIT 1",
      kRunColumns);
  Stmt s(db_, path_, sql.c_str());
  std::error_code ec;
  const fs::path abs = fs::absolute(ref, ec);
  std::string base = fs::path(ref).filename().string();
  if (base.empty()) base = fs::path(ref).parent_path().filename().string();
  s.Bind(1, ref)
      .Bind(2, ec ? ref : abs.lexically_normal().string())
      .Bind(3, base.empty() ? ref : base);
  if (!s.Step()) return std::nullopt;
  return ReadRun(s);
}

std::optional<int64_t> History::IdOf(const Result& r) const {
  Stmt s(db_, path_, "SELECT id FROM runs WHERE scenario = ? AND started_at = ? AND hostname = ?");
  s.Bind(1, ScenarioName(r)).Bind(2, r.context.started_at).Bind(3, r.context.hostname);
  if (!s.Step()) return std::nullopt;
  return s.Int(0);
}

Result History::Load(int64_t id) const {
  Stmt s(db_, path_, "SELECT result_json FROM runs WHERE id = ?");
  s.Bind(1, id);
  if (!s.Step()) throw std::runtime_error(fmt::format("{}: no run {}", path_, id));
  return ResultFromJson(nlohmann::json::parse(s.Text(0)));
}

std::optional<History::Baseline> History::BaselineFor(const std::string& scenario, size_t k,
                                                      const std::string& before,
                                                      std::optional<int64_t> exclude) const {
  Stmt s(db_, path_, R"sql(
SELECT id FROM runs
WHERE scenario = ?1 AND status = 'complete' AND verdict != 'regression' AND id != ?2
  AND (?3 = '' OR started_at < ?3)
ORDER BY started_at DESC, id DESC LIMIT ?4)sql");
  s.Bind(1, scenario)
      .Bind(2, exclude.value_or(-1))
      .Bind(3, before)
      .Bind(4, static_cast<int64_t>(k));
  std::vector<int64_t> ids;
  while (s.Step()) ids.push_back(s.Int(0));
  if (ids.empty()) return std::nullopt;
  Baseline b;
  b.run_ids = ids;
  for (size_t i = 0; i < ids.size(); ++i) {
    Result r = Load(ids[i]);
    if (i == 0) {
      b.result.scenario = r.scenario;
      b.result.context = r.context;
      b.result.status = r.status;
    }
    for (ResultRow& row : r.rows) b.result.rows.push_back(std::move(row));
  }
  return b;
}

void History::SetVerdict(int64_t id, const std::string& verdict) {
  Stmt s(db_, path_, "UPDATE runs SET verdict = ? WHERE id = ?");
  s.Bind(1, verdict).Bind(2, id).Step();
}

std::vector<TrendPoint> History::Trend(const std::string& metric, const std::string& backend,
                                       uint32_t services, const Labels& selector,
                                       const std::string& stat, size_t last) const {
  Stmt s(db_, path_, R"sql(
SELECT runs.id, runs.started_at, runs.git_sha, rows.labels, rows.samples
FROM rows JOIN runs ON rows.run_id = runs.id
WHERE rows.metric = ?1 AND rows.backend = ?2 AND rows.services = ?3 AND rows.n > 0
ORDER BY runs.started_at ASC, runs.id ASC)sql");
  s.Bind(1, metric).Bind(2, backend).Bind(3, static_cast<int64_t>(services));
  std::vector<TrendPoint> all;
  while (s.Step()) {
    TrendPoint p;
    p.run_id = s.Int(0);
    p.started_at = s.Text(1);
    p.git_sha = s.Text(2);
    p.labels = nlohmann::json::parse(s.Text(3)).get<Labels>();
    bool selected = true;
    for (const auto& [k, v] : selector) {
      const auto it = p.labels.find(k);
      selected = selected && it != p.labels.end() && it->second == v;
    }
    if (!selected) continue;
    const std::vector<double> samples = nlohmann::json::parse(s.Text(4)).get<std::vector<double>>();
    p.n = samples.size();
    p.value = NamedStatistic(samples, stat);
    all.push_back(std::move(p));
  }
  if (last == 0) return all;
  // Keep the points of the newest `last` runs.
  std::vector<int64_t> runs;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (std::find(runs.begin(), runs.end(), it->run_id) == runs.end()) runs.push_back(it->run_id);
  }
  if (runs.size() > last) runs.resize(last);
  std::vector<TrendPoint> out;
  for (TrendPoint& p : all) {
    if (std::find(runs.begin(), runs.end(), p.run_id) != runs.end()) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace svcbench
