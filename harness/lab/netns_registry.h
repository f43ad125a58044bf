// Which svcb-* namespaces this process owns, and which runs are still alive.
//
// A run's marker, /run/svcbench/<run_id>.pid, holds "<pid> <start time>" of the process that owns
// the run's namespaces. It is written (atomically, by rename) before the run's first namespace
// exists and removed with its last one, so `svcbench cleanup` in another process can tell a live
// run from the leftovers of a killed one: a namespace whose run has no marker, or whose marker
// names a process that is gone, is a leftover. The start time guards against a reused pid.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace svcbench::netns {

inline constexpr char kMarkerDir[] = "/run/svcbench";
inline constexpr std::string_view kLabPrefix = "svcb-";

std::string MarkerPath(std::string_view run_id);

// The run id of "svcb-<run>-<tag>-<role>", or "" for a name not shaped like that.
std::string RunIdOf(std::string_view ns_name);

// Writes the marker of run_id naming pid (its start time is added when /proc has it).
void WriteRunMarker(std::string_view run_id, pid_t pid);

// True when run_id's marker names a process that is alive and is still the same process.
bool RunIsLive(std::string_view run_id);

// Creates the namespace (see netns::Create) registered under run_id, writing the run's marker
// first when this is its first namespace. Throws std::runtime_error when another live process
// owns run_id, std::system_error when the name exists or the kernel refuses.
void CreateRegistered(std::string_view name, std::string_view run_id);

// Removes a namespace and forgets it; the run's marker goes with its last namespace. A namespace
// that is already gone is not an error. Thread-safe, like everything here.
void RemoveRegistered(std::string_view name);

// Names created by this process and not removed yet, sorted.
std::vector<std::string> Registered();

}  // namespace svcbench::netns
