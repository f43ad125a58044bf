#include "harness/report/plots.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <gnuplot-iostream.h>

#include "harness/analysis/stats.h"
#include "harness/report/format.h"
#include "harness/report/series.h"
#include "harness/util/process.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

// Fixed colours by the backend's place in the scenario, so a backend keeps its colour.
constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr const char* kSize = "960,600";

// A gnuplot single-quoted string: a quote is written twice.
std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += '\'';
    q += c;
  }
  return q + "'";
}

// A gnuplot double-quoted title of one or two lines (gnuplot reads \n in it as a line break).
std::string Title2(const std::string& first, const std::string& second) {
  auto esc = [](const std::string& t) {
    std::string q;
    for (char c : t) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    return q;
  };
  return "\"" + esc(first) + "\\n" + esc(second) + "\"";
}

std::string Num(double v) { return fmt::format("{}", v); }

std::string Colour(const std::vector<std::string>& order, const std::string& backend) {
  const auto it = std::find(order.begin(), order.end(), backend);
  const size_t i = static_cast<size_t>(it - order.begin());
  return kColours[i % std::size(kColours)];
}

std::string Stem(const MetricSeries& s) {
  std::string stem = FileSafe(s.metric);
  // fmt, not operator+: GCC 12 raises a false -Wrestrict on "_" + string (PR 105651).
  for (const auto& [k, v] : s.labels) stem += fmt::format("_{}-{}", FileSafe(k), FileSafe(v));
  return stem;
}

std::string Title(const MetricSeries& s) {
  const std::string l = LabelText(s.labels);
  return l.empty() ? s.metric : fmt::format("{} ({})", s.metric, l);
}

std::string UnitWord(const std::string& unit) {
  if (unit == "s") return "seconds";
  return unit.empty() ? "value" : unit;
}

// Tick labels with SI prefixes for seconds and bytes ("137.0 ms", "3.1 MB").
std::string AxisFormat(const std::string& axis, const std::string& unit) {
  if (unit == "s") return fmt::format("set format {} '%.1s %cs'\n", axis);
  if (unit == "bytes") return fmt::format("set format {} '%.1s %cB'\n", axis);
  return fmt::format("set format {} '%g'\n", axis);
}

// Log scale when every value is positive and they span at least a decade.
bool WantLog(double lo, double hi) { return lo > 0 && hi / lo >= 10; }

// Every value equal (rules counted at one size): gnuplot would warn "empty range"; give it
// one of ±10% (or ±1 around 0) instead.
std::string FlatRange(const std::string& axis, double lo, double hi) {
  if (!(lo == hi)) return "";
  const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
  return fmt::format("set {}range [{}:{}]\n", axis, Num(lo - pad), Num(hi + pad));
}

std::string Header(const std::string& stem, const std::string& title, const std::string& what) {
  return fmt::format(
      "# svcbench: {}\n# {}\n# Drawn by `svcbench report`; redraw here with: gnuplot {}.gp\n"
      "if (!exists(\"out\")) out = {}\nset encoding utf8\nset micro\n",
      title, what, stem, Quote(stem));
}

std::string Footer(const std::string& plot) {
  return fmt::format(
      "set terminal pngcairo size {0} font 'sans,10' noenhanced\n"
      "set output out.'.png'\n{1}\n"
      "set terminal svg size {0} font 'sans,10' noenhanced\n"
      "set output out.'.svg'\nreplot\nunset output\n",
      kSize, plot);
}

PlotScript VsServices(const MetricSeries& s, const std::vector<std::string>& order,
                      const std::string& subtitle) {
  PlotScript p;
  p.stem = Stem(s);
  const std::string title = Title(s);
  std::string data, plot;
  double lo = INFINITY, hi = 0;
  std::set<uint32_t> sizes;
  int block = 0;
  for (const std::string& backend : order) {
    const auto it = s.cells.find(backend);
    if (it == s.cells.end()) continue;
    data += fmt::format("$d{} << EOD\n# services p50 p10 p90 n\n", block);
    for (const auto& [services, samples] : it->second) {
      const double p50 = Quantile(samples, 0.5), p10 = Quantile(samples, 0.1),
                   p90 = Quantile(samples, 0.9);
      data +=
          fmt::format("{} {} {} {} {}\n", services, Num(p50), Num(p10), Num(p90), samples.size());
      lo = std::min(lo, p10);
      hi = std::max(hi, p90);
      sizes.insert(services);
    }
    data += "EOD\n";
    plot += fmt::format(
        "{}$d{} using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 0.8 lc rgb '{}' title {}",
        plot.empty() ? "plot " : ", \\\n     ", block, Colour(order, backend), Quote(backend));
    ++block;
  }
  p.script = Header(p.stem, title, "against services, per backend: p50, bars from p10 to p90");
  p.script += data;
  p.script += fmt::format("set title {}\n", Title2(title, subtitle));
  p.script += "set xlabel 'services'\n";
  p.script += fmt::format("set ylabel {}\n", Quote(UnitWord(s.unit) + " (p50, bars p10–p90)"));
  p.script += "set grid\nset key top left box opaque Left reverse\nset logscale x 10\n";
  // A little room around the measured sizes, instead of gnuplot's whole decades.
  p.script +=
      fmt::format("set xrange [{}:{}]\n", Num(*sizes.begin() / 1.5), Num(*sizes.rbegin() * 1.5));
  // Tics at the measured sizes: a log axis between them would show only decades.
  std::string tics;
  for (const uint32_t n : sizes) tics += fmt::format("{}{}", tics.empty() ? "" : ", ", n);
  p.script += fmt::format("set xtics ({})\n", tics);
  if (WantLog(lo, hi)) p.script += "set logscale y 10\n";
  p.script += FlatRange("y", lo, hi);
  p.script += AxisFormat("y", s.unit);
  p.script += Footer(plot);
  return p;
}

PlotScript Cdf(const MetricSeries& s, const std::vector<std::string>& order,
               const std::string& subtitle) {
  PlotScript p;
  p.stem = Stem(s) + ".cdf";
  const std::string title = Title(s);
  std::string data, plot;
  double lo = INFINITY, hi = 0;
  int block = 0;
  for (const std::string& backend : order) {
    const auto it = s.cells.find(backend);
    if (it == s.cells.end()) continue;
    std::vector<uint32_t> sizes = {it->second.begin()->first};
    if (it->second.size() > 1) sizes.push_back(it->second.rbegin()->first);
    for (const uint32_t services : sizes) {
      const std::vector<double>& v = it->second.at(services);
      // 201 quantiles draw the curve; the samples themselves would make a 5000-line script.
      data += fmt::format("$d{} << EOD\n# value fraction ({} samples)\n", block, v.size());
      std::vector<double> sorted = v;
      std::sort(sorted.begin(), sorted.end());
      for (int i = 0; i <= 200; ++i) {
        const double q = i / 200.0;
        data += fmt::format("{} {}\n", Num(Quantile(sorted, q)), Num(q));
      }
      data += "EOD\n";
      lo = std::min(lo, sorted.front());
      hi = std::max(hi, sorted.back());
      const bool smallest = sizes.size() > 1 && services == sizes.front();
      plot += fmt::format("{}$d{} using 1:2 with lines lw 2 dt {} lc rgb '{}' title {}",
                          plot.empty() ? "plot " : ", \\\n     ", block, smallest ? 2 : 1,
                          Colour(order, backend),
                          Quote(fmt::format("{} at {} services", backend, services)));
      ++block;
    }
  }
  p.script =
      Header(p.stem, title, "empirical CDF per backend, at its smallest (dashed) and largest size");
  p.script += data;
  p.script += fmt::format("set title {}\n", Title2(title + " CDF", subtitle));
  p.script += fmt::format("set xlabel {}\n", Quote(UnitWord(s.unit)));
  p.script += "set ylabel 'fraction of samples'\nset yrange [0:1]\n";
  p.script += "set grid\nset key bottom right box opaque Left reverse\n";
  if (WantLog(lo, hi)) p.script += "set logscale x 10\n";
  p.script += FlatRange("x", lo, hi);
  p.script += AxisFormat("x", s.unit);
  p.script += Footer(plot);
  return p;
}

// Blocks SIGPIPE in this thread while writing to gnuplot: if it exits early (a bad script),
// the write fails with EPIPE instead of killing svcbench. A pending SIGPIPE raised meanwhile is
// discarded.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeBlock() {
    const timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t set_, old_;
};

}  // namespace

std::vector<PlotScript> PlotScripts(const Result& r) {
  std::vector<PlotScript> out;
  const std::vector<std::string> order = BackendOrder(r);
  const std::string subtitle = fmt::format("{}; {}; {} cores; {}", ScenarioName(r, "?"),
                                           r.context.kernel, r.context.cores, r.context.started_at);
  for (const MetricSeries& s : GroupSeries(r)) {
    out.push_back(VsServices(s, order, subtitle));
    bool many = false;
    for (const auto& [backend, by_size] : s.cells) {
      for (const auto& [services, v] : by_size) many = many || v.size() >= kCdfMinSamples;
    }
    if (many) out.push_back(Cdf(s, order, subtitle));
  }
  return out;
}

PlotScript TrendPlotScript(const std::string& stem, const std::string& title,
                           const std::string& unit, const std::vector<TrendLine>& lines) {
  PlotScript p;
  p.stem = stem;
  std::string data, plot;
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    data += fmt::format("$d{} << EOD\n", i);
    for (const auto& [t, v] : lines[i].points) {
      data += fmt::format("{} {}\n", t, Num(v));
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    data += "EOD\n";
    plot += fmt::format("{}$d{} using 1:2 with linespoints lw 2 pt 7 lc rgb '{}' title {}",
                        plot.empty() ? "plot " : ", \\\n     ", i,
                        kColours[i % std::size(kColours)], Quote(lines[i].title));
  }
  p.script = Header(stem, title, "one point per recorded run");
  p.script += data;
  p.script += fmt::format("set title {}\n", Quote(title));
  p.script += "set xdata time\nset timefmt '%Y-%m-%dT%H:%M:%SZ'\nset format x \"%m-%d\\n%H:%M\"\n";
  p.script += fmt::format("set ylabel {}\n", Quote(UnitWord(unit)));
  p.script += "set grid\nset key top left box opaque Left reverse\n";
  if (WantLog(lo, hi)) p.script += "set logscale y 10\n";
  p.script += FlatRange("y", lo, hi);
  p.script += AxisFormat("y", unit);
  p.script += Footer(plot);
  return p;
}

std::vector<std::string> DrawPlots(const std::string& dir, const std::vector<PlotScript>& scripts) {
  std::vector<std::string> warnings;
  if (scripts.empty()) return warnings;
  if (!HaveCommand("gnuplot")) {
    warnings.push_back(fmt::format(
        "gnuplot not found: {} charts not drawn (their scripts are in {}; apt-get install "
        "gnuplot-nox)",
        scripts.size(), dir));
    return warnings;
  }
  SigpipeBlock block;
  for (const PlotScript& p : scripts) {
    const fs::path base = fs::path(dir) / p.stem;
    const std::string tmp = fmt::format(".{}.tmp.{}", p.stem, getpid());
    {
      // One gnuplot per chart: an error in one script ends only that gnuplot.
      Gnuplot gp("gnuplot");
      gp << "cd " << Quote(dir) << "\nout = " << Quote(tmp) << "\nload " << Quote(p.stem + ".gp")
         << "\n";
    }  // ~Gnuplot closes the pipe and waits for gnuplot (pclose)
    bool ok = true;
    for (const char* ext : {".png", ".svg"}) {
      const fs::path from = fs::path(dir) / (tmp + ext);
      std::error_code ec;
      if (fs::exists(from, ec) && fs::file_size(from, ec) > 0) {
        fs::rename(from, base.string() + ext, ec);
        ok = ok && !ec;
      } else {
        ok = false;
        fs::remove(from, ec);
      }
    }
    if (!ok) warnings.push_back(fmt::format("gnuplot did not draw {}.gp", base.string()));
  }
  return warnings;
}

}  // namespace svcbench
