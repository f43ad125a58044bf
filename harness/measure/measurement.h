// The Measurement seam: what the run loop asks of every measurement (sync, latency, update,
// contention, ...). The loop owns the cells (backend × size point) and their testbeds, and
// interleaves rounds of one measurement across backends; a measurement owns its samples and
// turns them into rows. Adding a measurement is one class here plus one line in
// MakeMeasurements (measurements.cc); the run loop does not change.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/driver/driver.h"
#include "harness/model/service_set.h"
#include "harness/result/result.h"
#include "harness/scenario/scenario.h"

namespace svcbench {

class Lab;

// What one backend's cells run on: a driver bound to a node. The real one owns a Lab; unit
// tests use a fake driver and no kernel at all.
class Testbed {
 public:
  virtual ~Testbed() = default;
  virtual Driver& driver() = 0;
  // The namespaces, listener and probes around the node, or nullptr (fake testbeds).
  virtual Lab* lab() { return nullptr; }
  // A second lab, wired like lab() but whose node holds no rules at all (no NAT, so no
  // conntrack either), made on first use: the latency floor. nullptr where there is none.
  virtual Lab* reference_lab() { return nullptr; }
  // What the driver was bound to (node namespace fd, xtables lock file and -w, commit bound), for
  // a measurement that runs the backend's tools beside it (contention). Empty for fakes.
  virtual DriverContext context() const { return {}; }

  // Whether the node holds exactly the ServiceSet of this cell. A measurement that needs the
  // rules in place calls EnsureSynced; one that changes them calls MarkSynced(false).
  bool synced() const { return synced_; }
  void MarkSynced(bool synced) { synced_ = synced; }
  // A full sync of `set` unless the node already holds it (not measured).
  void EnsureSynced(const ServiceSet& set) {
    if (synced_) return;
    driver().Sync(set, driver().Render(set));
    synced_ = true;
  }

 private:
  bool synced_ = false;
};

// One cell as a measurement sees it. References stay valid for the life of the CellRun.
struct CellEnv {
  const Scenario& scenario;
  std::string backend;
  uint32_t services = 0;
  const ServiceSet& set;
  Testbed& bed;
};

// The state of one measurement in one cell: samples gathered one round at a time.
class CellRun {
 public:
  virtual ~CellRun() = default;
  // Runs round `round` (0-based) and returns a short progress summary ("cold 1.2s warm 1.1s").
  // Throws what the driver throws (DriverTimeout skips the backend's larger sizes); samples of
  // rounds completed before a throw are kept.
  virtual std::string Round(uint32_t round) = 0;
  // Rows of what was measured so far: metric, unit, labels and samples. The run loop fills in
  // backend, services and endpoints_per_service.
  virtual std::vector<ResultRow> Rows() const = 0;
};

class Measurement {
 public:
  virtual ~Measurement() = default;
  // The scenario's key under `measurements:` ("sync", "latency", ...).
  virtual std::string_view Name() const = 0;
  // The metric an error row of a failed cell is filed under ("sync.full.wall").
  virtual std::string ErrorMetric() const = 0;
  // Rounds per cell; round r of every backend runs before round r+1 of any.
  virtual uint32_t Rounds() const = 0;
  // The options as recorded in result.json's expanded scenario.
  virtual nlohmann::json OptionsJson() const = 0;
  virtual std::unique_ptr<CellRun> Start(const CellEnv& env) = 0;
};

// The scenario's measurements, in the order they run within a cell: sync first (it leaves the
// rules in place), then the ones that read the data path, then the ones that change it.
std::vector<std::unique_ptr<Measurement>> MakeMeasurements(const Scenario& sc);

}  // namespace svcbench
