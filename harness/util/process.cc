#include "harness/util/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "harness/util/interrupt.h"
#include "harness/util/unique_fd.h"

extern char** environ;

namespace svcbench {
namespace {

using Clock = std::chrono::steady_clock;

// Longest a poll() sleeps, so an interrupt delivered to another thread (no EINTR here) is
// still noticed promptly.
constexpr int kPollSliceMs = 100;
// How long a child gets to exit after SIGTERM before it is SIGKILLed.
constexpr double kTermGraceS = 2.0;
// Big payloads go through a bigger pipe: fewer wake-ups of the child per megabyte. Best effort
// (pipe-max-size may be lower); it only shortens the harness's share of the measured wall time.
constexpr int kBigPipeBytes = 1 << 20;
constexpr size_t kWriteChunk = 1 << 20;

using Fd = UniqueFd;

struct Pipe {
  Fd read;
  Fd write;
};

Pipe MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::system_category(), "pipe2");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

void SetNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw std::system_error(errno, std::system_category(),
                            fmt::format("fcntl({}, O_NONBLOCK)", fd));
  }
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// The PATH search of execvp, done in the parent: the child of a possibly multi-threaded
// process should only make async-signal-safe calls between fork and exec, and execve is one.
std::optional<std::string> ResolveCommand(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    return IsExecutableFile(name) ? std::optional<std::string>(name) : std::nullopt;
  }
  const char* env_path = std::getenv("PATH");
  // glibc's execvp default when PATH is unset.
  const std::string_view path = env_path != nullptr ? env_path : "/bin:/usr/bin";
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find(':', begin);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view dir = path.substr(begin, end - begin);
    std::string candidate = dir.empty() ? name : fmt::format("{}/{}", dir, name);
    if (IsExecutableFile(candidate)) return candidate;
    begin = end + 1;
  }
  return std::nullopt;
}

// The inherited environment with `extra` added; a KEY in `extra` replaces the inherited one.
std::vector<std::string> BuildEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  auto key_of = [](std::string_view kv) { return kv.substr(0, kv.find('=')); };
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    const bool overridden = std::any_of(
        extra.begin(), extra.end(), [&](const std::string& x) { return key_of(x) == key_of(kv); });
    if (!overridden) env.emplace_back(kv);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// What the child reports through the CLOEXEC status pipe when it cannot exec.
struct ChildFailure {
  enum Stage : int { kDup, kSetns, kExec } stage;
  int err;
};

[[noreturn]] void ChildFail(int status_fd, ChildFailure::Stage stage) {
  const ChildFailure failure{stage, errno};
  // Nothing useful can be done if this write fails; the parent then sees a clean exec
  // and an exit status of 127.
  [[maybe_unused]] ssize_t n = ::write(status_fd, &failure, sizeof failure);
  ::_exit(127);
}

// Moves `from` onto `to` in the child and makes sure it survives exec: dup2 onto itself would
// keep O_CLOEXEC, so that case clears the flag instead.
bool DupTo(int from, int to) {
  if (from == to) return ::fcntl(to, F_SETFD, 0) == 0;
  return ::dup2(from, to) == to;
}

// Only async-signal-safe calls from here to execve.
[[noreturn]] void RunChild(const char* path, char* const* argv, char* const* envp, int netns_fd,
                           int stdin_fd, int stdout_fd, int stderr_fd, int status_fd) {
  // The parent may ignore SIGPIPE or block signals; a tool should start with the defaults.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGPIPE, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (!DupTo(stdin_fd, STDIN_FILENO) || !DupTo(stdout_fd, STDOUT_FILENO) ||
      !DupTo(stderr_fd, STDERR_FILENO)) {
    ChildFail(status_fd, ChildFailure::kDup);
  }
  if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) {
    ChildFail(status_fd, ChildFailure::kSetns);
  }
  ::execve(path, argv, envp);
  ChildFail(status_fd, ChildFailure::kExec);
}

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double TimevalSeconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// Writing to a pipe whose reader has gone raises SIGPIPE, which would kill us by default.
// The signal is thread-directed, so blocking it in this thread for the duration of Spawn is
// enough; a SIGPIPE our writes raised is then discarded instead of delivered.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_set_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_set_;
  sigset_t old_;
  bool was_pending_ = false;
};

// Reads what is available; returns false at EOF or on a hard error (the fd is then done).
bool DrainInto(int fd, std::string& sink) {
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      sink.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// A started child and the waiting on it: exit detection through a pidfd when the kernel has
// one, else by polling waitid() with a short sleep.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid), pidfd_(PidfdOpen(pid)) {}
  // Only reached unreaped when Spawn throws halfway: leave neither a running tool nor a zombie.
  ~Child() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ReapQuietly();
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t Pid() const { return pid_; }
  int Pidfd() const { return pidfd_.Get(); }

  // True when the child has exited (it stays reapable: WNOWAIT).
  bool HasExited() {
    if (exited_) return true;
    siginfo_t info{};
    info.si_pid = 0;
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid_) {
      exited_ = true;
    }
    return exited_;
  }

  // Waits up to `ms` for the child to exit.
  bool WaitExited(int ms) {
    if (HasExited()) return true;
    if (pidfd_.Valid()) {
      pollfd p{pidfd_.Get(), POLLIN, 0};
      ::poll(&p, 1, ms);
    } else {
      const timespec ts{0, std::min(ms, 10) * 1000000L};
      ::nanosleep(&ts, nullptr);
    }
    return HasExited();
  }

  void Signal(int sig) {
    if (!reaped_) ::kill(pid_, sig);
  }

  // SIGTERM, a grace period, then SIGKILL. Returns the last signal sent.
  int Terminate() {
    Signal(SIGTERM);
    const auto deadline = Clock::now() + std::chrono::duration<double>(kTermGraceS);
    while (Clock::now() < deadline) {
      if (WaitExited(kPollSliceMs)) return SIGTERM;
    }
    Signal(SIGKILL);
    return SIGKILL;
  }

  // Blocking reap; once an interrupt is seen it kills the child rather than waiting for it.
  // Returns the signal it sent itself, or 0.
  int Reap(int& status, rusage& usage) {
    int sent = 0;
    for (;;) {
      if (sent == 0 && InterruptRequested() && !HasExited()) sent = Terminate();
      if (sent == 0 && !WaitExited(kPollSliceMs)) continue;
      const pid_t r = ::wait4(pid_, &status, 0, &usage);
      if (r == pid_) break;
      if (r < 0 && errno == EINTR) continue;
      throw std::system_error(errno, std::system_category(), fmt::format("wait4({})", pid_));
    }
    reaped_ = true;
    return sent;
  }

  // Only for the error path before I/O starts: the child has already failed or is exiting.
  void ReapQuietly() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }

 private:
  pid_t pid_;
  Fd pidfd_;
  bool exited_ = false;
  bool reaped_ = false;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// A tool's stderr on one line: non-empty lines joined, without the "Try `x --help'" hint.
std::string OneLine(std::string_view text) {
  constexpr size_t kMax = 400;
  std::string out;
  size_t begin = 0;
  while (begin < text.size() && out.size() < kMax) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = Trim(text.substr(begin, end - begin));
    begin = end + 1;
    if (line.empty()) continue;
    if (line.starts_with("Try ") && line.find("--help") != std::string_view::npos) continue;
    if (!out.empty()) out.append(out.back() == ':' ? " " : "; ");
    out.append(line);
  }
  if (out.size() > kMax) {
    out.resize(kMax);
    out.append("...");
  }
  return out;
}

}  // namespace

std::string SpawnResult::Describe(const std::string& argv0) const {
  std::string head;
  if (timed_out) {
    head = fmt::format("{} timed out after {:.1f} s and was killed", argv0, wall_s);
  } else if (term_signal != 0) {
    const char* abbrev = ::sigabbrev_np(term_signal);
    head = abbrev != nullptr ? fmt::format("{} was killed by SIG{}", argv0, abbrev)
                             : fmt::format("{} was killed by signal {}", argv0, term_signal);
  } else {
    head = fmt::format("{} exited with {}", argv0, exit_code);
  }
  std::string detail = OneLine(err);
  if (detail.empty() && exit_code != 0) detail = OneLine(out);
  return detail.empty() ? head : fmt::format("{}: {}", head, detail);
}

bool HaveCommand(const std::string& name) { return ResolveCommand(name).has_value(); }

SpawnResult Spawn(const SpawnOptions& opts) {
  if (opts.argv.empty()) throw std::invalid_argument("Spawn: empty argv");
  const std::string& argv0 = opts.argv.front();
  SpawnResult result;
  // Starting a tool the user has just asked us to stop would only delay the shutdown.
  if (InterruptRequested()) {
    result.term_signal = InterruptSignal();
    return result;
  }
  const std::optional<std::string> path = ResolveCommand(argv0);
  if (!path) {
    throw std::system_error(ENOENT, std::system_category(), fmt::format("execvp({})", argv0));
  }
  std::vector<std::string> argv_storage = opts.argv;
  std::vector<std::string> env_storage = BuildEnvironment(opts.extra_env);
  const std::vector<char*> argv = CStrings(argv_storage);
  const std::vector<char*> envp = CStrings(env_storage);

  Pipe in = MakePipe();
  Pipe out = MakePipe();
  Pipe err = MakePipe();
  Pipe status = MakePipe();
  if (opts.stdin_data.size() > 64 * 1024) ::fcntl(in.write.Get(), F_SETPIPE_SZ, kBigPipeBytes);

  ScopedSigpipeBlock sigpipe_block;
  const Clock::time_point start = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::system_category(), "fork");
  if (pid == 0) {
    RunChild(path->c_str(), argv.data(), envp.data(), opts.netns_fd, in.read.Get(), out.write.Get(),
             err.write.Get(), status.write.Get());
  }
  Child child(pid);
  in.read.Reset();
  out.write.Reset();
  err.write.Reset();
  status.write.Reset();

  // EOF here means execve succeeded (the CLOEXEC write end closed); a record means it did not.
  ChildFailure failure{};
  ssize_t got = 0;
  do {
    got = ::read(status.read.Get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  status.read.Reset();
  if (got == static_cast<ssize_t>(sizeof failure)) {
    child.ReapQuietly();
    switch (failure.stage) {
      case ChildFailure::kSetns:
        throw std::system_error(
            failure.err, std::system_category(),
            fmt::format("setns({}, CLONE_NEWNET) for {}", opts.netns_fd, argv0));
      case ChildFailure::kDup:
        throw std::system_error(failure.err, std::system_category(),
                                fmt::format("dup2 for {}", argv0));
      case ChildFailure::kExec:
        break;
    }
    throw std::system_error(failure.err, std::system_category(), fmt::format("execvp({})", argv0));
  }

  SetNonBlocking(in.write.Get());
  SetNonBlocking(out.read.Get());
  SetNonBlocking(err.read.Get());
  if (opts.stdin_data.empty()) in.write.Reset();

  const bool has_deadline = opts.timeout_s > 0;
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(has_deadline ? opts.timeout_s : 0.0));
  size_t written = 0;
  int sent_signal = 0;

  for (;;) {
    if (InterruptRequested()) {
      in.write.Reset();
      out.read.Reset();
      err.read.Reset();
      sent_signal = child.Terminate();
      break;
    }
    int slice_ms = kPollSliceMs;
    if (has_deadline) {
      const auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) {
        child.Signal(SIGKILL);
        result.timed_out = true;
        sent_signal = SIGKILL;
        break;
      }
      slice_ms =
          std::clamp(static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count()),
                     1, kPollSliceMs);
    }
    if (!in.write.Valid() && !out.read.Valid() && !err.read.Valid()) {
      // The child closed its output but runs on: only its exit is left to wait for.
      if (child.WaitExited(slice_ms)) break;
      continue;
    }

    pollfd fds[4];
    nfds_t n = 0;
    auto add = [&](int fd, short events) {
      if (fd >= 0) fds[n++] = pollfd{fd, events, 0};
    };
    add(in.write.Get(), POLLOUT);
    add(out.read.Get(), POLLIN);
    add(err.read.Get(), POLLIN);
    add(child.Pidfd(), POLLIN);
    if (child.Pidfd() < 0) slice_ms = std::min(slice_ms, 10);  // no pidfd: look at waitid often
    const int ready = ::poll(fds, n, slice_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::system_category(), "poll");
    }

    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in.write.Get()) {
        while (written < opts.stdin_data.size()) {
          const size_t len = std::min(kWriteChunk, opts.stdin_data.size() - written);
          const ssize_t w = ::write(in.write.Get(), opts.stdin_data.data() + written, len);
          if (w > 0) {
            written += static_cast<size_t>(w);
          } else if (w < 0 && errno == EINTR) {
            continue;
          } else {
            // EAGAIN: the pipe is full, poll again. Anything else (EPIPE): the child stopped
            // reading; that is its business, and its exit status will tell.
            if (errno != EAGAIN && errno != EWOULDBLOCK) written = opts.stdin_data.size();
            break;
          }
        }
        if (written >= opts.stdin_data.size()) in.write.Reset();
      } else if (fds[i].fd == out.read.Get()) {
        if (!DrainInto(out.read.Get(), result.out)) out.read.Reset();
      } else if (fds[i].fd == err.read.Get()) {
        if (!DrainInto(err.read.Get(), result.err)) err.read.Reset();
      }
    }
    // A child that exited may have left descendants holding the pipes open; everything it
    // wrote itself is already in the pipe buffers, so take that and stop waiting for EOF.
    if (child.HasExited()) {
      if (out.read.Valid()) DrainInto(out.read.Get(), result.out);
      if (err.read.Valid()) DrainInto(err.read.Get(), result.err);
      in.write.Reset();
      out.read.Reset();
      err.read.Reset();
      break;
    }
  }

  int wait_status = 0;
  rusage usage{};
  if (const int s = child.Reap(wait_status, usage); s != 0) sent_signal = s;
  result.wall_s = Seconds(Clock::now() - start);
  result.user_s = TimevalSeconds(usage.ru_utime);
  result.sys_s = TimevalSeconds(usage.ru_stime);
  result.max_rss_kib = usage.ru_maxrss;
  if (WIFEXITED(wait_status)) {
    result.exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    result.term_signal = WTERMSIG(wait_status);
  }
  // A child that handled our SIGTERM and exited was still ended by it.
  if (sent_signal != 0 && result.term_signal == 0 && !result.timed_out) {
    result.term_signal = sent_signal;
    result.exit_code = -1;
  }
  return result;
}

}  // namespace svcbench
