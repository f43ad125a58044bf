#include "harness/analysis/compare.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "harness/analysis/stats.h"
#include "harness/report/series.h"

namespace svcbench {
namespace {

using Key = std::tuple<std::string, uint32_t, uint32_t, std::string, Labels>;

struct Cell {
  std::string unit;
  std::vector<double> samples;
  std::optional<std::string> error;
  size_t order = 0;  // first appearance, to keep the run's order in the output
};

std::map<Key, Cell> Index(const Result& r) {
  std::map<Key, Cell> m;
  for (const ResultRow& row : r.rows) {
    const Key k{row.backend, row.services, row.endpoints_per_service, row.metric, row.labels};
    auto [it, fresh] = m.try_emplace(k);
    if (fresh) it->second.order = m.size();
    it->second.unit = row.unit;
    const std::vector<double> s = FiniteSamples(row.samples);
    it->second.samples.insert(it->second.samples.end(), s.begin(), s.end());
    if (row.error) it->second.error = row.error;
  }
  return m;
}

std::string Describe(const Key& k) {
  const std::string l = LabelText(std::get<4>(k));
  return fmt::format("{}{} {} at {} services", std::get<3>(k), l.empty() ? "" : " (" + l + ")",
                     std::get<0>(k), std::get<1>(k));
}

void ContextWarnings(const Result& base, const Result& now, Comparison& c) {
  const Context &a = base.context, &b = now.context;
  auto differ = [&](const char* what, const std::string& x, const std::string& y) {
    if (x != y)
      c.warnings.push_back(
          fmt::format("{} differs: {} '{}', {} '{}'", what, c.base_name, x, c.new_name, y));
  };
  differ("kernel", a.kernel, b.kernel);
  differ("cpu", a.cpu, b.cpu);
  differ("cores", std::to_string(a.cores), std::to_string(b.cores));
  differ("build type", a.build_type, b.build_type);
  differ("iptables", a.iptables, b.iptables);
  differ("nft", a.nft, b.nft);
  for (const auto& [name, r] : {std::pair{c.base_name, &base}, std::pair{c.new_name, &now}}) {
    if (!r->context.build_type.empty() && r->context.build_type != "Release") {
      c.warnings.push_back(fmt::format("{} is a {} build: timings are not representative", name,
                                       r->context.build_type));
    }
    if (r->status != RunStatus::kComplete) {
      c.warnings.push_back(fmt::format("{} is {}", name, RunStatusName(r->status)));
    }
    // More runnable work than cores inflates every timing.
    if (r->context.cores > 0 && r->context.load_at_start > r->context.cores) {
      c.warnings.push_back(fmt::format("{} started on a busy machine (load {:.2f} on {} cores)",
                                       name, r->context.load_at_start, r->context.cores));
    }
  }
}

int Rank(Verdict v) {
  switch (v) {
    case Verdict::kNewError:
      return 0;
    case Verdict::kWorse:
      return 1;
    case Verdict::kBetter:
      return 2;
    case Verdict::kTooFew:
      return 3;
    case Verdict::kSame:
      return 4;
  }
  return 5;
}

std::string Change(double ratio) {
  if (std::isinf(ratio)) return "+∞";
  return fmt::format("{:+.1f}%", (ratio - 1) * 100);
}

std::string PValue(double p) {
  return p < 0.001 ? fmt::format("{:.1e}", p) : fmt::format("{:.3f}", p);
}

}  // namespace

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kSame:
      return "same";
    case Verdict::kBetter:
      return "better";
    case Verdict::kWorse:
      return "worse";
    case Verdict::kTooFew:
      return "too few samples";
    case Verdict::kNewError:
      return "new error";
  }
  return "?";
}

bool HigherIsBetter(const std::string& metric, const std::string& unit) {
  return unit == "1/s" || unit == "bytes/s" || metric.rfind("throughput.", 0) == 0;
}

std::optional<double> ParseFraction(const std::string& s) {
  if (s.empty()) return std::nullopt;
  const bool percent = s.back() == '%';
  const std::string num = percent ? s.substr(0, s.size() - 1) : s;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(num, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != num.size() || !std::isfinite(v)) return std::nullopt;
  if (percent) v /= 100;
  if (v < 0 || v > 10) return std::nullopt;
  return v;
}

bool Comparison::Regressed() const {
  for (const MetricComparison& m : rows) {
    if (m.verdict == Verdict::kWorse || m.verdict == Verdict::kNewError) return true;
  }
  return false;
}

Comparison Compare(const Result& base, const Result& now, const CompareOptions& opts,
                   const std::string& base_name, const std::string& new_name) {
  Comparison c;
  c.base_name = base_name;
  c.new_name = new_name;
  c.options = opts;
  ContextWarnings(base, now, c);
  const std::map<Key, Cell> a = Index(base), b = Index(now);
  // Cells (backend, services) the base measured at all: a failure there is new.
  std::set<std::pair<std::string, uint32_t>> base_measured;
  for (const auto& [k, cell] : a) {
    if (!cell.samples.empty()) base_measured.insert({std::get<0>(k), std::get<1>(k)});
  }

  std::vector<std::pair<size_t, MetricComparison>> out;
  for (const auto& [k, nc] : b) {
    MetricComparison m;
    std::tie(m.backend, m.services, m.endpoints_per_service, m.metric, m.labels) = k;
    m.unit = nc.unit;
    const auto it = a.find(k);
    if (nc.error && !(it != a.end() && it->second.error) &&
        base_measured.count({m.backend, m.services})) {
      m.verdict = Verdict::kNewError;
      m.error = *nc.error;
      m.n_new = nc.samples.size();
      out.emplace_back(nc.order, std::move(m));
      continue;
    }
    if (nc.samples.empty()) continue;
    if (it == a.end() || it->second.samples.empty()) {
      c.unmatched.push_back(fmt::format("{}: only in {}", Describe(k), new_name));
      continue;
    }
    const std::vector<double>& x = it->second.samples;
    const std::vector<double>& y = nc.samples;
    m.n_base = x.size();
    m.n_new = y.size();
    m.median_base = Quantile(x, 0.5);
    m.median_new = Quantile(y, 0.5);
    if (m.median_base != 0) {
      m.ratio = m.median_new / m.median_base;
    } else {
      m.ratio = m.median_new == 0 ? 1 : std::numeric_limits<double>::infinity();
    }
    m.p = MannWhitneyU(x, y).p;
    if (MinTwoSidedP(x.size(), y.size()) >= opts.alpha) {
      m.verdict = Verdict::kTooFew;
    } else if (m.p < opts.alpha && std::abs(m.ratio - 1) > opts.threshold) {
      const bool up = m.ratio > 1;
      m.verdict = up != HigherIsBetter(m.metric, m.unit) ? Verdict::kWorse : Verdict::kBetter;
    } else {
      m.verdict = Verdict::kSame;
    }
    out.emplace_back(nc.order, std::move(m));
  }
  for (const auto& [k, ac] : a) {
    if (!ac.samples.empty() && !b.count(k)) {
      c.unmatched.push_back(fmt::format("{}: only in {}", Describe(k), base_name));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& l, const auto& r) {
    return std::make_pair(Rank(l.second.verdict), l.first) <
           std::make_pair(Rank(r.second.verdict), r.first);
  });
  for (auto& [order, m] : out) c.rows.push_back(std::move(m));
  return c;
}

std::string CompareMarkdown(const Comparison& c) {
  std::map<Verdict, int> count;
  for (const MetricComparison& m : c.rows) ++count[m.verdict];
  std::string md =
      fmt::format("## svcbench compare: {}\n\n",
                  c.Regressed() ? fmt::format("**regression** ({} worse, {} new errors)",
                                              count[Verdict::kWorse], count[Verdict::kNewError])
                                : "no regression");
  md += fmt::format("Base: {} · new: {} · threshold {:g}% · alpha {:g}\n\n", c.base_name,
                    c.new_name, c.options.threshold * 100, c.options.alpha);
  md += fmt::format(
      "{} compared: {} worse, {} better, {} same, {} too few samples, {} new errors\n\n",
      c.rows.size(), count[Verdict::kWorse], count[Verdict::kBetter], count[Verdict::kSame],
      count[Verdict::kTooFew], count[Verdict::kNewError]);
  for (const std::string& w : c.warnings) md += fmt::format("> **warning:** {}\n", w);
  if (!c.warnings.empty()) md += "\n";

  const std::string head =
      "| verdict | backend | services | metric | labels | base p50 | new p50 | change | p | n |\n"
      "|---|---|---:|---|---|---:|---:|---:|---:|---:|\n";
  auto line = [](const MetricComparison& m) {
    if (m.verdict == Verdict::kNewError) {
      std::string e;  // a '|' would end the table cell
      for (char ch : m.error) e += ch == '|' ? std::string("\\|") : std::string(1, ch);
      return fmt::format("| **new error** | {} | {} | {} | {} | – | {} | | | |\n", m.backend,
                         m.services, m.metric, LabelText(m.labels), e);
    }
    const bool loud = m.verdict == Verdict::kWorse || m.verdict == Verdict::kBetter;
    const std::string v(VerdictName(m.verdict));
    return fmt::format(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |\n", loud ? "**" + v + "**" : v,
        m.backend, m.services, m.metric, LabelText(m.labels), FormatValue(m.median_base, m.unit),
        FormatValue(m.median_new, m.unit), Change(m.ratio), PValue(m.p), m.n_base, m.n_new);
  };
  std::string changed, rest;
  for (const MetricComparison& m : c.rows) {
    (m.verdict == Verdict::kSame || m.verdict == Verdict::kTooFew ? rest : changed) += line(m);
  }
  if (!changed.empty()) md += head + changed + "\n";
  if (!rest.empty()) {
    md +=
        "<details><summary>Unchanged or undecided</summary>\n\n" + head + rest + "\n</details>\n\n";
  }
  if (!c.unmatched.empty()) {
    md += "<details><summary>In one run only</summary>\n\n";
    for (const std::string& u : c.unmatched) md += "- " + u + "\n";
    md += "\n</details>\n";
  }
  return md;
}

nlohmann::json CompareJson(const Comparison& c) {
  nlohmann::json rows = nlohmann::json::array();
  for (const MetricComparison& m : c.rows) {
    nlohmann::json o = {{"backend", m.backend},
                        {"services", m.services},
                        {"endpoints_per_service", m.endpoints_per_service},
                        {"metric", m.metric},
                        {"unit", m.unit},
                        {"labels", m.labels},
                        {"verdict", std::string(VerdictName(m.verdict))}};
    if (m.verdict == Verdict::kNewError) {
      o["error"] = m.error;
    } else {
      o["n_base"] = m.n_base;
      o["n_new"] = m.n_new;
      o["median_base"] = m.median_base;
      o["median_new"] = m.median_new;
      // JSON has no infinity: a change from a zero median is null.
      o["ratio"] = std::isfinite(m.ratio) ? nlohmann::json(m.ratio) : nlohmann::json();
      o["p_value"] = m.p;
    }
    rows.push_back(std::move(o));
  }
  return {{"verdict", c.Regressed() ? "regression" : "ok"},
          {"base", c.base_name},
          {"new", c.new_name},
          {"threshold", c.options.threshold},
          {"alpha", c.options.alpha},
          {"warnings", c.warnings},
          {"unmatched", c.unmatched},
          {"results", rows}};
}

}  // namespace svcbench
