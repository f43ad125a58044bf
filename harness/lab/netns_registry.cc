#include "harness/lab/netns_registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "harness/lab/lab.h"
#include "harness/lab/netns.h"
#include "harness/lab/sys_error.h"

namespace svcbench {
namespace netns {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::string, std::less<>> run_of;  // namespace name -> run id
  std::map<std::string, int, std::less<>> refs;            // run id -> namespaces registered
  // A forked child inherits the registry but owns none of it: its exit must not remove the
  // parent's namespaces.
  pid_t owner = 0;
};

// Never destroyed: the CLI's atexit handler may run after static destructors.
Registry& TheRegistry() {
  static auto* registry = new Registry;
  return *registry;
}

// Field 22 of /proc/PID/stat, the start time in clock ticks since boot.
std::optional<unsigned long long> StartTimeOf(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses; fields after it do not.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i < 22; ++i) fields >> field;  // fields 3..21
  unsigned long long start = 0;
  if (!(fields >> start)) return std::nullopt;
  return start;
}

bool PidAlive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

struct Marker {
  pid_t pid = 0;
  std::optional<unsigned long long> start;
};

std::optional<Marker> ReadMarker(std::string_view run_id) {
  std::ifstream in(MarkerPath(run_id));
  if (!in) return std::nullopt;
  Marker marker;
  long long pid = 0;
  if (!(in >> pid) || pid <= 0) return std::nullopt;
  marker.pid = static_cast<pid_t>(pid);
  unsigned long long start = 0;
  if (in >> start) marker.start = start;
  return marker;
}

bool MarkerIsOurs(std::string_view run_id) {
  const auto marker = ReadMarker(run_id);
  return marker && marker->pid == ::getpid();
}

void RemoveMarkerIfOurs(std::string_view run_id) {
  if (MarkerIsOurs(run_id)) ::unlink(MarkerPath(run_id).c_str());
}

// Registry lock held. Makes sure run_id's marker names this process before its first namespace.
void ClaimRun(Registry& registry, std::string_view run_id) {
  if (registry.refs.find(run_id) != registry.refs.end() && MarkerIsOurs(run_id)) return;
  if (const auto marker = ReadMarker(run_id);
      marker && marker->pid != ::getpid() && RunIsLive(run_id)) {
    throw std::runtime_error(fmt::format("run id '{}' belongs to the live process {} ({})", run_id,
                                         marker->pid, MarkerPath(run_id)));
  }
  WriteRunMarker(run_id, ::getpid());
}

// Registry lock held.
void Forget(Registry& registry, std::string_view name) {
  const auto it = registry.run_of.find(name);
  if (it == registry.run_of.end()) return;
  const std::string run_id = it->second;
  registry.run_of.erase(it);
  if (const auto ref = registry.refs.find(run_id);
      ref != registry.refs.end() && --ref->second <= 0) {
    registry.refs.erase(ref);
    RemoveMarkerIfOurs(run_id);
  }
}

bool NameMatches(std::string_view name, std::string_view prefix) {
  return name.starts_with(kLabPrefix) && name.starts_with(prefix);
}

// Removes markers (and half-written marker files) of dead runs that the prefix covers.
void SweepMarkers(std::string_view prefix) {
  DIR* dir = ::opendir(kMarkerDir);
  if (dir == nullptr) return;
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view file = entry->d_name;
    if (file.starts_with('.') && file.ends_with(".tmp")) {
      // ".<run>.<pid>.tmp" from WriteRunMarker: stale when its writer is gone.
      const std::string_view body = file.substr(1, file.size() - 5);
      const size_t dot = body.rfind('.');
      long long pid = 0;
      if (dot != std::string_view::npos) {
        std::from_chars(body.data() + dot + 1, body.data() + body.size(), pid);
      }
      if (pid > 0 && !PidAlive(static_cast<pid_t>(pid))) stale.emplace_back(file);
      continue;
    }
    if (!file.ends_with(".pid")) continue;
    const std::string_view run_id = file.substr(0, file.size() - 4);
    const std::string ns_prefix = fmt::format("{}{}-", kLabPrefix, run_id);
    const bool covered =
        std::string_view(ns_prefix).starts_with(prefix) || prefix.starts_with(ns_prefix);
    if (covered && !RunIsLive(run_id)) stale.emplace_back(file);
  }
  ::closedir(dir);
  for (const auto& file : stale) ::unlink(fmt::format("{}/{}", kMarkerDir, file).c_str());
}

}  // namespace

std::string MarkerPath(std::string_view run_id) {
  return fmt::format("{}/{}.pid", kMarkerDir, run_id);
}

std::string RunIdOf(std::string_view ns_name) {
  if (!ns_name.starts_with(kLabPrefix)) return "";
  const std::string_view rest = ns_name.substr(kLabPrefix.size());
  const size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string_view::npos) return "";
  return std::string(rest.substr(0, dash));
}

void WriteRunMarker(std::string_view run_id, pid_t pid) {
  if (run_id.empty() || run_id.find('/') != std::string_view::npos) {
    throw std::invalid_argument(fmt::format("bad run id '{}'", run_id));
  }
  if (::mkdir(kMarkerDir, 0755) != 0 && errno != EEXIST) {
    ThrowErrno(fmt::format("mkdir({}, 0755)", kMarkerDir));
  }
  // Written under a temporary name and renamed, so a reader never sees a half-written marker
  // (which it would take for a dead run).
  const std::string tmp = fmt::format("{}/.{}.{}.tmp", kMarkerDir, run_id, ::getpid());
  const std::string path = MarkerPath(run_id);
  const auto start = StartTimeOf(pid);
  const std::string content =
      start ? fmt::format("{} {}\n", pid, *start) : fmt::format("{}\n", pid);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.Valid()) ThrowErrno(fmt::format("open({}, O_CREAT)", tmp));
  if (::write(fd.Get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    const int err = errno;
    ::unlink(tmp.c_str());
    ThrowSystemError(err, fmt::format("write({})", tmp));
  }
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    ThrowSystemError(err, fmt::format("rename({}, {})", tmp, path));
  }
}

bool RunIsLive(std::string_view run_id) {
  const auto marker = ReadMarker(run_id);
  if (!marker) return false;
  if (marker->pid == ::getpid()) return true;
  if (!PidAlive(marker->pid)) return false;
  if (!marker->start) return true;
  // A pid that lives on with another start time was reused by an unrelated process.
  const auto start = StartTimeOf(marker->pid);
  return !start || *start == *marker->start;
}

void CreateRegistered(std::string_view name, std::string_view run_id) {
  if (RunIdOf(name) != run_id) {
    throw std::invalid_argument(
        fmt::format("namespace '{}' is not named svcb-{}-<tag>-<role>", name, run_id));
  }
  Registry& registry = TheRegistry();
  // Held across creation, so the interrupt path either sees the namespace registered or waits
  // until it is (and never sees a name this process failed to take).
  std::lock_guard lock(registry.mu);
  if (registry.owner != ::getpid()) {
    // First namespace of this process, or of a forked child: what a child inherited belongs to
    // its parent, which removes it itself.
    registry.run_of.clear();
    registry.refs.clear();
    registry.owner = ::getpid();
  }
  ClaimRun(registry, run_id);
  try {
    Create(name);
  } catch (...) {
    if (registry.refs.find(run_id) == registry.refs.end()) RemoveMarkerIfOurs(run_id);
    throw;
  }
  registry.run_of.emplace(std::string(name), std::string(run_id));
  ++registry.refs[std::string(run_id)];
}

void RemoveRegistered(std::string_view name) {
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mu);
  Remove(name);
  Forget(registry, name);
}

std::vector<std::string> Registered() {
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mu);
  std::vector<std::string> names;
  for (const auto& [name, run] : registry.run_of) names.push_back(name);
  return names;
}

}  // namespace netns

std::vector<std::string> ListLabNamespaces() {
  std::vector<std::string> names = netns::List();
  std::erase_if(names, [](const std::string& n) { return !n.starts_with(netns::kLabPrefix); });
  return names;
}

std::vector<std::string> CleanupLeftovers(bool force) {
  return CleanupLeftovers(force, netns::kLabPrefix);
}

std::vector<std::string> CleanupLeftovers(bool force, std::string_view name_prefix) {
  if (!name_prefix.starts_with(netns::kLabPrefix)) {
    throw std::invalid_argument(fmt::format("cleanup prefix '{}' does not start with '{}'",
                                            name_prefix, netns::kLabPrefix));
  }
  netns::Registry& registry = netns::TheRegistry();
  std::vector<std::string> removed;
  std::exception_ptr first_error;
  for (const std::string& name : ListLabNamespaces()) {
    if (!netns::NameMatches(name, name_prefix)) continue;
    const std::string run_id = netns::RunIdOf(name);
    if (!force && !run_id.empty() && netns::RunIsLive(run_id)) continue;
    try {
      std::lock_guard lock(registry.mu);
      if (netns::Remove(name)) removed.push_back(name);
      netns::Forget(registry, name);
    } catch (...) {
      // Keep going: one stuck namespace must not keep the others around.
      if (!first_error) first_error = std::current_exception();
    }
  }
  netns::SweepMarkers(name_prefix);
  if (first_error) std::rethrow_exception(first_error);
  return removed;
}

void CleanupRegisteredNamespaces() {
  netns::Registry& registry = netns::TheRegistry();
  std::lock_guard lock(registry.mu);
  if (registry.owner != ::getpid()) return;
  while (!registry.run_of.empty()) {
    const std::string name = registry.run_of.begin()->first;
    try {
      netns::Remove(name);
    } catch (const std::exception& e) {
      // Called from atexit and the interrupt path: report and go on with the rest.
      std::fprintf(stderr, "svcbench: cleanup of %s: %s\n", name.c_str(), e.what());
    }
    netns::Forget(registry, name);
  }
}

}  // namespace svcbench
