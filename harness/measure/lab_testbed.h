// The real Testbed: a Lab of fresh namespaces and a driver bound to its node.
#pragma once

#include <memory>
#include <string>

#include "harness/measure/runner.h"

namespace svcbench {

struct LabTestbedOptions {
  std::string run_id;
  std::string xtables_lockfile;  // empty: the host's lock (scenario asked for it)
  int lock_wait_s = 5;
  // The bound of one commit: sync.timeout, else contention.timeout (0: the drivers' own guard).
  double commit_timeout_s = 0;
};

// A factory for RunScenario. Every call makes a new Lab, so every backend gets its own fresh
// node namespace: legacy and nft nat tables in one namespace would both take effect.
TestbedFactory MakeLabTestbedFactory(LabTestbedOptions opts);

}  // namespace svcbench
