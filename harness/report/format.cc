#include "harness/report/format.h"

#include <cmath>

#include <fmt/format.h>

namespace svcbench {

std::string LabelText(const Labels& labels) {
  std::string s;
  for (const auto& [k, v] : labels) s += fmt::format("{}{}={}", s.empty() ? "" : ", ", k, v);
  return s;
}

std::string FormatValue(double v, const std::string& unit) {
  if (!std::isfinite(v)) return "–";
  if (unit == "s") {
    if (v >= 1) return fmt::format("{:.3g} s", v);
    if (v >= 1e-3) return fmt::format("{:.3g} ms", v * 1e3);
    return fmt::format("{:.3g} µs", v * 1e6);
  }
  if (unit == "bytes") {
    if (v >= 1e9) return fmt::format("{:.3g} GB", v / 1e9);
    if (v >= 1e6) return fmt::format("{:.3g} MB", v / 1e6);
    if (v >= 1e3) return fmt::format("{:.3g} kB", v / 1e3);
    return fmt::format("{:.0f} B", v);
  }
  if (unit == "count") return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g} {}", v, unit);
}

std::string FileSafe(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

}  // namespace svcbench
