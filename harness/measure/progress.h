// Progress of a run on stderr. On a terminal, one live status line (cell k of n, backend, size,
// measurement, ETA) is redrawn in place below the log lines; elsewhere (CI logs, files) only
// the log lines are written, one per step, each stamped with the time since the start.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>

#include <fmt/format.h>

namespace svcbench {

class Progress {
 public:
  // `live`: draw the status line (the caller checks isatty). `out` may be nullptr: silence.
  Progress(std::ostream* out, bool live);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  template <typename... Args>
  void Line(fmt::format_string<Args...> f, Args&&... args) {
    WriteLine(fmt::format(f, std::forward<Args>(args)...));
  }
  void WriteLine(const std::string& text);

  // Replaces the status line (live mode only).
  void Status(const std::string& text);

  // Work accounting for the ETA: `total` units planned, `done` so far.
  void SetWork(double total) { total_ = total; }
  void AddDone(double units) { done_ += units; }
  // "ETA ~3m20s" from the rate so far, or "" before any work is done.
  std::string Eta() const;
  double Elapsed() const;

 private:
  void ClearStatus();
  std::ostream* out_;
  bool live_;
  std::string status_;
  std::chrono::steady_clock::time_point t0_;
  double total_ = 0, done_ = 0;
};

// "1h02m", "3m20s", "45s".
std::string FormatDuration(double seconds);

}  // namespace svcbench
