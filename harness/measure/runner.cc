#include "harness/measure/runner.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "harness/measure/progress.h"
#include "harness/model/generator.h"
#include "harness/report/summary_markdown.h"
#include "harness/util/interrupt.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

ResultRow ErrorRow(const std::string& backend, uint32_t services, uint32_t eps,
                   const std::string& metric, const std::string& error) {
  ResultRow r;
  r.backend = backend;
  r.services = services;
  r.endpoints_per_service = eps;
  r.metric = metric;
  r.unit = std::string("s");  // not = "s": GCC 12 raises a false -Wrestrict (PR 105651)
  r.error = error;
  return r;
}

void WriteOutputs(const std::string& dir, const Result& r) {
  WriteFileAtomic((fs::path(dir) / "result.json").string(), ToJson(r).dump(1) + "\n");
  WriteFileAtomic((fs::path(dir) / "summary.md").string(), SummaryMarkdown(r));
}

struct Cell {
  std::string backend;
  size_t number = 0;  // k of "cell k/n"
  std::unique_ptr<Testbed> bed;
  // One per measurement of the scenario, in MakeMeasurements' order; null until started.
  std::vector<std::unique_ptr<CellRun>> runs;
  std::optional<std::string> error;
  std::string error_metric;
};

}  // namespace

nlohmann::json ScenarioJson(const Scenario& sc) {
  nlohmann::json j;
  j["name"] = sc.name;
  j["description"] = sc.description;
  j["seed"] = sc.seed;
  j["backends"] = sc.backends;
  j["sweep"] = {{"services", sc.services}};
  j["workload"] = {{"ports_per_service", sc.ports_per_service},
                   {"endpoints_per_service", sc.endpoints_per_service},
                   {"protocol", std::string(ProtocolName(sc.protocol))}};
  j["measurements"] = nlohmann::json::object();
  for (const auto& m : MakeMeasurements(sc)) j["measurements"][m->Name()] = m->OptionsJson();
  j["xtables"] = {{"lock", sc.xtables_lock}, {"wait_s", sc.lock_wait_s}};
  j["source_path"] = sc.source_path;
  return j;
}

std::string DefaultRunDir(const std::string& root, const std::string& scenario_name) {
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  return (fs::path(root) / fmt::format("{:%Y%m%dT%H%M%SZ}-{}", now, scenario_name)).string();
}

RunOutcome RunScenario(const Scenario& sc, const RunOptions& opts, const TestbedFactory& make,
                       Context context) {
  Progress progress(opts.log, opts.live_status);
  RunOutcome out;
  Result& result = out.result;
  result.scenario = ScenarioJson(sc);
  result.context = std::move(context);
  // Until the last write, the file on disk says the run did not finish: a run killed with
  // SIGKILL leaves a result.json whose status tells the truth.
  result.status = RunStatus::kInterrupted;
  bool failed = false;

  fs::create_directories(opts.out_dir);
  WriteFileAtomic((fs::path(opts.out_dir) / "scenario.yaml").string(), sc.source_yaml);

  const std::vector<std::unique_ptr<Measurement>> measurements = MakeMeasurements(sc);
  // Work units for the ETA: one round of one cell costs about its service count.
  {
    double rounds = 0;
    for (const auto& m : measurements) rounds += m->Rounds();
    double total = 0;
    for (const uint32_t n : sc.services) total += rounds * n * sc.backends.size();
    progress.SetWork(total);
  }
  const size_t total_cells = sc.services.size() * sc.backends.size();
  size_t cell_no = 0;
  // The cells of the size point in progress; flushed into rows when it ends or is interrupted,
  // so completed rounds are never lost.
  std::vector<Cell> cells;
  uint32_t current_services = 0;
  auto flush = [&] {
    for (Cell& c : cells) {
      for (const auto& run : c.runs) {
        if (!run) continue;
        for (ResultRow& row : run->Rows()) {
          row.backend = c.backend;
          row.services = current_services;
          row.endpoints_per_service = sc.endpoints_per_service;
          result.rows.push_back(std::move(row));
        }
      }
      if (c.error) {
        failed = true;
        result.rows.push_back(ErrorRow(c.backend, current_services, sc.endpoints_per_service,
                                       c.error_metric, *c.error));
      }
    }
    cells.clear();  // destroys the testbeds: labs are removed before the next size is generated
  };
  // Backends whose commit timed out, and at which size: their larger sizes would only take
  // longer, so they are skipped (and say why) instead of stretching the sweep by hours.
  std::map<std::string, uint32_t> timed_out_at;
  const std::string first_metric =
      measurements.empty() ? std::string("sync.full.wall") : measurements.front()->ErrorMetric();
  try {
    for (const uint32_t services : sc.services) {
      const GeneratorSpec spec{sc.seed, services, sc.ports_per_service, sc.endpoints_per_service,
                               sc.protocol};
      progress.Line("generating {} services x {} ports x {} endpoints", services,
                    sc.ports_per_service, sc.endpoints_per_service);
      const ServiceSet set = Generate(spec);
      current_services = services;
      for (size_t b = 0; b < sc.backends.size(); ++b) {
        Cell c;
        c.backend = sc.backends[b];
        c.error_metric = first_metric;
        c.number = ++cell_no;
        progress.Line("cell {}/{}: {} at {} services: setting up", c.number, total_cells, c.backend,
                      services);
        if (const auto t = timed_out_at.find(c.backend); t != timed_out_at.end()) {
          c.error = fmt::format(
              "skipped: a sync timed out at {} services ({}.timeout {} s)", t->second,
              sc.sync ? "sync" : "contention",
              sc.sync ? sc.sync->timeout_s : (sc.contention ? sc.contention->timeout_s : 0));
          progress.Line("  {} {}", c.backend, *c.error);
          cells.push_back(std::move(c));
          continue;
        }
        try {
          c.bed = make(c.backend, static_cast<int>(b), spec);
        } catch (const Interrupted&) {
          throw;
        } catch (const std::exception& e) {
          c.error = fmt::format("setup: {}", e.what());
          progress.Line("  {} failed: {}", c.backend, *c.error);
        }
        c.runs.resize(measurements.size());
        cells.push_back(std::move(c));
      }

      // Rounds of all backends are interleaved (rotating which goes first), so drift on a
      // noisy machine hits every backend alike instead of whichever ran last.
      for (size_t m = 0; m < measurements.size(); ++m) {
        Measurement& meas = *measurements[m];
        for (uint32_t round = 0; round < meas.Rounds(); ++round) {
          for (size_t k = 0; k < cells.size(); ++k) {
            Cell& c = cells[(k + round) % cells.size()];
            progress.AddDone(services);
            if (c.error) continue;
            ThrowIfInterrupted();
            progress.Status(fmt::format("cell {}/{} {} {} services {} {}/{} {}", c.number,
                                        total_cells, c.backend, services, meas.Name(), round + 1,
                                        meas.Rounds(), progress.Eta()));
            try {
              if (!c.runs[m]) c.runs[m] = meas.Start(CellEnv{sc, c.backend, services, set, *c.bed});
              const std::string summary = c.runs[m]->Round(round);
              progress.Line("  {} {} services {} {}/{}: {}", c.backend, services, meas.Name(),
                            round + 1, meas.Rounds(), summary);
            } catch (const Interrupted&) {
              throw;
            } catch (const std::exception& e) {
              c.error = e.what();
              c.error_metric = meas.ErrorMetric();
              if (dynamic_cast<const DriverTimeout*>(&e) != nullptr) {
                timed_out_at.emplace(c.backend, services);
                progress.Line("  {} timed out: {}", c.backend, *c.error);
              } else {
                progress.Line("  {} failed: {}", c.backend, *c.error);
              }
            }
          }
        }
      }

      flush();
      WriteOutputs(opts.out_dir, result);
    }
    result.status = failed ? RunStatus::kPartial : RunStatus::kComplete;
    out.exit_code = failed ? 4 : 0;
  } catch (const Interrupted& i) {
    progress.Line("interrupted by signal {}: writing what was measured", i.signal);
    flush();
    result.status = RunStatus::kInterrupted;
    out.exit_code = 4;
  }
  result.context.finished_at = NowUtc();
  result.context.load_at_finish = LoadAverage1();
  WriteOutputs(opts.out_dir, result);
  progress.Status("");
  progress.Line("status {}: {}", RunStatusName(result.status), opts.out_dir);
  return out;
}

}  // namespace svcbench
