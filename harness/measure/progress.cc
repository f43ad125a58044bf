#include "harness/measure/progress.h"

#include <algorithm>
#include <cmath>
#include <ostream>

namespace svcbench {

Progress::Progress(std::ostream* out, bool live)
    : out_(out), live_(live && out != nullptr), t0_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { ClearStatus(); }

double Progress::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Progress::ClearStatus() {
  // Carriage return, then erase to the end of the line (ECMA-48 EL).
  if (live_ && !status_.empty()) *out_ << "\r\x1b[K" << std::flush;
}

void Progress::WriteLine(const std::string& text) {
  if (!out_) return;
  ClearStatus();
  *out_ << fmt::format("[{:7.1f}s] ", Elapsed()) << text << '\n';
  if (live_ && !status_.empty()) *out_ << status_;
  *out_ << std::flush;
}

void Progress::Status(const std::string& text) {
  if (!live_) return;
  ClearStatus();
  status_ = text;
  *out_ << status_ << std::flush;
}

std::string Progress::Eta() const {
  if (done_ <= 0 || total_ <= done_) return "";
  return "ETA ~" + FormatDuration(Elapsed() * (total_ - done_) / done_);
}

std::string FormatDuration(double seconds) {
  const auto s = static_cast<long>(std::lround(std::max(0.0, seconds)));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace svcbench
