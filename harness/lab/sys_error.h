// Errors from system calls name the call and its arguments; errno gives the rest
// ("setns(/run/netns/svcb-x-l0-node): Invalid argument").
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace svcbench {

[[noreturn]] inline void ThrowSystemError(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Reads errno at the call, so call it right after the failing system call.
[[noreturn]] inline void ThrowErrno(const std::string& what) { ThrowSystemError(errno, what); }

}  // namespace svcbench
