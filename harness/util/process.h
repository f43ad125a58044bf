// Spawning tools (iptables-restore, nft) inside a network namespace and measuring them.
#pragma once

#include <string>
#include <vector>

namespace svcbench {

struct SpawnOptions {
  std::vector<std::string> argv;       // argv[0] is looked up in PATH
  std::vector<std::string> extra_env;  // "KEY=VALUE", added to the inherited environment
  int netns_fd = -1;                   // setns() into this namespace first, when >= 0
  std::string stdin_data;              // written to the child's stdin, then closed
  double timeout_s = 0;                // 0: no limit; else SIGKILL after this long
};

struct SpawnResult {
  int exit_code = -1;   // exit status, or -1 when killed by a signal
  int term_signal = 0;  // signal that ended it, or 0
  bool timed_out = false;
  double wall_s = 0;  // fork to reap
  double user_s = 0;  // from wait4's rusage
  double sys_s = 0;
  long max_rss_kib = 0;  // ru_maxrss
  std::string out;       // stdout
  std::string err;       // stderr

  bool Ok() const { return exit_code == 0 && !timed_out; }
  // "argv0 exited with 2: <first line of stderr>" and the like, for error messages.
  std::string Describe(const std::string& argv0) const;
};

// Runs a command to completion. Throws std::system_error when it cannot be started.
// When the process is interrupted (InterruptRequested() becomes true) the child is killed and
// the result has term_signal set.
SpawnResult Spawn(const SpawnOptions& opts);

// True when the command is found in PATH.
bool HaveCommand(const std::string& name);

}  // namespace svcbench
