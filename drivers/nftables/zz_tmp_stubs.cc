// TEMPORARY, drop at merge: harness/util/process.cc (Spawn, HaveCommand) lives on another branch.
// This minimal stand-in only exists so that the nftables-cli driver and its integration test can
// link and run on this branch. It has no interrupt handling and is not the project's Spawn.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "harness/util/process.h"

namespace svcbench {

std::string SpawnResult::Describe(const std::string& argv0) const {
  const std::string first = err.substr(0, err.find('\n'));
  if (timed_out) return fmt::format("{} timed out", argv0);
  if (term_signal != 0) return fmt::format("{} killed by signal {}", argv0, term_signal);
  return fmt::format("{} exited with {}: {}", argv0, exit_code, first);
}

bool HaveCommand(const std::string& name) {
  return std::system(fmt::format("command -v '{}' >/dev/null 2>&1", name).c_str()) == 0;
}

SpawnResult Spawn(const SpawnOptions& opts) {
  signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill us through its stdin
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    if (opts.netns_fd >= 0 && setns(opts.netns_fd, CLONE_NEWNET) != 0) _exit(126);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (const std::string& e : opts.extra_env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    for (const std::string& a : opts.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  SpawnResult r;
  size_t written = 0;
  bool in_open = true;
  if (opts.stdin_data.empty()) {
    close(in[1]);
    in_open = false;
  }
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd p[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    const int np = in_open ? 3 : 2;
    if (poll(p, np, -1) < 0 && errno != EINTR) break;
    if (in_open && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w =
          write(in[1], opts.stdin_data.data() + written, opts.stdin_data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN) written = opts.stdin_data.size();
      if (written == opts.stdin_data.size()) {
        close(in[1]);
        in_open = false;
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(p[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else {
        (i == 0 ? out_open : err_open) = false;
      }
    }
  }
  if (in_open) close(in[1]);
  close(out[0]);
  close(err[0]);
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.user_s = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
  r.sys_s = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
  r.max_rss_kib = ru.ru_maxrss;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  return r;
}

}  // namespace svcbench
