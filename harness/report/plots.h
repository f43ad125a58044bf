// plots/: one gnuplot script per chart, holding its data, and the PNG and SVG gnuplot draws
// from it (through gnuplot-iostream). Generic by metric name and labels:
//   <metric>[_<label>-<value>...].{gp,png,svg}      the metric against services, one line per
//       backend, log x axis: p50 with bars from p10 to p90 (sync time, update cost, latency
//       overhead vs services, ...)
//   <metric>[_<label>-<value>...].cdf.{gp,png,svg}  the empirical CDF, for metrics whose cells
//       hold at least kCdfMinSamples samples (latency, lock wait): each backend at its smallest
//       and largest size
// Scripts are pure text (golden-tested); `gnuplot NAME.gp` in plots/ redraws a chart by hand.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "harness/result/result.h"

namespace svcbench {

inline constexpr size_t kCdfMinSamples = 20;

struct PlotScript {
  std::string stem;    // file name without extension, e.g. "sync.full.wall_state-cold"
  std::string script;  // draws <out>.png and <out>.svg; `out` defaults to the stem
};

std::vector<PlotScript> PlotScripts(const Result& r);

// One line of a time-series chart (`svcbench history trend`): (RFC 3339 time, value) points.
struct TrendLine {
  std::string title;
  std::vector<std::pair<std::string, double>> points;
};
PlotScript TrendPlotScript(const std::string& stem, const std::string& title,
                           const std::string& unit, const std::vector<TrendLine>& lines);

// Writes nothing itself: runs gnuplot on each script (which must already be in `dir` as
// <stem>.gp) so that it draws <stem>.png and <stem>.svg there, through temporary names renamed
// into place. Returns a warning per chart gnuplot did not draw; one warning when gnuplot is
// not installed.
std::vector<std::string> DrawPlots(const std::string& dir, const std::vector<PlotScript>& scripts);

}  // namespace svcbench
