#include "harness/report/samples_csv.h"

#include <cmath>

#include <fmt/format.h>

namespace svcbench {
namespace {

// RFC 4180: quote a field holding a comma, quote or line break, doubling inner quotes.
std::string Field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

}  // namespace

std::string SamplesCsv(const Result& r) {
  std::string out =
      "backend,services,endpoints_per_service,metric,unit,labels,repetition,value,error\n";
  for (const ResultRow& row : r.rows) {
    std::string labels;
    for (const auto& [k, v] : row.labels)
      labels += fmt::format("{}{}={}", labels.empty() ? "" : ";", k, v);
    const std::string head =
        fmt::format("{},{},{},{},{},{}", Field(row.backend), row.services,
                    row.endpoints_per_service, Field(row.metric), Field(row.unit), Field(labels));
    for (size_t i = 0; i < row.samples.size(); ++i) {
      // {} is the shortest text that reads back as the same double.
      const double v = row.samples[i];
      out += fmt::format("{},{},{},\n", head, i, std::isfinite(v) ? fmt::format("{}", v) : "");
    }
    if (row.error) out += fmt::format("{},,,{}\n", head, Field(*row.error));
  }
  return out;
}

}  // namespace svcbench
