// svcbench: measure how the Linux data planes behind Kubernetes Services scale.
//
// Exit codes: 0 ok; 1 regression or SLO missed (compare/recommend); 2 bad usage or scenario;
// 3 environment (not root, kernel or tools lacking); 4 run finished partially or interrupted.
// The analysis commands (report, compare, recommend, history) need no root.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "harness/analysis/compare.h"
#include "harness/analysis/history.h"
#include "harness/analysis/recommend.h"
#include "harness/driver/driver.h"
#include "harness/lab/lab.h"
#include "harness/measure/lab_testbed.h"
#include "harness/measure/runner.h"
#include "harness/model/generator.h"
#include "harness/report/plots.h"
#include "harness/report/reporter.h"
#include "harness/report/series.h"
#include "harness/report/summary_markdown.h"
#include "harness/result/result.h"
#include "harness/scenario/scenario.h"
#include "harness/util/interrupt.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitFindings = 1;  // a regression, or an SLO missed at the target size
constexpr int kExitUsage = 2;
constexpr int kExitEnvironment = 3;

std::string NewRunId() {
  std::random_device rd;
  return fmt::format("{:06x}", rd() & 0xffffff);
}

// A bad argument to an analysis command: one line, exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A run directory or a result.json file.
Result LoadResult(const std::string& where) {
  const fs::path p = fs::is_directory(where) ? fs::path(where) / "result.json" : fs::path(where);
  std::ifstream in(p);
  if (!in) throw UsageError(fmt::format("cannot read {}", p.string()));
  try {
    return ResultFromJson(nlohmann::json::parse(in));
  } catch (const std::exception& e) {
    throw UsageError(fmt::format("{}: {}", p.string(), e.what()));
  }
}

std::string RunDirOf(const std::string& where) {
  const fs::path p = fs::is_directory(where) ? fs::path(where) : fs::path(where).parent_path();
  return fs::absolute(p).lexically_normal().string();
}

void PrintWarnings(const std::vector<std::string>& warnings, const char* who) {
  for (const std::string& w : warnings) std::cerr << fmt::format("svcbench: {}: {}\n", who, w);
}

int CmdValidate(const std::string& file, const std::vector<std::string>& sets) {
  const Scenario sc = LoadScenario(file, sets);
  const size_t cells = sc.backends.size() * sc.services.size();
  std::cout << fmt::format("{}: ok: scenario '{}', {} backends x {} sizes = {} cells\n", file,
                           sc.name, sc.backends.size(), sc.services.size(), cells);
  return kExitOk;
}

int CmdRun(const std::string& file, const std::vector<std::string>& sets, std::string out_dir,
           const std::string& results_root, std::string history_path, bool no_history) {
  // Everything that can be refused is checked before anything is created.
  const Scenario sc = LoadScenario(file, sets);
  // The history collects the runs of the results directory; a run written elsewhere (--out, as
  // tests and experiments do) joins it only when --history says where.
  const bool record = !no_history && (out_dir.empty() || !history_path.empty());
  if (history_path.empty()) history_path = (fs::path(results_root) / "history.sqlite").string();
  if (out_dir.empty()) out_dir = DefaultRunDir(results_root, sc.name);
  if (fs::exists(out_dir) && !fs::is_empty(out_dir)) {
    std::cerr << fmt::format("svcbench: --out {}: directory exists and is not empty\n", out_dir);
    return kExitUsage;
  }
  if (geteuid() != 0) {
    std::cerr << "svcbench: run needs root (it creates network namespaces and programs "
                 "iptables in them); try: sudo svcbench run ...\n";
    return kExitEnvironment;
  }

  InstallInterruptHandlers();
  std::atexit(CleanupRegisteredNamespaces);

  const std::string run_id = NewRunId();
  LabTestbedOptions lab;
  lab.run_id = run_id;
  lab.lock_wait_s = sc.lock_wait_s;
  if (sc.sync) {
    lab.commit_timeout_s = sc.sync->timeout_s;
  } else if (sc.contention) {
    lab.commit_timeout_s = sc.contention->timeout_s;
  }
  if (sc.xtables_lock == "private") {
    fs::create_directories("/run/svcbench");
    lab.xtables_lockfile = fmt::format("/run/svcbench/{}.xtables.lock", run_id);
  }
  std::cerr << fmt::format("svcbench: run {} of scenario '{}' into {}\n", run_id, sc.name, out_dir);
  RunOptions opts;
  opts.out_dir = out_dir;
  opts.log = &std::cerr;
  opts.live_status = isatty(STDERR_FILENO) != 0;
  const RunOutcome outcome = RunScenario(sc, opts, MakeLabTestbedFactory(lab), CollectContext());
  if (!lab.xtables_lockfile.empty()) fs::remove(lab.xtables_lockfile);

  // The runner wrote result.json and summary.md as it went; the other outputs derive from them.
  PrintWarnings(WriteReports(outcome.result, out_dir).warnings, "report");
  if (record) {
    try {
      History h(history_path);
      const int64_t id = h.Record(outcome.result, RunDirOf(out_dir));
      std::cerr << fmt::format("svcbench: recorded as run {} in {}\n", id, history_path);
    } catch (const std::exception& e) {
      std::cerr << fmt::format("svcbench: history: not recorded: {}\n", e.what());
    }
  }

  std::cout << fmt::format(
      "status: {}\nreport: {}\nresult: {}\n", RunStatusName(outcome.result.status),
      (fs::path(out_dir) / "summary.md").string(), (fs::path(out_dir) / "result.json").string());
  return outcome.exit_code;
}

int CmdBackends() {
  size_t width = std::string_view("BACKEND").size();
  for (const auto& name : KnownBackendNames()) width = std::max(width, name.size());
  std::cout << fmt::format("{:<{}} {:<10} {}\n", "BACKEND", width, "AVAILABLE", "DETAIL");
  for (const auto& name : KnownBackendNames()) {
    const Availability a = ProbeBackend(name);
    std::cout << fmt::format("{:<{}} {:<10} {}\n", name, width, a.available ? "yes" : "no",
                             a.reason);
  }
  return kExitOk;
}

int CmdRender(const std::string& backend, const GeneratorSpec& spec) {
  std::unique_ptr<Driver> d;
  try {
    d = MakeDriver(backend, DriverContext{});
  } catch (const std::invalid_argument& e) {
    std::cerr << "svcbench: render: " << e.what() << "\n";
    return kExitUsage;
  }
  if (!d) {
    std::cerr << fmt::format("svcbench: render: backend {} is not implemented yet\n", backend);
    return kExitUsage;
  }
  const Payload p = d->Render(Generate(spec));
  std::cout << p.text;
  std::cout.flush();
  std::cerr << fmt::format("# {}: {} rules, {} chains, {} bytes\n", backend, p.rules, p.chains,
                           p.text.size());
  return kExitOk;
}

int CmdCleanup(bool force) {
  if (geteuid() != 0) {
    std::cerr << "svcbench: cleanup needs root (it deletes network namespaces)\n";
    return kExitEnvironment;
  }
  const auto removed = CleanupLeftovers(force);
  for (const auto& n : removed) std::cout << "removed " << n << "\n";
  const auto left = ListLabNamespaces();
  std::cout << fmt::format("{} namespaces removed, {} svcb-* left{}\n", removed.size(), left.size(),
                           left.empty() ? "" : " (owned by a live run; --force removes them)");
  return kExitOk;
}

int CmdReport(const std::string& run_dir, const std::vector<std::string>& formats) {
  const Result r = LoadResult(run_dir);
  const ReportOutcome out = WriteReports(r, run_dir, formats);
  for (const std::string& name : out.written) {
    for (const ReportFile& f : MakeReporter(name)->Render(r)) {
      if (name == "plots") {
        const std::string stem = (fs::path(run_dir) / f.path).replace_extension().string();
        std::cout << fmt::format("{}: {}.{{gp,png,svg}}\n", name, stem);
      } else {
        std::cout << fmt::format("{}: {}\n", name, (fs::path(run_dir) / f.path).string());
      }
    }
  }
  PrintWarnings(out.warnings, "report");
  const size_t wanted = formats.empty() ? ReporterNames().size() - 1 : formats.size();
  return out.written.size() == wanted ? kExitOk : kExitEnvironment;
}

struct CompareArgs {
  std::vector<std::string> runs;  // BASE NEW, or NEW with --against history
  std::string against, history_path = "results/history.sqlite", threshold = "5%";
  std::string format = "markdown", markdown_out, json_out;
  double alpha = 0.05;
  size_t last = 5;
  bool record_verdict = false;
};

int CmdCompare(const CompareArgs& a) {
  CompareOptions opts;
  const auto threshold = ParseFraction(a.threshold);
  if (!threshold)
    throw UsageError(fmt::format("--threshold {}: expected like 5% or 0.05", a.threshold));
  opts.threshold = *threshold;
  opts.alpha = a.alpha;
  Result base, now;
  std::string base_name, new_name;
  std::optional<History> history;
  std::optional<int64_t> new_id;
  if (a.against == "history") {
    if (a.runs.size() != 1) throw UsageError("compare --against history takes one run: NEW");
    now = LoadResult(a.runs[0]);
    new_name = a.runs[0];
    history.emplace(a.history_path);
    new_id = history->IdOf(now);
    if (a.record_verdict && !new_id) new_id = history->Record(now, RunDirOf(a.runs[0]));
    const std::string scenario = ScenarioName(now, "?");
    const auto baseline = history->BaselineFor(scenario, a.last, now.context.started_at, new_id);
    if (!baseline) {
      const std::string msg = fmt::format(
          "## svcbench compare: no baseline\n\nNo earlier complete run of scenario '{}' in {} "
          "that was not a regression: nothing to compare {} with; it is the baseline from now "
          "on.\n",
          scenario, a.history_path, new_name);
      std::cout << (a.format == "json" ? nlohmann::json{{"verdict", "no baseline"}}.dump(1) + "\n"
                                       : msg);
      if (!a.markdown_out.empty()) WriteFileAtomic(a.markdown_out, msg);
      if (!a.json_out.empty()) {
        WriteFileAtomic(a.json_out, nlohmann::json{{"verdict", "no baseline"}}.dump(1) + "\n");
      }
      if (a.record_verdict && new_id) history->SetVerdict(*new_id, "ok");
      return kExitOk;
    }
    base = baseline->result;
    std::string ids;
    for (int64_t id : baseline->run_ids) ids += fmt::format("{}{}", ids.empty() ? "#" : ", #", id);
    base_name = fmt::format("history {} ({} run{}: {})", a.history_path, baseline->run_ids.size(),
                            baseline->run_ids.size() == 1 ? "" : "s", ids);
  } else if (!a.against.empty()) {
    throw UsageError(fmt::format("--against {}: only 'history' is known", a.against));
  } else {
    if (a.runs.size() != 2)
      throw UsageError("compare takes two runs: BASE NEW (or NEW --against history)");
    base = LoadResult(a.runs[0]);
    now = LoadResult(a.runs[1]);
    base_name = a.runs[0];
    new_name = a.runs[1];
  }
  const Comparison c = Compare(base, now, opts, base_name, new_name);
  const std::string md = CompareMarkdown(c);
  const std::string json = CompareJson(c).dump(1) + "\n";
  std::cout << (a.format == "json" ? json : md);
  if (!a.markdown_out.empty()) WriteFileAtomic(a.markdown_out, md);
  if (!a.json_out.empty()) WriteFileAtomic(a.json_out, json);
  if (a.record_verdict && history && new_id) {
    history->SetVerdict(*new_id, c.Regressed() ? "regression" : "ok");
  }
  return c.Regressed() ? kExitFindings : kExitOk;
}

struct RecommendArgs {
  std::string run, format = "markdown";
  std::vector<std::string> slos, backends;
  std::optional<uint32_t> at;
  double cap = kDefaultCap;
};

int CmdRecommend(const RecommendArgs& a) {
  const Result r = LoadResult(a.run);
  std::vector<Slo> slos;
  for (const std::string& s : a.slos) slos.push_back(ParseSlo(s));
  const bool explicit_slos = !slos.empty();
  if (!explicit_slos) slos = DefaultSlos();
  RecommendOptions opts;
  opts.cap = a.cap;
  opts.at = a.at;
  opts.backends = a.backends;
  const Recommendation rec = Recommend(r, slos, explicit_slos, opts);
  if (rec.slos.empty()) {
    throw UsageError(fmt::format(
        "{}: none of the default SLOs' metrics were measured; name one with --slo", a.run));
  }
  std::cout << (a.format == "json" ? RecommendJson(rec).dump(1) + "\n" : RecommendMarkdown(rec));
  return rec.MissesTarget() ? kExitFindings : kExitOk;
}

struct HistoryArgs {
  std::string path = "results/history.sqlite", scenario, run, metric, backend, stat = "p50", plot;
  std::vector<std::string> labels;
  size_t limit = 20, last = 0;
  uint32_t services = 0;
};

int CmdHistoryList(const HistoryArgs& a) {
  History h(a.path);
  std::cout << fmt::format("{:>4}  {:<20}  {:<16}  {:<11}  {:<20}  {:<10}  {}\n", "RUN", "STARTED",
                           "SCENARIO", "STATUS", "GIT", "VERDICT", "DIRECTORY");
  for (const HistoryRun& r : h.List(a.scenario, a.limit)) {
    std::cout << fmt::format("{:>4}  {:<20}  {:<16}  {:<11}  {:<20}  {:<10}  {}\n", r.id,
                             r.started_at, r.scenario, r.status, r.git_sha,
                             r.verdict.empty() ? "-" : r.verdict, r.run_dir);
  }
  return kExitOk;
}

int CmdHistoryShow(const HistoryArgs& a) {
  History h(a.path);
  const auto run = h.Find(a.run);
  if (!run)
    throw UsageError(fmt::format("{}: no run '{}' (see svcbench history list)", a.path, a.run));
  std::cout << fmt::format("run {} · {} · verdict {} · {}\n\n", run->id, run->run_dir,
                           run->verdict.empty() ? "-" : run->verdict, a.path);
  std::cout << SummaryMarkdown(h.Load(run->id));
  return kExitOk;
}

int CmdHistoryAdd(const HistoryArgs& a) {
  History h(a.path);
  const int64_t id = h.Record(LoadResult(a.run), RunDirOf(a.run));
  std::cout << fmt::format("recorded {} as run {} in {}\n", a.run, id, a.path);
  return kExitOk;
}

int CmdHistoryTrend(const HistoryArgs& a) {
  Labels selector;
  for (const std::string& l : a.labels) {
    const size_t eq = l.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError(fmt::format("--label {}: expected key=value", l));
    selector[l.substr(0, eq)] = l.substr(eq + 1);
  }
  if (std::isnan(NamedStatistic({1.0}, a.stat))) {
    throw UsageError(fmt::format("--stat {}: expected p50, p90, p99, mean, min or max", a.stat));
  }
  History h(a.path);
  const std::vector<TrendPoint> points =
      h.Trend(a.metric, a.backend, a.services, selector, a.stat, a.last);
  if (points.empty()) {
    throw UsageError(fmt::format("{}: no recorded samples of {} for {} at {} services", a.path,
                                 a.metric, a.backend, a.services));
  }
  std::string unit;
  {
    const Result first = h.Load(points.front().run_id);
    for (const ResultRow& row : first.rows) {
      if (row.metric == a.metric) unit = row.unit;
    }
  }
  std::cout << fmt::format("{} {} of {} at {} services ({})\n", a.metric, a.stat, a.backend,
                           a.services, a.path);
  std::cout << fmt::format("{:>4}  {:<20}  {:<20}  {:<24}  {:>5}  {}\n", "RUN", "STARTED", "GIT",
                           "LABELS", "N", a.stat);
  std::map<std::string, TrendLine> lines;
  for (const TrendPoint& p : points) {
    const std::string l = LabelText(p.labels);
    std::cout << fmt::format("{:>4}  {:<20}  {:<20}  {:<24}  {:>5}  {}\n", p.run_id, p.started_at,
                             p.git_sha, l.empty() ? "-" : l, p.n, FormatValue(p.value, unit));
    TrendLine& line = lines[l];
    line.title = l.empty() ? a.backend : l;
    line.points.emplace_back(p.started_at, p.value);
  }
  std::vector<TrendLine> ordered;
  for (auto& [l, line] : lines) ordered.push_back(std::move(line));
  std::string stem = FileSafe(fmt::format("{}_{}_{}_{}", a.metric, a.stat, a.backend, a.services));
  for (const auto& [k, v] : selector) stem += fmt::format("_{}-{}", FileSafe(k), FileSafe(v));
  const fs::path prefix =
      a.plot.empty() ? fs::path(a.path).parent_path() / "trends" / stem : fs::path(a.plot);
  const std::string dir = prefix.parent_path().empty() ? "." : prefix.parent_path().string();
  fs::create_directories(dir);
  PlotScript p = TrendPlotScript(
      prefix.filename().string(),
      fmt::format("{} {} of {} at {} services", a.metric, a.stat, a.backend, a.services), unit,
      ordered);
  WriteFileAtomic((fs::path(dir) / (p.stem + ".gp")).string(), p.script);
  const std::vector<std::string> warnings = DrawPlots(dir, {p});
  PrintWarnings(warnings, "trend");
  std::cout << fmt::format("plot: {}.{{gp,png,svg}}\n", (fs::path(dir) / p.stem).string());
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "svcbench measures how the Linux data planes behind Kubernetes Services (kube-proxy's "
      "iptables and nftables modes, eBPF) scale, inside private network namespaces.\n"
      "Exit codes: 0 ok, 1 regression (compare) or SLO target missed (recommend --at), 2 bad "
      "usage or scenario, 3 environment (not root, missing kernel feature), 4 run partial or "
      "interrupted."};
  app.require_subcommand(1);
  app.set_version_flag("--version", SVCBENCH_VERSION);

  std::string file, out_dir, results_root = "results", run_dir, backend;
  std::vector<std::string> sets, formats;
  std::string run_history;
  bool force = false, no_history = false;

  auto* validate = app.add_subcommand("validate", "Check a scenario file and print its cells");
  validate->add_option("FILE", file, "scenario YAML")->required();
  validate->add_option("--set", sets, "override: dotted.key=YAML (repeatable)");

  auto* run = app.add_subcommand(
      "run", "Run a scenario (root): every backend x size cell, results into a run directory");
  run->add_option("FILE", file, "scenario YAML")->required();
  run->add_option("--set", sets,
                  "override a scenario key with a YAML value, e.g. --set sweep.services=[10000] "
                  "--set backends=[iptables-legacy] (repeatable, applied in order)");
  run->add_option("--out", out_dir, "run directory (default: RESULTS/<UTC time>-<scenario>)");
  run->add_option("--results", results_root, "where default run directories go")
      ->capture_default_str();
  run->add_option("--history", run_history,
                  "record the run in this SQLite history (default: RESULTS/history.sqlite, "
                  "for runs without --out)");
  run->add_flag("--no-history", no_history, "do not record the run in the history");

  auto* backends = app.add_subcommand("backends", "List backends and whether they can run here");

  GeneratorSpec spec;
  std::string protocol = "tcp";
  auto* render = app.add_subcommand(
      "render", "Print the payload a backend would send for a generated ServiceSet (no root)");
  render->add_option("--backend", backend, "backend name (see `svcbench backends`)")->required();
  render->add_option("--services", spec.services, "number of services")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  render->add_option("--endpoints", spec.endpoints_per_service, "endpoints per service")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000u));
  render->add_option("--ports", spec.ports_per_service, "ports per service")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  render->add_option("--seed", spec.seed, "generator seed")->capture_default_str();
  render->add_option("--protocol", protocol, "tcp or udp")
      ->capture_default_str()
      ->check(CLI::IsMember({"tcp", "udp"}));

  auto* cleanup =
      app.add_subcommand("cleanup", "Remove svcb-* namespaces left by killed runs (root)");
  cleanup->add_flag("--force", force, "also remove namespaces of runs that are still alive");

  auto* report = app.add_subcommand(
      "report",
      "Regenerate a run's outputs (summary.md, samples.csv, plots/, benchmark.json, "
      "metrics.prom, PerfData) from its result.json");
  report->add_option("RUN_DIR", run_dir, "a run directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  report->add_option("--format", formats, "only these reporters (repeatable)")
      ->check(CLI::IsMember(ReporterNames()));

  CompareArgs ca;
  auto* compare = app.add_subcommand(
      "compare",
      "Compare two runs per backend x size x metric x labels: ratio of medians, Mann-Whitney U "
      "p-value, verdict. Exit 1 when a metric got worse beyond --threshold with p < --alpha, or "
      "a cell that BASE measured failed");
  compare->add_option("RUNS", ca.runs, "BASE NEW (run directories or result.json files)")
      ->required()
      ->expected(1, 2);
  compare->add_option("--against", ca.against,
                      "'history': compare NEW with the pooled samples of the last --last good "
                      "runs of its scenario in --history");
  compare->add_option("--history", ca.history_path, "SQLite history")->capture_default_str();
  compare->add_option("--last", ca.last, "baseline runs from the history")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1000}));
  compare->add_flag("--record-verdict", ca.record_verdict,
                    "with --against history: record NEW (if missing) and its verdict, so a "
                    "regressed run never becomes a baseline");
  compare->add_option("--threshold", ca.threshold, "relative change of the median that counts")
      ->capture_default_str();
  compare->add_option("--alpha", ca.alpha, "significance level")
      ->capture_default_str()
      ->check(CLI::Range(1e-9, 0.5));
  compare->add_option("--format", ca.format, "stdout format")
      ->capture_default_str()
      ->check(CLI::IsMember({"markdown", "json"}));
  compare->add_option("--markdown", ca.markdown_out, "also write the Markdown report here");
  compare->add_option("--json", ca.json_out, "also write the JSON report here");

  RecommendArgs ra;
  uint32_t at = 0;
  auto* recommend = app.add_subcommand(
      "recommend",
      "Per backend, the largest service count that meets every SLO (growth models fitted to "
      "the sweep). Exit 1 when --at is given and a backend's bound is below it");
  recommend->add_option("RUN_DIR", ra.run, "a run directory or result.json")->required();
  recommend->add_option("--slo", ra.slos,
                        "METRIC[{label=value,...}].STAT<=LIMIT, e.g. 'latency.overhead.p99<=100us' "
                        "(repeatable; default: the SLOs in docs/reports.md)");
  recommend->add_option("--backend", ra.backends, "only this backend (repeatable)");
  recommend->add_option("--at", at, "target service count")->check(CLI::Range(1u, 100000000u));
  recommend->add_option("--cap", ra.cap, "largest service count a bound can reach")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e9));
  recommend->add_option("--format", ra.format, "output format")
      ->capture_default_str()
      ->check(CLI::IsMember({"markdown", "json"}));

  HistoryArgs ha;
  auto* history =
      app.add_subcommand("history", "Runs recorded in the SQLite history: list, show, trend, add");
  history->require_subcommand(1);
  history->fallthrough();
  history->add_option("--history", ha.path, "SQLite history")->capture_default_str();
  auto* hlist = history->add_subcommand("list", "Recorded runs, newest first");
  hlist->add_option("--scenario", ha.scenario, "only this scenario");
  hlist->add_option("--limit", ha.limit, "at most this many (0: all)")->capture_default_str();
  auto* hshow = history->add_subcommand("show", "One recorded run's summary");
  hshow->add_option("RUN", ha.run, "run id, run directory or its name")->required();
  auto* hadd = history->add_subcommand("add", "Record a run directory (done by run itself)");
  hadd->add_option("RUN_DIR", ha.run, "a run directory or result.json")->required();
  auto* htrend = history->add_subcommand(
      "trend", "One metric of one backend and size across recorded runs: a table and a plot");
  htrend->add_option("METRIC", ha.metric, "metric name, e.g. sync.full.wall")->required();
  htrend->add_option("--backend", ha.backend, "backend")->required();
  htrend->add_option("--services", ha.services, "service count")->required();
  htrend->add_option("--label", ha.labels, "only rows with this label, key=value (repeatable)");
  htrend->add_option("--stat", ha.stat, "p50, p90, p99, mean, min or max")->capture_default_str();
  htrend->add_option("--last", ha.last, "only the last N runs (0: all)")->capture_default_str();
  htrend->add_option("--plot", ha.plot,
                     "plot path without extension (default: <history dir>/trends/<name>)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "svcbench: " << e.what() << "\n(see svcbench --help)\n";
    return kExitUsage;
  }

  try {
    if (*validate) return CmdValidate(file, sets);
    if (*run) return CmdRun(file, sets, out_dir, results_root, run_history, no_history);
    if (*backends) return CmdBackends();
    if (*render) {
      spec.protocol = protocol == "udp" ? Protocol::kUdp : Protocol::kTcp;
      return CmdRender(backend, spec);
    }
    if (*cleanup) return CmdCleanup(force);
    if (*report) return CmdReport(run_dir, formats);
    if (*compare) return CmdCompare(ca);
    if (*recommend) {
      if (at > 0) ra.at = at;
      return CmdRecommend(ra);
    }
    if (*history) {
      if (*hlist) return CmdHistoryList(ha);
      if (*hshow) return CmdHistoryShow(ha);
      if (*hadd) return CmdHistoryAdd(ha);
      if (*htrend) return CmdHistoryTrend(ha);
    }
  } catch (const UsageError& e) {
    std::cerr << "svcbench: " << e.what() << "\n";
    return kExitUsage;
  } catch (const ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  } catch (const std::invalid_argument& e) {
    std::cerr << "svcbench: " << e.what() << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}

}  // namespace
}  // namespace svcbench

int main(int argc, char** argv) {
  try {
    return svcbench::Main(argc, argv);
  } catch (const std::exception& e) {
    svcbench::CleanupRegisteredNamespaces();
    std::cerr << "svcbench: error: " << e.what() << "\n";
    return 3;
  }
}
