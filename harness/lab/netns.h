// Named network namespaces the way iproute2 keeps them (/run/netns/NAME, a bind mount of a
// namespace file), and running code inside one without moving the calling thread.
//
// Network namespaces are per thread: a short-lived helper thread setns()'s into the target and
// does the work, so the caller's thread never leaves its own (the host's) namespace, not even on
// an error path. Sockets keep the namespace they were created in, so a socket made on such a
// thread can be used from any thread afterwards.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/util/unique_fd.h"

namespace svcbench::netns {

inline constexpr char kRunDir[] = "/run/netns";

// "/run/netns/NAME".
std::string PathOf(std::string_view name);

// Creates the named namespace, like `ip netns add NAME`: makes /run/netns a shared mount if it
// is not one yet, creates /run/netns/NAME exclusively and bind-mounts a fresh namespace on it.
// Throws std::system_error (std::errc::file_exists when NAME exists: it is never taken over).
// @see man 8 ip-netns, man 2 unshare
void Create(std::string_view name);

// Removes the named namespace, like `ip netns delete NAME` (umount2 MNT_DETACH + unlink).
// A namespace that is already gone, or a file left without its mount, is not an error. Returns
// whether anything was there. The namespace itself lives on while fds or sockets refer to it.
bool Remove(std::string_view name);

// Opens /run/netns/NAME (O_RDONLY | O_CLOEXEC). @see man 2 open
UniqueFd Open(std::string_view name);

// Every entry of /run/netns, sorted (empty when the directory does not exist).
std::vector<std::string> List();

// Runs fn on a helper thread inside the namespace and waits for it; whatever fn throws is
// rethrown here. label names the namespace in errors; empty: the fd is described instead.
// @see man 2 setns
void RunIn(int netns_fd, std::string_view label, const std::function<void()>& fn);

// A socket created inside the namespace. @see man 2 socket
UniqueFd SocketIn(int netns_fd, std::string_view label, int domain, int type, int protocol);

// Writes / reads /proc/sys/KEY (KEY like "net/ipv4/ip_forward") as seen from inside the
// namespace: /proc/sys/net follows the network namespace of the thread that opens it.
void WriteSysctl(int netns_fd, std::string_view label, std::string_view key,
                 std::string_view value);
std::string ReadSysctl(int netns_fd, std::string_view label, std::string_view key);

}  // namespace svcbench::netns
