#include "harness/result/result.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "harness/analysis/bootstrap.h"

namespace svcbench {
namespace {

// JSON has no NaN: an undefined statistic (n = 0) is written as null.
nlohmann::json Num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace

std::string_view RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kComplete:
      return "complete";
    case RunStatus::kPartial:
      return "partial";
    case RunStatus::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

nlohmann::json ToJson(const Result& r) {
  nlohmann::json j;
  j["schema_version"] = kSchemaVersion;
  j["scenario"] = r.scenario;
  const Context& c = r.context;
  j["context"] = {{"kernel", c.kernel},
                  {"iptables", c.iptables},
                  {"nft", c.nft},
                  {"cpu", c.cpu},
                  {"cores", c.cores},
                  {"build_type", c.build_type},
                  {"git_sha", c.git_sha},
                  {"svcbench_version", c.svcbench_version},
                  {"hostname", c.hostname},
                  {"started_at", c.started_at},
                  {"finished_at", c.finished_at},
                  {"load_at_start", c.load_at_start},
                  {"load_at_finish", c.load_at_finish},
                  {"warnings", c.warnings}};
  j["status"] = RunStatusName(r.status);
  nlohmann::json rows = nlohmann::json::array();
  for (const ResultRow& row : r.rows) {
    const Summary s = Summarize(row.samples);
    nlohmann::json o;
    o["backend"] = row.backend;
    o["services"] = row.services;
    o["endpoints_per_service"] = row.endpoints_per_service;
    o["metric"] = row.metric;
    o["unit"] = row.unit;
    o["labels"] = row.labels;
    const Interval ci = BootstrapQuantileCi(row.samples, 0.5);
    o["summary"] = {{"n", s.n},
                    {"min", Num(s.min)},
                    {"p50", Num(s.p50)},
                    {"p90", Num(s.p90)},
                    {"p99", Num(s.p99)},
                    {"p999", Num(s.p999)},
                    {"max", Num(s.max)},
                    {"mean", Num(s.mean)},
                    {"stddev", Num(s.stddev)},
                    {"p50_ci_low", Num(ci.low)},
                    {"p50_ci_high", Num(ci.high)}};
    o["samples"] = row.samples;
    o["error"] = row.error ? nlohmann::json(*row.error) : nlohmann::json();
    rows.push_back(std::move(o));
  }
  j["results"] = std::move(rows);
  return j;
}

// Summaries are derived from samples again, never trusted from the file.
Result ResultFromJson(const nlohmann::json& j) {
  try {
    if (j.at("schema_version").get<int>() != kSchemaVersion) {
      throw std::runtime_error(fmt::format("unsupported schema_version {}, expected {}",
                                           j.at("schema_version").dump(), kSchemaVersion));
    }
    Result r;
    r.scenario = j.at("scenario");
    const auto& c = j.at("context");
    auto str = [&](const char* k) { return c.contains(k) ? c.at(k).get<std::string>() : ""; };
    r.context.kernel = str("kernel");
    r.context.iptables = str("iptables");
    r.context.nft = str("nft");
    r.context.cpu = str("cpu");
    r.context.build_type = str("build_type");
    r.context.git_sha = str("git_sha");
    r.context.svcbench_version = str("svcbench_version");
    r.context.hostname = str("hostname");
    r.context.started_at = str("started_at");
    r.context.finished_at = str("finished_at");
    r.context.cores = c.value("cores", 0);
    r.context.load_at_start = c.value("load_at_start", 0.0);
    r.context.load_at_finish = c.value("load_at_finish", 0.0);
    if (c.contains("warnings"))
      r.context.warnings = c.at("warnings").get<std::vector<std::string>>();
    const std::string status = j.at("status").get<std::string>();
    if (status == "complete") {
      r.status = RunStatus::kComplete;
    } else if (status == "partial") {
      r.status = RunStatus::kPartial;
    } else if (status == "interrupted") {
      r.status = RunStatus::kInterrupted;
    } else {
      throw std::runtime_error(fmt::format("unknown status '{}'", status));
    }
    for (const auto& o : j.at("results")) {
      ResultRow row;
      row.backend = o.at("backend").get<std::string>();
      row.services = o.at("services").get<uint32_t>();
      row.endpoints_per_service = o.value("endpoints_per_service", 0u);
      row.metric = o.at("metric").get<std::string>();
      row.unit = o.at("unit").get<std::string>();
      row.labels = o.value("labels", std::map<std::string, std::string>{});
      for (const auto& s : o.at("samples"))
        row.samples.push_back(s.is_null() ? std::nan("") : s.get<double>());
      if (o.contains("error") && !o.at("error").is_null())
        row.error = o.at("error").get<std::string>();
      r.rows.push_back(std::move(row));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("not a svcbench result: {}", e.what()));
  }
}

void WriteFileAtomic(const std::string& path, const std::string& data) {
  const std::filesystem::path target(path);
  const std::string tmp =
      (target.parent_path() / fmt::format(".{}.tmp.{}", target.filename().string(), getpid()))
          .string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), fmt::format("open({})", tmp));
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::system_error(err, std::generic_category(), fmt::format("write({})", tmp));
    }
    off += static_cast<size_t>(n);
  }
  // fsync before rename: otherwise a crash can leave the new name pointing at empty data.
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::system_error(err, std::generic_category(), fmt::format("fsync/close({})", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::system_error(err, std::generic_category(), fmt::format("rename({}, {})", tmp, path));
  }
}

}  // namespace svcbench
