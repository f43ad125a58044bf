#include "harness/report/summary_markdown.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "harness/report/series.h"

namespace svcbench {

std::string SummaryMarkdown(const Result& r) {
  std::string md;
  const std::string name = ScenarioName(r, "?");
  md += fmt::format("# svcbench: {} ({})\n\n", name, RunStatusName(r.status));
  const Context& c = r.context;
  md += fmt::format("- kernel: {}\n- cpu: {} ({} cores)\n- iptables: {}\n- nft: {}\n", c.kernel,
                    c.cpu, c.cores, c.iptables, c.nft);
  md += fmt::format("- build: {} {} (svcbench {})\n- started {} finished {}\n", c.build_type,
                    c.git_sha, c.svcbench_version, c.started_at,
                    c.finished_at.empty() ? "(not finished)" : c.finished_at);
  md += fmt::format("- load average: {:.2f} at start, {:.2f} at finish\n", c.load_at_start,
                    c.load_at_finish);
  for (const auto& w : c.warnings) md += fmt::format("- **warning:** {}\n", w);
  md += "\n";

  // Group rows by (metric, labels); keep first-seen order of metrics and backends.
  using Key = std::pair<std::string, std::string>;
  std::vector<Key> keys;
  std::map<Key, std::string> units;
  std::vector<std::string> backends;
  std::set<uint32_t> sizes;
  std::map<std::tuple<Key, std::string, uint32_t>, Summary> cells;
  std::vector<const ResultRow*> errors;
  for (const ResultRow& row : r.rows) {
    if (row.error) errors.push_back(&row);
    if (row.samples.empty()) continue;
    const Key key{row.metric, LabelText(row.labels)};
    if (!units.count(key)) keys.push_back(key);
    units[key] = row.unit;
    if (std::find(backends.begin(), backends.end(), row.backend) == backends.end()) {
      backends.push_back(row.backend);
    }
    sizes.insert(row.services);
    cells[{key, row.backend, row.services}] = Summarize(row.samples);
  }

  for (const Key& key : keys) {
    md += fmt::format("## {}{}\n\n| services |", key.first,
                      key.second.empty() ? "" : fmt::format(" ({})", key.second));
    std::string sep = "|---:|";
    for (const auto& b : backends) {
      md += fmt::format(" {} p50 | {} p90 |", b, b);
      sep += "---:|---:|";
    }
    md += "\n" + sep + "\n";
    for (const uint32_t n : sizes) {
      md += fmt::format("| {} |", n);
      for (const auto& b : backends) {
        const auto it = cells.find({key, b, n});
        if (it == cells.end()) {
          md += " – | – |";
        } else {
          md += fmt::format(" {} | {} |", FormatValue(it->second.p50, units[key]),
                            FormatValue(it->second.p90, units[key]));
        }
      }
      md += "\n";
    }
    md += "\n";
  }

  if (!errors.empty()) {
    md += "## Errors\n\n";
    for (const ResultRow* e : errors) {
      md += fmt::format("- {} at {} services, {}: {}\n", e->backend, e->services, e->metric,
                        *e->error);
    }
    md += "\n";
  }
  return md;
}

}  // namespace svcbench
