#include "harness/report/reporter.h"

#include <filesystem>
#include <functional>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/report/benchmark_json.h"
#include "harness/report/openmetrics.h"
#include "harness/report/perfdata.h"
#include "harness/report/plots.h"
#include "harness/report/samples_csv.h"
#include "harness/report/summary_markdown.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

// A reporter that writes one file, from a pure function of the Result.
class OneFileReporter : public Reporter {
 public:
  OneFileReporter(std::string_view name, std::string_view description,
                  std::function<std::string(const Result&)> file_name,
                  std::function<std::string(const Result&)> render)
      : name_(name),
        description_(description),
        file_name_(std::move(file_name)),
        render_(std::move(render)) {}
  std::string_view Name() const override { return name_; }
  std::string_view Description() const override { return description_; }
  std::vector<ReportFile> Render(const Result& r) const override {
    return {{file_name_(r), render_(r)}};
  }

 private:
  std::string_view name_, description_;
  std::function<std::string(const Result&)> file_name_, render_;
};

class PlotReporter : public Reporter {
 public:
  std::string_view Name() const override { return "plots"; }
  std::string_view Description() const override {
    return "plots/*.{gp,png,svg}: each metric against services per backend, and CDFs";
  }
  std::vector<ReportFile> Render(const Result& r) const override {
    std::vector<ReportFile> files;
    for (PlotScript& p : PlotScripts(r)) {
      files.push_back({"plots/" + p.stem + ".gp", std::move(p.script)});
    }
    return files;
  }
  // The scripts first (atomically, like every file), then gnuplot draws from them.
  std::vector<std::string> Write(const Result& r, const std::string& dir) const override {
    Reporter::Write(r, dir);
    return DrawPlots((fs::path(dir) / "plots").string(), PlotScripts(r));
  }
};

std::function<std::string(const Result&)> Fixed(const char* name) {
  return [name](const Result&) { return std::string(name); };
}

}  // namespace

std::vector<std::string> Reporter::Write(const Result& r, const std::string& dir) const {
  for (const ReportFile& f : Render(r)) {
    const fs::path path = fs::path(dir) / f.path;
    fs::create_directories(path.parent_path());
    WriteFileAtomic(path.string(), f.content);
  }
  return {};
}

std::vector<std::string> ReporterNames() {
  return {"json", "markdown", "csv", "gbench", "openmetrics", "perfdata", "plots"};
}

std::unique_ptr<Reporter> MakeReporter(std::string_view name) {
  if (name == "json") {
    return std::make_unique<OneFileReporter>(
        "json", "result.json: the source of truth (schema version 1)", Fixed("result.json"),
        [](const Result& r) { return ToJson(r).dump(1) + "\n"; });
  }
  if (name == "markdown") {
    return std::make_unique<OneFileReporter>(
        "markdown", "summary.md: GitHub-flavoured Markdown for a CI comment", Fixed("summary.md"),
        SummaryMarkdown);
  }
  if (name == "csv") {
    return std::make_unique<OneFileReporter>("csv", "samples.csv: every sample, one per line",
                                             Fixed("samples.csv"), SamplesCsv);
  }
  if (name == "gbench") {
    return std::make_unique<OneFileReporter>(
        "gbench", "benchmark.json: Google Benchmark JSON, for compare.py", Fixed("benchmark.json"),
        BenchmarkJson);
  }
  if (name == "openmetrics") {
    return std::make_unique<OneFileReporter>(
        "openmetrics", "metrics.prom: OpenMetrics text for the textfile collector",
        Fixed("metrics.prom"), OpenMetricsText);
  }
  if (name == "perfdata") {
    return std::make_unique<OneFileReporter>(
        "perfdata", "SvcbenchMetrics_<scenario>_<time>.json: ClusterLoader2 PerfData for perfdash",
        PerfDataFileName, PerfDataJson);
  }
  if (name == "plots") return std::make_unique<PlotReporter>();
  return nullptr;
}

ReportOutcome WriteReports(const Result& r, const std::string& dir,
                           const std::vector<std::string>& names) {
  std::vector<std::string> todo = names;
  if (todo.empty()) {
    for (const std::string& n : ReporterNames()) {
      if (n != "json") todo.push_back(n);
    }
  }
  std::vector<std::unique_ptr<Reporter>> reporters;
  for (const std::string& n : todo) {
    auto rep = MakeReporter(n);
    if (!rep) {
      throw std::invalid_argument(fmt::format("unknown report format '{}' (known: {})", n,
                                              fmt::join(ReporterNames(), ", ")));
    }
    reporters.push_back(std::move(rep));
  }
  ReportOutcome out;
  for (const auto& rep : reporters) {
    try {
      for (std::string& w : rep->Write(r, dir)) {
        out.warnings.push_back(fmt::format("{}: {}", rep->Name(), w));
      }
      out.written.emplace_back(rep->Name());
    } catch (const std::exception& e) {
      out.warnings.push_back(fmt::format("{}: not written: {}", rep->Name(), e.what()));
    }
  }
  return out;
}

}  // namespace svcbench
