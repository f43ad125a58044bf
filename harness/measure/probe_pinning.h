// Optional CPU pinning for the probing measurements (scenario option `pin`): the prober on one
// CPU, the backend listeners on another, so the two never queue behind each other and the
// prober's caches stay warm. Everything else on the machine still runs anywhere.
#pragma once

#include <vector>

namespace svcbench {

class Lab;
class NsWorker;

class ProbePinning {
 public:
  // When enabled: the worker goes to the highest CPU the process may use, the listeners of
  // `labs` (null entries skipped) to the next lower one (the same, on one CPU). Throws
  // std::system_error when the kernel refuses.
  ProbePinning(bool enabled, NsWorker& worker, std::vector<Lab*> labs);
  // Gives the listeners every CPU back (they serve other measurements too); the worker belongs
  // to the measurement and stays where it is.
  ~ProbePinning();
  ProbePinning(const ProbePinning&) = delete;
  ProbePinning& operator=(const ProbePinning&) = delete;

 private:
  std::vector<Lab*> pinned_;
};

}  // namespace svcbench
