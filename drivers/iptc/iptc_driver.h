// The iptc backend: kube-proxy's iptables-mode nat ruleset (the same rules as the
// iptables-legacy backend) committed in-process through libiptc (libip4tc) into the legacy
// xtables nat table, so that building the table in user space and the kernel's replace of it
// are timed apart.
#pragma once

#include <functional>
#include <memory>

#include "drivers/iptables/iptables_render.h"
#include "harness/driver/driver.h"

namespace svcbench {

struct IptcDriverOptions {
  // The ruleset's parameters; render.stale_chains is ignored (stale chains are found in the
  // table itself).
  RenderOptions render;
  // Whole build+commit attempts after the first when another writer raced (see MakeIptcDriver).
  int max_retries = 10;
  // Test hook: runs on the namespace thread, holding the lock, after the table is built and
  // before iptc_commit, with the attempt number (0 first). Inside sync.full.wall, outside
  // build and commit.
  std::function<void(int attempt)> before_commit;
};

// Whether libiptc can open the legacy nat table: iptc_init("nat") in a throwaway network
// namespace (on a short-lived thread that unshare()s; nothing is left behind). Unavailable, with
// iptc_strerror/strerror, when the kernel lacks legacy xtables (optional since Linux 6.17), and
// when not root. Takes no lock.
Availability ProbeIptc();

// A driver for `ctx` (netns_fd must be open by the time Sync/Clear run; it refuses to program the
// caller's own namespace). Every libiptc call runs on a short-lived thread that setns()'d into
// ctx.netns_fd, since a handle works on the namespace of the socket iptc_init made; the calling
// thread never changes namespace.
//
// Sync(set, payload) ignores payload.text (Render gives the equivalent iptables-restore file, for
// `svcbench render` and the rule count) and, holding the xtables lock
// (XtablesLockPath(ctx.xtables_lockfile), waiting ctx.lock_wait_s):
//   iptc_init("nat"); flush or create the 4 fixed chains and every KUBE-SVC/SEP chain of `set`;
//   flush the per-service chains the table has but `set` lacks; append every rule;
//   delete those stale chains; iptc_commit; iptc_free.
// When iptc_commit fails with EAGAIN (another writer replaced the table since iptc_init) or
// EINVAL (its counter step lost a race with another replace, or the table is invalid), or
// iptc_init fails with EAGAIN (the table changed while it was being read), the whole attempt is
// repeated, up to max_retries times; all of these count in `retries`.
// CommitStats: build_s (iptc_init to just before iptc_commit, of the successful attempt),
// commit_s (iptc_commit), wall_s (lock to unlock, including iptc_free and failed attempts), cpu_s
// (that thread's CPU time over wall_s), retries, payload_bytes (bytes of the ipt_entry structures
// appended). No max_rss: the process is shared.
//
// Before its first Sync (and after Clear) it makes sure of kube-proxy's jumps from PREROUTING,
// OUTPUT and POSTROUTING, unmeasured, inserting missing ones at the top as EnsureRule(Prepend)
// does. Clear() flushes every chain of the nat table and deletes every user chain.
// Failures throw DriverError naming the libiptc call, the chain and iptc_strerror(errno); a
// failed attempt commits nothing.
std::unique_ptr<Driver> MakeIptcDriver(const DriverContext& ctx,
                                       const IptcDriverOptions& opts = {});

}  // namespace svcbench
