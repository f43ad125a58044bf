// The iptables-legacy and iptables-nft backends: kube-proxy's iptables-mode nat ruleset committed
// by `iptables-<variant>-restore --noflush --counters`, the way kube-proxy does a full sync.
#pragma once

#include <memory>
#include <string_view>

#include "drivers/iptables/iptables_render.h"
#include "harness/driver/driver.h"

namespace svcbench {

enum class IptablesVariant { kLegacy, kNft };

// "iptables-legacy" / "iptables-nft": the backend names of DESIGN.md.
std::string_view IptablesBackendName(IptablesVariant v);
// "iptables-legacy-restore" / "iptables-nft-restore".
std::string_view IptablesRestoreCommand(IptablesVariant v);
// "iptables-legacy-save" / "iptables-nft-save".
std::string_view IptablesSaveCommand(IptablesVariant v);

// Whether the variant works here: its restore tool is in PATH and accepts a small rendered
// ruleset with --test inside a throwaway network namespace (so legacy also fails when the kernel
// was built without legacy xtables, which is optional since Linux 6.17). Needs root for the
// namespace; says so otherwise. Never touches the caller's namespace or the host's xtables lock.
Availability ProbeIptables(IptablesVariant v);

struct IptablesDriverOptions {
  // Passed to the renderer; render.stale_chains is ignored (the driver tracks stale chains).
  RenderOptions render;
  // A tool still running after this long is killed and the commit fails. A hang guard, not a
  // budget: iptables-nft-restore --noflush 1.8.9 grows superlinearly with the chain count
  // (about a minute at 10k services x 2 endpoints on a 2-core VM).
  double tool_timeout_s = 3600;
};

// A driver for `ctx` (netns_fd must be an open namespace fd by the time Sync/Clear run; it
// refuses to program the caller's own namespace).
//
// Sync(set, payload):
//  - before its first commit (and after Clear) it runs `iptables-<v>-save -t nat` once, unmeasured,
//    to learn which per-service chains already exist and whether kube-proxy's jumps from
//    PREROUTING, OUTPUT and POSTROUTING are there, and inserts the missing jumps (-I, as
//    kube-proxy's EnsureRule(Prepend) does) with a small `restore --noflush`;
//  - when the namespace holds per-service chains that `set` does not (from an earlier Sync or
//    found by that save), it splices their chain lines and -X lines into `payload` itself
//    (SpliceStaleChainDeletions) instead of rendering again, so the caller's Render time stays
//    the only render cost; CommitStats::payload_bytes counts the bytes actually sent;
//  - the measured commit is one `iptables-<v>-restore -w <lock_wait_s> --noflush --counters` in
//    the namespace with XTABLES_LOCKFILE=<ctx.xtables_lockfile> when that is set.
// A failed restore changes nothing (iptables-restore commits a table atomically) and throws
// DriverError with the tool's own line ("iptables-legacy-restore exited with 1: iptables-restore:
// line 7 failed"). An interrupt (SIGINT/SIGTERM) during a commit kills the tool and throws
// Interrupted.
//
// Clear() restores `*nat\nCOMMIT\n` without --noflush: the nat table is flushed and its user chains
// deleted, including the base-chain jumps, which the next Sync installs again.
std::unique_ptr<Driver> MakeIptablesDriver(IptablesVariant v, const DriverContext& ctx,
                                           const IptablesDriverOptions& opts = {});

}  // namespace svcbench
