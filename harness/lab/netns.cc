#include "harness/lab/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "harness/lab/sys_error.h"

namespace svcbench::netns {
namespace {

// Runs fn on a fresh thread so that whatever it does to its own namespaces (unshare, setns)
// dies with that thread.
void RunOnThread(const std::function<void()>& fn) {
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  worker.join();
  if (error) std::rethrow_exception(error);
}

std::string DescribeFd(int fd) {
  std::array<char, 128> target{};
  const std::string link = fmt::format("/proc/self/fd/{}", fd);
  const ssize_t n = ::readlink(link.c_str(), target.data(), target.size() - 1);
  if (n <= 0) return fmt::format("fd {}", fd);
  return fmt::format("fd {} {}", fd, std::string_view(target.data(), static_cast<size_t>(n)));
}

// How errors name a namespace: by its name when the caller knows it.
std::string Where(int fd, std::string_view label) {
  return label.empty() ? DescribeFd(fd) : std::string(label);
}

void CheckName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    throw std::invalid_argument(fmt::format("bad network namespace name '{}'", name));
  }
}

// What iproute2 does before its first `ip netns add`: /run/netns must be a mount point with
// shared propagation, so that the namespace bind mounts made here show up in every mount
// namespace that has /run/netns, and disappear from all of them on delete.
void EnsureRunDirIsSharedMount() {
  if (::mkdir(kRunDir, 0755) != 0 && errno != EEXIST) {
    ThrowErrno(fmt::format("mkdir({}, 0755)", kRunDir));
  }
  bool bound = false;
  while (::mount("", kRunDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    // EINVAL: not a mount point yet. Make it one by binding it onto itself, then retry once.
    if (errno != EINVAL || bound) ThrowErrno(fmt::format("mount({}, MS_SHARED|MS_REC)", kRunDir));
    if (::mount(kRunDir, kRunDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
      ThrowErrno(fmt::format("mount({0}, {0}, MS_BIND|MS_REC)", kRunDir));
    }
    bound = true;
  }
}

// Two threads of this process setting up /run/netns at once would stack two bind mounts.
std::mutex g_run_dir_mutex;

}  // namespace

std::string PathOf(std::string_view name) { return fmt::format("{}/{}", kRunDir, name); }

void Create(std::string_view name) {
  CheckName(name);
  const std::string path = PathOf(name);
  {
    std::lock_guard lock(g_run_dir_mutex);
    EnsureRunDirIsSharedMount();
  }
  // O_EXCL: an existing name belongs to someone else (another run, or a person) and is never
  // taken over or, on our error path, removed.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(fmt::format("open({}, O_CREAT|O_EXCL)", path));
  ::close(fd);
  try {
    RunOnThread([&] {
      if (::unshare(CLONE_NEWNET) != 0) {
        ThrowErrno(fmt::format("unshare(CLONE_NEWNET) for {}", name));
      }
      // thread-self, not self: only this thread is in the new namespace.
      if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
        ThrowErrno(fmt::format("mount(/proc/thread-self/ns/net, {}, MS_BIND)", path));
      }
    });
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
}

bool Remove(std::string_view name) {
  CheckName(name);
  const std::string path = PathOf(name);
  bool was_there = true;
  // EINVAL: not a mount point (a creation that died half-way); ENOENT: already gone.
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    ThrowErrno(fmt::format("umount2({}, MNT_DETACH)", path));
  }
  if (::unlink(path.c_str()) != 0) {
    if (errno != ENOENT) ThrowErrno(fmt::format("unlink({})", path));
    was_there = false;
  }
  return was_there;
}

UniqueFd Open(std::string_view name) {
  CheckName(name);
  const std::string path = PathOf(name);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.Valid()) ThrowErrno(fmt::format("open({}, O_RDONLY)", path));
  return fd;
}

std::vector<std::string> List() {
  std::vector<std::string> names;
  DIR* dir = ::opendir(kRunDir);
  if (dir == nullptr) {
    if (errno == ENOENT) return names;
    ThrowErrno(fmt::format("opendir({})", kRunDir));
  }
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

void RunIn(int netns_fd, std::string_view label, const std::function<void()>& fn) {
  RunOnThread([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      ThrowErrno(fmt::format("setns({}, CLONE_NEWNET)",
                             label.empty() ? DescribeFd(netns_fd) : PathOf(label)));
    }
    fn();
  });
}

UniqueFd SocketIn(int netns_fd, std::string_view label, int domain, int type, int protocol) {
  UniqueFd sock;
  RunIn(netns_fd, label, [&] {
    sock.Reset(::socket(domain, type | SOCK_CLOEXEC, protocol));
    if (!sock.Valid()) {
      ThrowErrno(
          fmt::format("socket({}, {}, {}) in {}", domain, type, protocol, Where(netns_fd, label)));
    }
  });
  return sock;
}

void WriteSysctl(int netns_fd, std::string_view label, std::string_view key,
                 std::string_view value) {
  RunIn(netns_fd, label, [&] {
    const std::string path = fmt::format("/proc/sys/{}", key);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.Valid())
      ThrowErrno(fmt::format("open({}, O_WRONLY) in {}", path, Where(netns_fd, label)));
    if (::write(fd.Get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
      ThrowErrno(fmt::format("write({}, \"{}\") in {}", path, value, Where(netns_fd, label)));
    }
  });
}

std::string ReadSysctl(int netns_fd, std::string_view label, std::string_view key) {
  std::string value;
  RunIn(netns_fd, label, [&] {
    const std::string path = fmt::format("/proc/sys/{}", key);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.Valid())
      ThrowErrno(fmt::format("open({}, O_RDONLY) in {}", path, Where(netns_fd, label)));
    std::array<char, 4096> buf{};
    const ssize_t n = ::read(fd.Get(), buf.data(), buf.size());
    if (n < 0) ThrowErrno(fmt::format("read({}) in {}", path, Where(netns_fd, label)));
    value.assign(buf.data(), static_cast<size_t>(n));
  });
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

}  // namespace svcbench::netns
