// The run loop: a Scenario expanded into cells (backend × size × measurement), executed with
// repetitions of different backends interleaved, written to a run directory as it goes.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include "harness/driver/driver.h"
#include "harness/measure/measurement.h"
#include "harness/model/generator.h"
#include "harness/result/result.h"
#include "harness/scenario/scenario.h"

namespace svcbench {

// Builds the testbed of `backend` for one size point; `index` tells labs of one run apart.
using TestbedFactory = std::function<std::unique_ptr<Testbed>(const std::string& backend, int index,
                                                              const GeneratorSpec& spec)>;

struct RunOptions {
  std::string out_dir;          // the run directory; created, must not exist yet
  std::ostream* log = nullptr;  // one progress line per step; nullptr for silence
  bool live_status = false;     // also a live status line on `log` (a terminal)
};

struct RunOutcome {
  Result result;
  // 0 complete, 4 partial (a cell failed) or interrupted.
  int exit_code = 0;
};

RunOutcome RunScenario(const Scenario& sc, const RunOptions& opts, const TestbedFactory& make,
                       Context context);

// The expanded scenario as recorded in result.json.
nlohmann::json ScenarioJson(const Scenario& sc);

// "results/20261202T031000Z-smoke" under `root`.
std::string DefaultRunDir(const std::string& root, const std::string& scenario_name);

}  // namespace svcbench
