// The xtables lock as the iptables tools take it, for a writer that is not an iptables tool.
//
// iptables-legacy (1.8.x) serialises writers with flock(LOCK_EX) on one file, shared by every
// network namespace: $XTABLES_LOCKFILE, else /run/xtables.lock. libiptc itself takes no lock, so
// an in-process writer must take the same one to exclude the tools (and kube-proxy).
#pragma once

#include <string>

#include "harness/util/unique_fd.h"

namespace svcbench::iptc {

inline constexpr char kDefaultXtablesLockfile[] = "/run/xtables.lock";

// The lock file iptables would use: `configured` when not empty, else $XTABLES_LOCKFILE when set
// and not empty, else /run/xtables.lock.
std::string XtablesLockPath(const std::string& configured);

class XtablesLock {
 public:
  // Opens (creating it 0600, as iptables does) and flock(LOCK_EX)s `path`, waiting up to
  // `wait_s` seconds (< 0: forever; 0: one try). iptables waits with alarm(2) around a blocking
  // flock; a process-wide alarm does not suit a library, so this polls LOCK_NB with short sleeps
  // (1 ms growing to 20 ms) until the deadline: the same lock, a slightly later wake-up.
  // Throws std::system_error naming the file: EWOULDBLOCK when the wait ran out
  // ("another app is currently holding the xtables lock").
  // @see man 2 flock
  XtablesLock(const std::string& path, int wait_s);
  ~XtablesLock() { Release(); }
  XtablesLock(const XtablesLock&) = delete;
  XtablesLock& operator=(const XtablesLock&) = delete;

  // Unlocks and closes now (also done by the destructor).
  void Release();

 private:
  UniqueFd fd_;
};

}  // namespace svcbench::iptc
