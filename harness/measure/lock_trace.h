// What libsvcbench_locktrace.so (locktrace_preload.c, LD_PRELOADed into a spawned iptables or
// nft) recorded about one process: when it asked for the xtables lock, got it, gave up and let it
// go, and the nf_tables batches it sent. The `contention` measurement turns these into lock wait,
// lock hold, kernel wait and retries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace svcbench {

struct LockTrace {
  // The traced process: the pid of the first `S` line. Lines of other pids (a child it forked
  // or exec'ed, such as modprobe, which inherits LD_PRELOAD) are ignored.
  std::optional<int> pid;
  std::optional<int64_t> start_ns;
  std::string lock_path;  // the file of the first lock attempt (`P`), "" without one
  // First flock(LOCK_EX) attempt, its success, its last failure (a wait that ran out), the
  // release (LOCK_UN or close), and exit. CLOCK_MONOTONIC ns.
  std::optional<int64_t> first_attempt_ns, acquired_ns, failed_ns, released_ns, exit_ns;
  int failed_errno = 0;  // errno of the last failed attempt (EINTR: iptables' -w alarm fired)
  int lock_attempts = 0;
  // nf_tables batches (NFNL_MSG_BATCH_BEGIN) sent, and the total time spent inside the
  // sendmsg()/sendto() calls that sent them.
  int batches = 0;
  int64_t batch_send_ns = 0;
  // Replies to NFT_MSG_GETGEN it received (the ruleset generation), and how many of them
  // differed from the one before.
  int generations_read = 0;
  int generation_changes = 0;
  std::optional<uint32_t> last_generation;

  // From the first attempt to acquiring the lock, or to giving up when it never got it.
  std::optional<double> WaitS() const;
  // From acquiring the lock to releasing it; a process that exits holding it (iptables does)
  // releases it at exit. Unknown when it was killed while holding it.
  std::optional<double> HoldS() const;
  bool TookLock() const { return acquired_ns.has_value(); }
  // Resubmitted batches: iptables-nft rebuilds and resends its whole transaction when the
  // kernel refuses it because the ruleset generation changed underneath (ERESTART).
  int Retries() const { return batches > 1 ? batches - 1 : 0; }
  // Cache reads started over: iptables-nft (and nft) read the generation before and after
  // reading the ruleset into their cache, and read it all again when it changed in between; a
  // rebuild after ERESTART reads it again too. Each change between two consecutive reads is one.
  int Restarts() const { return generation_changes; }
};

// Parses the trace file's text. A last line without '\n' (the process was killed mid-write) is
// ignored. Throws std::invalid_argument naming the line for anything else it cannot read.
LockTrace ParseLockTrace(std::string_view text);

// The environment variable naming the trace file, read by the preload library.
inline constexpr char kLockTraceEnv[] = "SVCBENCH_LOCKTRACE";

// The preload library's path: next to the running executable (an installed svcbench), else
// where this build put it. Empty when neither exists.
std::string LockTraceLibraryPath();

}  // namespace svcbench
