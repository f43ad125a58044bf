#include "drivers/iptc/xtables_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <system_error>
#include <thread>

namespace svcbench::iptc {

std::string XtablesLockPath(const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* env = std::getenv("XTABLES_LOCKFILE");
  if (env != nullptr && env[0] != '\0') return env;
  return kDefaultXtablesLockfile;
}

XtablesLock::XtablesLock(const std::string& path, int wait_s) {
  fd_.Reset(::open(path.c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0600));
  if (!fd_.Valid()) {
    throw std::system_error(errno, std::system_category(),
                            fmt::format("can't open xtables lock file {}", path));
  }
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(std::max(wait_s, 0));
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (::flock(fd_.Get(), LOCK_EX | LOCK_NB) == 0) return;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const int err = errno;
      fd_.Reset();
      throw std::system_error(err, std::system_category(), fmt::format("flock({}, LOCK_EX)", path));
    }
    if (wait_s >= 0 && Clock::now() >= deadline) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
  fd_.Reset();
  throw std::system_error(
      EWOULDBLOCK, std::system_category(),
      fmt::format("another app is currently holding the xtables lock ({}); gave up after {} s",
                  path, wait_s));
}

void XtablesLock::Release() {
  if (!fd_.Valid()) return;
  ::flock(fd_.Get(), LOCK_UN);
  fd_.Reset();
}

}  // namespace svcbench::iptc
