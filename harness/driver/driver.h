// The Driver seam: one backend that programs a ServiceSet into a node's network namespace.
//
// Transaction-shaped and small. Rendering is a pure function (unit-tested without root and
// printed by `svcbench render`); only Sync/Clear touch the kernel. A driver knows nothing of
// measurements or reports: it returns what it did and what that cost, and the caller decides
// what to record.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/model/service_set.h"

namespace svcbench {

struct Availability {
  bool available = false;
  std::string reason;  // why not, when !available; what it uses, when available
};

// What a driver needs to know about where it runs.
struct DriverContext {
  // An open fd of the node's network namespace (/run/netns/<name>); the driver enters it with
  // setns() (in a child process or a thread) and never changes the caller's namespace.
  int netns_fd = -1;
  std::string netns_name;
  // Lock file handed to xtables tools through XTABLES_LOCKFILE; empty means the host's default.
  std::string xtables_lockfile;
  // Seconds an xtables tool waits for the lock (-w).
  int lock_wait_s = 5;
  // A commit still running after this long is abandoned and fails with DriverTimeout; 0 means
  // the driver's own hang guard. Keeps a sweep bounded when a backend grows superlinearly.
  double commit_timeout_s = 0;
};

// The bytes a driver would send for a ServiceSet, and what they contain.
struct Payload {
  std::string text;
  // Rules as kube-proxy counts them (its natRules.Lines()): base-chain jumps are not included.
  size_t rules = 0;
  size_t chains = 0;
};

// Cost of one commit, measured by the driver around the kernel-facing step only.
struct CommitStats {
  double wall_s = 0;                    // wall time of the commit (spawn to exit for a tool)
  std::optional<double> cpu_s;          // user+sys CPU of the committing process (wait4 rusage)
  std::optional<double> max_rss_bytes;  // its peak RSS
  size_t payload_bytes = 0;
  size_t rules = 0;
  // Backends that build what they send in-process split wall_s into the time to build it and
  // the kernel's commit of it (sync.build.wall, sync.commit.wall). Unset where the split does
  // not exist (a restore tool does both in one process).
  std::optional<double> build_s, commit_s;
  // Whole build+commit attempts repeated because another writer changed the table in between
  // (EAGAIN from the kernel's table replace). Unset where the backend cannot tell.
  std::optional<int> retries;
};

class Driver {
 public:
  virtual ~Driver() = default;

  virtual std::string_view Name() const = 0;

  // Whether this backend can run on this machine (tools present, kernel support), and why not.
  virtual Availability Probe() const = 0;

  // Pure: the payload a full sync of `set` would send.
  virtual Payload Render(const ServiceSet& set) const = 0;

  // Replace everything this driver owns in the node with `set` (kube-proxy's full sync).
  // One-time setup a real proxy does at start-up (jumps from the base chains) happens outside
  // the measured commit. Throws DriverError on failure, leaving the previous state in place
  // where the backend's transaction semantics allow it.
  virtual CommitStats Sync(const ServiceSet& set, const Payload& payload) = 0;

  // Remove everything this driver put in the node. Not measured.
  virtual void Clear() = 0;
};

class DriverError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A commit that exceeded DriverContext::commit_timeout_s. The run loop skips the larger sizes
// of that backend: they would only take longer.
class DriverTimeout : public DriverError {
 public:
  using DriverError::DriverError;
};

// Names of every backend of DESIGN.md, in display order, whether or not implemented yet.
const std::vector<std::string>& KnownBackendNames();

// A driver for `name` bound to `ctx`, or nullptr when `name` is known but not implemented.
// Throws std::invalid_argument for an unknown name.
std::unique_ptr<Driver> MakeDriver(std::string_view name, const DriverContext& ctx);

// Availability of a backend on this machine, including "not implemented yet" and kernel limits.
Availability ProbeBackend(std::string_view name);

}  // namespace svcbench
