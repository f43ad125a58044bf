#include "harness/measure/probe_pinning.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "harness/lab/lab.h"
#include "harness/lab/listener.h"
#include "harness/lab/ns_worker.h"
#include "harness/lab/sys_error.h"

namespace svcbench {

ProbePinning::ProbePinning(bool enabled, NsWorker& worker, std::vector<Lab*> labs) {
  if (!enabled) return;
  const std::vector<int> cpus = ProcessCpus();
  if (cpus.empty()) ThrowErrno("sched_getaffinity() to pin the prober");
  // The highest CPUs: CPU 0 is where housekeeping and many interrupts land.
  const int prober = cpus.back();
  const int listener = cpus.size() > 1 ? cpus[cpus.size() - 2] : cpus.back();
  if (!worker.PinToCpu(prober)) ThrowErrno(fmt::format("pinning the prober to CPU {}", prober));
  for (Lab* lab : labs) {
    if (lab == nullptr || lab->Listener() == nullptr) continue;
    if (!lab->Listener()->PinToCpu(listener)) {
      ThrowErrno(fmt::format("pinning the listener of {} to CPU {}", lab->BackendNs(), listener));
    }
    pinned_.push_back(lab);
  }
}

ProbePinning::~ProbePinning() {
  for (Lab* lab : pinned_) {
    if (lab->Listener() != nullptr && !lab->Listener()->PinToCpu(-1)) {
      std::fprintf(stderr, "svcbench: unpinning the listener of %s: %s\n", lab->BackendNs().c_str(),
                   std::strerror(errno));
    }
  }
}

}  // namespace svcbench
