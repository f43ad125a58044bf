#include "harness/measure/sync.h"

#include <chrono>

#include <fmt/format.h>

namespace svcbench {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Record(const CommitStats& c, std::vector<double>& wall, std::vector<double>& cpu,
            std::vector<double>& rss) {
  wall.push_back(c.wall_s);
  if (c.cpu_s) cpu.push_back(*c.cpu_s);
  if (c.max_rss_bytes) rss.push_back(*c.max_rss_bytes);
}

void RecordSplit(const CommitStats& c, std::vector<double>& build, std::vector<double>& commit,
                 std::vector<double>& retries) {
  if (c.build_s) build.push_back(*c.build_s);
  if (c.commit_s) commit.push_back(*c.commit_s);
  if (c.retries) retries.push_back(static_cast<double>(*c.retries));
}

}  // namespace

void RunSyncRepetition(Driver& driver, const ServiceSet& set, SyncSamples& out) {
  driver.Clear();
  const auto t0 = std::chrono::steady_clock::now();
  const Payload payload = driver.Render(set);
  out.render_wall.push_back(SecondsSince(t0));
  const CommitStats cold = driver.Sync(set, payload);
  const CommitStats warm = driver.Sync(set, payload);
  // Only whole repetitions count: a failed warm sync leaves no cold sample without its pair.
  Record(cold, out.cold_wall, out.cold_cpu, out.cold_rss);
  Record(warm, out.warm_wall, out.warm_cpu, out.warm_rss);
  RecordSplit(cold, out.cold_build, out.cold_commit, out.cold_retries);
  RecordSplit(warm, out.warm_build, out.warm_commit, out.warm_retries);
  out.payload_bytes.push_back(static_cast<double>(payload.text.size()));
  out.rules.push_back(static_cast<double>(payload.rules));
}

std::vector<ResultRow> SyncRows(const std::string& backend, uint32_t services,
                                uint32_t endpoints_per_service, const SyncSamples& s) {
  std::vector<ResultRow> rows;
  auto add = [&](std::string metric, std::string unit, std::map<std::string, std::string> labels,
                 const std::vector<double>& samples) {
    if (samples.empty()) return;
    ResultRow r;
    r.backend = backend;
    r.services = services;
    r.endpoints_per_service = endpoints_per_service;
    r.metric = std::move(metric);
    r.unit = std::move(unit);
    r.labels = std::move(labels);
    r.samples = samples;
    rows.push_back(std::move(r));
  };
  add("sync.full.wall", "s", {{"state", "cold"}}, s.cold_wall);
  add("sync.full.wall", "s", {{"state", "warm"}}, s.warm_wall);
  add("sync.full.cpu", "s", {{"state", "cold"}}, s.cold_cpu);
  add("sync.full.cpu", "s", {{"state", "warm"}}, s.warm_cpu);
  add("sync.full.rss", "bytes", {{"state", "cold"}}, s.cold_rss);
  add("sync.full.rss", "bytes", {{"state", "warm"}}, s.warm_rss);
  add("sync.build.wall", "s", {{"state", "cold"}}, s.cold_build);
  add("sync.build.wall", "s", {{"state", "warm"}}, s.warm_build);
  add("sync.commit.wall", "s", {{"state", "cold"}}, s.cold_commit);
  add("sync.commit.wall", "s", {{"state", "warm"}}, s.warm_commit);
  add("sync.commit.retries", "count", {{"state", "cold"}}, s.cold_retries);
  add("sync.commit.retries", "count", {{"state", "warm"}}, s.warm_retries);
  add("sync.render.wall", "s", {}, s.render_wall);
  add("sync.payload.bytes", "bytes", {}, s.payload_bytes);
  add("sync.rules", "count", {}, s.rules);
  return rows;
}

namespace {

class SyncCellRun : public CellRun {
 public:
  explicit SyncCellRun(const CellEnv& env) : env_(env) {}
  std::string Round(uint32_t /*round*/) override {
    env_.bed.MarkSynced(false);
    RunSyncRepetition(env_.bed.driver(), env_.set, samples_);
    env_.bed.MarkSynced(true);
    return fmt::format("cold {:.3f}s warm {:.3f}s", samples_.cold_wall.back(),
                       samples_.warm_wall.back());
  }
  std::vector<ResultRow> Rows() const override {
    return SyncRows(env_.backend, env_.services, env_.scenario.endpoints_per_service, samples_);
  }

 private:
  CellEnv env_;
  SyncSamples samples_;
};

class SyncMeasurement : public Measurement {
 public:
  explicit SyncMeasurement(SyncOptions opts) : opts_(opts) {}
  std::string_view Name() const override { return "sync"; }
  std::string ErrorMetric() const override { return "sync.full.wall"; }
  uint32_t Rounds() const override { return opts_.repetitions; }
  nlohmann::json OptionsJson() const override {
    return {{"repetitions", opts_.repetitions}, {"timeout_s", opts_.timeout_s}};
  }
  std::unique_ptr<CellRun> Start(const CellEnv& env) override {
    return std::make_unique<SyncCellRun>(env);
  }

 private:
  SyncOptions opts_;
};

}  // namespace

std::unique_ptr<Measurement> MakeSyncMeasurement(const SyncOptions& opts) {
  return std::make_unique<SyncMeasurement>(opts);
}

}  // namespace svcbench
