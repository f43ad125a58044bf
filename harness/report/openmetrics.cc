#include "harness/report/openmetrics.h"

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "harness/analysis/stats.h"
#include "harness/report/series.h"

namespace svcbench {
namespace {

// Metric and label names: [a-zA-Z_][a-zA-Z0-9_]*.
std::string Ident(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += ok ? c : '_';
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out = "_" + out;
  return out;
}

// Label values escape backslash, double quote and line feed.
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// OpenMetrics units are base units spelled out; "" for none.
std::string UnitName(const std::string& unit) {
  if (unit == "s") return "seconds";
  if (unit == "bytes") return "bytes";
  if (unit == "count" || unit.empty()) return "";
  if (unit == "1/s") return "per_second";
  return Ident(unit);
}

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

using LabelList = std::vector<std::pair<std::string, std::string>>;

std::string LabelSet(const LabelList& l) {
  std::string s;
  for (const auto& [k, v] : l) s += fmt::format("{}{}=\"{}\"", s.empty() ? "" : ",", k, Escape(v));
  return "{" + s + "}";
}

}  // namespace

std::string OpenMetricsName(const std::string& metric, const std::string& unit) {
  const std::string u = UnitName(unit);
  const std::string base = "svcbench_" + Ident(metric);
  // sync.payload.bytes is already in bytes: no "_bytes_bytes".
  const bool has_unit =
      u.empty() || (base.size() > u.size() &&
                    base.compare(base.size() - u.size() - 1, u.size() + 1, "_" + u) == 0);
  return has_unit ? base : base + "_" + u;
}

std::string OpenMetricsText(const Result& r) {
  std::string out;
  const Context& c = r.context;
  out += "# TYPE svcbench_run_info gauge\n";
  out += "# HELP svcbench_run_info The run this file describes; the value is always 1.\n";
  out += "svcbench_run_info" +
         LabelSet({{"scenario", ScenarioName(r, "")},
                   {"status", std::string(RunStatusName(r.status))},
                   {"kernel", c.kernel},
                   {"cpu", c.cpu},
                   {"build_type", c.build_type},
                   {"git_sha", c.git_sha},
                   {"started_at", c.started_at}}) +
         " 1\n";

  // One family per metric name (all label sets of it together, as the format requires).
  std::vector<std::string> order;
  std::map<std::string, std::vector<const ResultRow*>> by_metric;
  for (const ResultRow& row : r.rows) {
    if (FiniteSamples(row.samples).empty()) continue;
    const std::string name = OpenMetricsName(row.metric, row.unit);
    if (!by_metric.count(name)) order.push_back(name);
    by_metric[name].push_back(&row);
  }
  static const std::set<std::string> kReserved = {"backend", "services", "endpoints_per_service",
                                                  "quantile"};
  for (const std::string& name : order) {
    const ResultRow& first = *by_metric[name].front();
    out += fmt::format("# TYPE {} summary\n", name);
    if (const std::string u = UnitName(first.unit); !u.empty()) {
      out += fmt::format("# UNIT {} {}\n", name, u);
    }
    out += fmt::format("# HELP {} svcbench metric {} (docs/metrics.md)\n", name, first.metric);
    for (const ResultRow* row : by_metric[name]) {
      LabelList l = {{"backend", row->backend},
                     {"services", std::to_string(row->services)},
                     {"endpoints_per_service", std::to_string(row->endpoints_per_service)}};
      for (const auto& [k, v] : row->labels) {
        const std::string id = Ident(k);
        l.emplace_back(kReserved.count(id) ? "label_" + id : id, v);
      }
      const std::vector<double> s = FiniteSamples(row->samples);
      for (const auto& [q, text] :
           {std::pair<double, const char*>{0.5, "0.5"}, {0.9, "0.9"}, {0.99, "0.99"}}) {
        LabelList lq = l;
        lq.emplace_back("quantile", text);
        out += fmt::format("{}{} {}\n", name, LabelSet(lq), Num(Quantile(s, q)));
      }
      double sum = 0;
      for (double x : s) sum += x;
      out += fmt::format("{}_sum{} {}\n", name, LabelSet(l), Num(sum));
      out += fmt::format("{}_count{} {}\n", name, LabelSet(l), s.size());
    }
  }

  bool any_error = false;
  for (const ResultRow& row : r.rows) {
    if (!row.error) continue;
    if (!any_error) {
      out += "# TYPE svcbench_cell_error gauge\n";
      out += "# HELP svcbench_cell_error A cell that failed (the error is in result.json).\n";
      any_error = true;
    }
    out += "svcbench_cell_error" +
           LabelSet({{"backend", row.backend},
                     {"services", std::to_string(row.services)},
                     {"endpoints_per_service", std::to_string(row.endpoints_per_service)},
                     {"metric", row.metric}}) +
           " 1\n";
  }
  out += "# EOF\n";
  return out;
}

}  // namespace svcbench
