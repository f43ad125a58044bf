#include "harness/analysis/recommend.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/analysis/stats.h"
#include "harness/report/series.h"

namespace svcbench {
namespace {

const std::set<std::string> kStats = {"p50", "p90", "p99", "mean", "min", "max"};

// "100us" -> (1e-4, "s"). The unit says which metric units the limit can apply to.
std::pair<double, std::string> ParseQuantity(const std::string& s, const std::string& slo) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || !std::isfinite(v)) {
    throw std::invalid_argument(fmt::format("SLO '{}': '{}' is not a number", slo, s));
  }
  const std::string u = s.substr(used);
  static const std::map<std::string, std::pair<double, std::string>> kUnits = {
      {"", {1, ""}},          {"ns", {1e-9, "s"}},    {"us", {1e-6, "s"}},    {"µs", {1e-6, "s"}},
      {"ms", {1e-3, "s"}},    {"s", {1, "s"}},        {"min", {60, "s"}},     {"B", {1, "bytes"}},
      {"kB", {1e3, "bytes"}}, {"MB", {1e6, "bytes"}}, {"GB", {1e9, "bytes"}}, {"/s", {1, "1/s"}},
      {"k/s", {1e3, "1/s"}},  {"M/s", {1e6, "1/s"}},  {"k", {1e3, ""}},       {"M", {1e6, ""}}};
  const auto it = kUnits.find(u);
  if (it == kUnits.end()) {
    throw std::invalid_argument(fmt::format(
        "SLO '{}': unknown unit '{}' (ns us ms s min, B kB MB GB, /s k/s M/s, or none)", slo, u));
  }
  return {v * it->second.first, it->second.second};
}

bool Selected(const Labels& row, const Labels& selector) {
  for (const auto& [k, v] : selector) {
    const auto it = row.find(k);
    if (it == row.end() || it->second != v) return false;
  }
  return true;
}

// Is `v` within the SLO?
bool Meets(const Slo& s, double v) { return s.upper ? v <= s.limit : v >= s.limit; }

std::string FitText(const Fit& f, const std::string& unit) {
  switch (f.model) {
    case GrowthModel::kConstant:
      return fmt::format("{}", FormatValue(f.a, unit));
    case GrowthModel::kLinear:
      return fmt::format("{} + {} per 1k services", FormatValue(f.a, unit),
                         FormatValue(f.b * 1e3, unit));
    case GrowthModel::kNLogN:
      return fmt::format("{:.3g} + {:.3g}·n·ln n", f.a, f.b);
    case GrowthModel::kQuadratic:
      return fmt::format("{:.3g} + {:.3g}·n²", f.a, f.b);
  }
  return "";
}

SloCheck Check(const Slo& slo, const Labels& labels, const std::string& unit,
               const std::map<uint32_t, std::vector<double>>& by_size,
               std::optional<uint32_t> failed_at, double cap) {
  SloCheck c;
  c.slo = slo.text;
  c.labels = labels;
  c.unit = unit;
  for (const auto& [n, v] : by_size) c.points.emplace_back(n, NamedStatistic(v, slo.stat));
  // Measured facts: the largest size met with every smaller one, the smallest missed.
  double ok_max = 0;
  for (const auto& [n, y] : c.points) {
    if (!Meets(slo, y)) {
      c.first_miss = n;
      break;
    }
    ok_max = n;
  }
  if (failed_at && (!c.first_miss || *failed_at < *c.first_miss)) c.first_miss = failed_at;
  if (c.first_miss && ok_max >= *c.first_miss) {
    ok_max = 0;
    for (const auto& [n, y] : c.points) {
      if (n < *c.first_miss) ok_max = n;
    }
  }

  if (c.points.size() < 3) {
    c.bound = ok_max;
    c.note = "fewer than 3 sizes: no fit; the largest measured size that met it";
    return c;
  }
  // A ">=" SLO on a rate is a "<=" SLO on its negation; the fit is linear in a and b, so
  // fitting the negated values gives the same model and R².
  const double sign = slo.upper ? 1 : -1;
  std::vector<double> xs, ys;
  for (const auto& [n, y] : c.points) {
    xs.push_back(n);
    ys.push_back(sign * y);
  }
  c.fit = BestFit(xs, ys);
  double bound = c.fit->LargestWithin(sign * slo.limit, cap);
  if (!slo.upper) {
    c.fit->a = -c.fit->a;
    c.fit->b = -c.fit->b;
  }
  const double lo = c.points.front().first, hi = c.points.back().first;
  const double fitted = bound;
  if (c.first_miss && fitted >= *c.first_miss) {
    bound = ok_max;
    c.note = fmt::format("the fit says {}, but {} services {}", RoundServices(fitted),
                         *c.first_miss, failed_at == c.first_miss ? "failed" : "missed it");
  } else if (fitted < ok_max) {
    bound = ok_max;
    c.note = fmt::format("the fit says {}, but {} services met it", RoundServices(fitted),
                         RoundServices(ok_max));
  } else {
    c.extrapolated = bound > hi || bound < lo;
  }
  c.bound = bound;
  return c;
}

std::string BoundText(double bound, double cap) {
  return bound >= cap ? fmt::format("≥ {}", RoundServices(cap)) : RoundServices(bound);
}

}  // namespace

std::string RoundServices(double n) {
  if (!std::isfinite(n) || n <= 0) return "0";
  const double mag = std::pow(10.0, std::floor(std::log10(n)) - 2);
  const auto v = static_cast<long long>(std::llround(n / mag) * mag);
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

Slo ParseSlo(const std::string& text) {
  Slo s;
  s.text = text;
  size_t op = text.find("<=");
  s.upper = true;
  if (op == std::string::npos) {
    op = text.find(">=");
    s.upper = false;
  }
  if (op == std::string::npos) {
    throw std::invalid_argument(
        fmt::format("SLO '{}': expected METRIC.STAT<=VALUE or METRIC.STAT>=VALUE", text));
  }
  std::string lhs = text.substr(0, op);
  const std::string rhs = text.substr(op + 2);
  const size_t dot = lhs.rfind('.');
  if (dot == std::string::npos || !kStats.count(lhs.substr(dot + 1))) {
    throw std::invalid_argument(
        fmt::format("SLO '{}': '{}' must end in .p50, .p90, .p99, .mean, .min or .max", text, lhs));
  }
  s.stat = lhs.substr(dot + 1);
  lhs = lhs.substr(0, dot);
  if (const size_t brace = lhs.find('{'); brace != std::string::npos) {
    if (lhs.back() != '}') {
      throw std::invalid_argument(fmt::format("SLO '{}': unclosed '{{' in '{}'", text, lhs));
    }
    const std::string sel = lhs.substr(brace + 1, lhs.size() - brace - 2);
    lhs = lhs.substr(0, brace);
    size_t start = 0;
    while (start < sel.size()) {
      const size_t end = std::min(sel.find(',', start), sel.size());
      const std::string kv = sel.substr(start, end - start);
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw std::invalid_argument(fmt::format("SLO '{}': label '{}' is not key=value", text, kv));
      }
      s.selector[kv.substr(0, eq)] = kv.substr(eq + 1);
      start = end + 1;
    }
  }
  if (lhs.empty()) throw std::invalid_argument(fmt::format("SLO '{}': no metric", text));
  s.metric = lhs;
  std::tie(s.limit, s.unit) = ParseQuantity(rhs, text);
  return s;
}

std::vector<Slo> DefaultSlos() {
  auto slo = [](const char* text, const char* source) {
    Slo s = ParseSlo(text);
    s.source = source;
    return s;
  };
  return {
      slo("programming_latency.p99<=30s",
          "ClusterLoader2's network programming latency threshold "
          "(CL2_NETWORK_PROGRAMMING_LATENCY_THRESHOLD, default 30s)"),
      slo("sync.full.wall.p50<=1s",
          "kube-proxy's default --iptables-min-sync-period (1s): a longer sync runs back to back"),
      slo("update.wall.p50<=1s", "kube-proxy's default --iptables-min-sync-period (1s)"),
      slo("latency.overhead.p99<=100us",
          "svcbench's own budget for the data plane's per-packet cost (DESIGN.md)"),
      slo("contention.lock_wait.p99<=5s",
          "kube-proxy runs iptables-restore with -w 5: a longer wait for the xtables lock fails "
          "the sync"),
  };
}

bool Recommendation::MissesTarget() const {
  for (const BackendRecommendation& b : backends) {
    if (!b.meets_target) return true;
  }
  return false;
}

Recommendation Recommend(const Result& r, const std::vector<Slo>& slos, bool explicit_slos,
                         const RecommendOptions& opts) {
  Recommendation rec;
  rec.scenario = ScenarioName(r, "?");
  rec.kernel = r.context.kernel;
  rec.options = opts;
  const std::vector<MetricSeries> series = GroupSeries(r);
  for (const Slo& s : slos) {
    bool any = false;
    for (const MetricSeries& ms : series) {
      if (ms.metric != s.metric || !Selected(ms.labels, s.selector)) continue;
      any = true;
      if (!s.unit.empty() && s.unit != ms.unit) {
        throw std::invalid_argument(fmt::format("SLO '{}': the limit is in {} but {} is in {}",
                                                s.text, s.unit, s.metric, ms.unit));
      }
    }
    if (any) {
      rec.slos.push_back(s);
    } else if (explicit_slos) {
      throw std::invalid_argument(
          fmt::format("SLO '{}': the run has no samples of {}{}", s.text, s.metric,
                      s.selector.empty() ? "" : " with " + LabelText(s.selector)));
    } else {
      rec.not_measured.push_back(s.text);
    }
  }

  for (const std::string& backend : BackendOrder(r)) {
    if (!opts.backends.empty() &&
        std::find(opts.backends.begin(), opts.backends.end(), backend) == opts.backends.end()) {
      continue;
    }
    BackendRecommendation b;
    b.backend = backend;
    for (const ResultRow& row : r.rows) {
      if (row.backend == backend && row.error && (!b.failed_at || row.services < *b.failed_at)) {
        b.failed_at = row.services;
        b.failure = *row.error;
      }
    }
    for (const Slo& s : rec.slos) {
      for (const MetricSeries& ms : series) {
        if (ms.metric != s.metric || !Selected(ms.labels, s.selector)) continue;
        const auto it = ms.cells.find(backend);
        if (it == ms.cells.end()) continue;
        b.checks.push_back(Check(s, ms.labels, ms.unit, it->second, b.failed_at, opts.cap));
      }
    }
    if (b.checks.empty() && !b.failed_at) continue;
    b.bound = opts.cap;
    for (size_t i = 0; i < b.checks.size(); ++i) {
      if (b.binding < 0 || b.checks[i].bound < b.bound) {
        b.bound = b.checks[i].bound;
        b.binding = static_cast<int>(i);
      }
    }
    if (b.checks.empty()) b.bound = 0;
    if (opts.at) b.meets_target = b.bound >= *opts.at;
    rec.backends.push_back(std::move(b));
  }
  return rec;
}

std::string RecommendMarkdown(const Recommendation& rec) {
  const double cap = rec.options.cap;
  std::string md = fmt::format("## svcbench recommend: {} ({})\n\n", rec.scenario, rec.kernel);
  md += "SLOs:\n";
  for (const Slo& s : rec.slos) {
    md += fmt::format("- `{}`{}\n", s.text, s.source.empty() ? "" : " — " + s.source);
  }
  for (const std::string& s : rec.not_measured)
    md += fmt::format("- `{}` — not measured in this run\n", s);
  if (rec.options.at) md += fmt::format("\nTarget: {} services.\n", *rec.options.at);
  md += "\n| backend | max services | binding SLO | model | R² | extrapolated |";
  if (rec.options.at) md += " target |";
  md += "\n|---|---:|---|---|---:|---|";
  if (rec.options.at) md += "---|";
  md += "\n";
  for (const BackendRecommendation& b : rec.backends) {
    std::string binding = "–", model = "–", r2 = "–", extra = "–";
    if (b.binding >= 0) {
      const SloCheck& c = b.checks[static_cast<size_t>(b.binding)];
      const std::string l = LabelText(c.labels);
      binding = fmt::format("`{}`{}", c.slo, l.empty() ? "" : " (" + l + ")");
      if (c.fit) {
        model = std::string(GrowthModelName(c.fit->model));
        r2 = fmt::format("{:.3f}", c.fit->r2);
        extra = c.extrapolated ? "**yes**" : "no";
      }
    }
    md += fmt::format("| {} | {} | {} | {} | {} | {} |", b.backend, BoundText(b.bound, cap),
                      binding, model, r2, extra);
    if (rec.options.at) md += b.meets_target ? " met |" : " **missed** |";
    md += "\n";
  }
  md += "\n";
  for (const BackendRecommendation& b : rec.backends) {
    md += fmt::format("### {}\n\n", b.backend);
    if (b.failed_at) md += fmt::format("Failed at {} services: {}\n\n", *b.failed_at, b.failure);
    md +=
        "| SLO | labels | measured | fit | R² | bound | note |\n|---|---|---|---|---:|---:|---|\n";
    for (const SloCheck& c : b.checks) {
      std::string measured;
      for (const auto& [n, y] : c.points) {
        measured +=
            fmt::format("{}{}: {}", measured.empty() ? "" : ", ", n, FormatValue(y, c.unit));
      }
      std::string note = c.note;
      if (c.extrapolated) note = "extrapolated" + (note.empty() ? "" : "; " + note);
      md += fmt::format(
          "| `{}` | {} | {} | {} | {} | {} | {} |\n", c.slo, LabelText(c.labels), measured,
          c.fit ? fmt::format("{}: {}", GrowthModelName(c.fit->model), FitText(*c.fit, c.unit))
                : "–",
          c.fit ? fmt::format("{:.3f}", c.fit->r2) : "–", BoundText(c.bound, cap), note);
    }
    md += "\n";
  }
  return md;
}

nlohmann::json RecommendJson(const Recommendation& rec) {
  nlohmann::json backends = nlohmann::json::array();
  for (const BackendRecommendation& b : rec.backends) {
    nlohmann::json checks = nlohmann::json::array();
    for (const SloCheck& c : b.checks) {
      nlohmann::json pts = nlohmann::json::array();
      for (const auto& [n, y] : c.points) pts.push_back({{"services", n}, {"value", y}});
      nlohmann::json o = {{"slo", c.slo},
                          {"labels", c.labels},
                          {"unit", c.unit},
                          {"points", pts},
                          {"bound", c.bound},
                          {"unbounded", c.bound >= rec.options.cap},
                          {"extrapolated", c.extrapolated},
                          {"note", c.note}};
      if (c.first_miss) o["first_miss"] = *c.first_miss;
      if (c.fit) {
        o["fit"] = {{"model", std::string(GrowthModelName(c.fit->model))},
                    {"a", c.fit->a},
                    {"b", c.fit->b},
                    {"r2", c.fit->r2},
                    {"adj_r2", c.fit->adj_r2},
                    {"aic", c.fit->aic}};
      }
      checks.push_back(std::move(o));
    }
    nlohmann::json o = {{"backend", b.backend},
                        {"bound", b.bound},
                        {"unbounded", b.bound >= rec.options.cap},
                        {"checks", checks}};
    if (b.binding >= 0) o["binding"] = b.checks[static_cast<size_t>(b.binding)].slo;
    if (b.failed_at) o["failed_at"] = {{"services", *b.failed_at}, {"error", b.failure}};
    if (rec.options.at) o["meets_target"] = b.meets_target;
    backends.push_back(std::move(o));
  }
  nlohmann::json slos = nlohmann::json::array();
  for (const Slo& s : rec.slos) slos.push_back({{"slo", s.text}, {"source", s.source}});
  nlohmann::json j = {{"scenario", rec.scenario},         {"kernel", rec.kernel},
                      {"cap", rec.options.cap},           {"slos", slos},
                      {"not_measured", rec.not_measured}, {"backends", backends}};
  if (rec.options.at) j["target"] = *rec.options.at;
  return j;
}

}  // namespace svcbench
