// Reporters: one per output format, chosen by name in one factory (as Google Benchmark's are).
// Each derives its files from a Result alone: a reporter knows nothing of drivers or the kernel,
// and `svcbench report RUN_DIR` regenerates every output from result.json.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "harness/result/result.h"

namespace svcbench {

struct ReportFile {
  std::string path;  // relative to the run directory, e.g. "plots/sync.full.wall_state-cold.gp"
  std::string content;
};

class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual std::string_view Name() const = 0;
  virtual std::string_view Description() const = 0;
  // The files for `r`. Pure (no I/O), so each reporter is tested against golden files.
  virtual std::vector<ReportFile> Render(const Result& r) const = 0;
  // Writes Render()'s files under `dir`, each atomically. Returns warnings (e.g. a plot that
  // gnuplot did not draw); throws when a file cannot be written.
  virtual std::vector<std::string> Write(const Result& r, const std::string& dir) const;
};

// Every reporter's name, in the order `WriteReports` runs them.
std::vector<std::string> ReporterNames();

// nullptr for an unknown name.
std::unique_ptr<Reporter> MakeReporter(std::string_view name);

struct ReportOutcome {
  std::vector<std::string> written;   // reporter names that succeeded
  std::vector<std::string> warnings;  // "plots: gnuplot not found ..." and the like
};

// Runs the named reporters (all but "json" when `names` is empty: result.json is the source of
// truth and is never rewritten from itself). One reporter failing does not stop the others; its
// error becomes a warning. Throws std::invalid_argument for an unknown name.
ReportOutcome WriteReports(const Result& r, const std::string& dir,
                           const std::vector<std::string>& names = {});

}  // namespace svcbench
