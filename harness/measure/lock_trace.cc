#include "harness/measure/lock_trace.h"

#include <unistd.h>

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace svcbench {
namespace {

constexpr char kLibraryName[] = "libsvcbench_locktrace.so";

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

// The space-separated fields of one line after its kind letter; the last one of a `P` line is
// the rest of the line (a path may hold spaces).
class Fields {
 public:
  Fields(std::string_view rest, size_t line_no) : rest_(rest), line_no_(line_no) {}

  int64_t Int() {
    const std::string_view f = Word();
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    if (ec != std::errc() || end != f.data() + f.size()) {
      Fail(fmt::format("expected an integer, got '{}'", f));
    }
    return v;
  }
  std::string_view Rest() {
    if (rest_.empty()) Fail("missing field");
    const std::string_view r = rest_;
    rest_ = {};
    return r;
  }
  void End() {
    if (!rest_.empty()) Fail(fmt::format("unexpected '{}'", rest_));
  }
  [[noreturn]] void Fail(const std::string& what) const {
    throw std::invalid_argument(fmt::format("lock trace line {}: {}", line_no_, what));
  }

 private:
  std::string_view Word() {
    if (rest_.empty()) Fail("missing field");
    const size_t sp = rest_.find(' ');
    const std::string_view w = rest_.substr(0, sp);
    rest_ = sp == std::string_view::npos ? std::string_view{} : rest_.substr(sp + 1);
    return w;
  }

  std::string_view rest_;
  size_t line_no_;
};

}  // namespace

std::optional<double> LockTrace::WaitS() const {
  if (!first_attempt_ns) return std::nullopt;
  if (acquired_ns) return Seconds(*acquired_ns - *first_attempt_ns);
  if (failed_ns) return Seconds(*failed_ns - *first_attempt_ns);
  return std::nullopt;
}

std::optional<double> LockTrace::HoldS() const {
  if (!acquired_ns) return std::nullopt;
  if (released_ns) return Seconds(*released_ns - *acquired_ns);
  if (exit_ns) return Seconds(*exit_ns - *acquired_ns);
  return std::nullopt;
}

LockTrace ParseLockTrace(std::string_view text) {
  LockTrace t;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) break;  // cut short by a kill: not a record
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    ++line_no;
    if (line.size() < 3 || line[1] != ' ') {
      throw std::invalid_argument(
          fmt::format("lock trace line {}: expected '<kind> <pid> ...', got '{}'", line_no, line));
    }
    const char kind = line[0];
    Fields f(line.substr(2), line_no);
    const int pid = static_cast<int>(f.Int());
    if (kind == 'S' && !t.pid) {
      t.pid = pid;
      t.start_ns = f.Int();
      f.End();
      continue;
    }
    if (!t.pid) f.Fail("a record before the process's 'S' line");
    const bool ours = pid == *t.pid;
    switch (kind) {
      case 'S':
        f.Int();
        f.End();
        break;
      case 'P': {
        f.Int();  // fd
        const std::string_view path = f.Rest();
        if (ours && t.lock_path.empty()) t.lock_path = std::string(path);
        break;
      }
      case 'A': {
        f.Int();
        const int64_t ts = f.Int();
        f.End();
        if (!ours) break;
        ++t.lock_attempts;
        if (!t.first_attempt_ns) t.first_attempt_ns = ts;
        break;
      }
      case 'L': {
        f.Int();
        const int64_t ts = f.Int();
        f.End();
        if (ours && !t.acquired_ns) t.acquired_ns = ts;
        break;
      }
      case 'F': {
        f.Int();
        const int64_t ts = f.Int();
        const int err = static_cast<int>(f.Int());
        f.End();
        if (ours && !t.acquired_ns) {
          t.failed_ns = ts;
          t.failed_errno = err;
        }
        break;
      }
      case 'U': {
        f.Int();
        const int64_t ts = f.Int();
        f.End();
        if (ours && t.acquired_ns && !t.released_ns) t.released_ns = ts;
        break;
      }
      case 'B': {
        const int64_t t0 = f.Int();
        const int64_t t1 = f.Int();
        f.Int();  // errno of the send itself; the kernel's verdict comes back in the ACKs
        f.End();
        if (!ours) break;
        if (t1 < t0) f.Fail("batch ends before it starts");
        ++t.batches;
        t.batch_send_ns += t1 - t0;
        break;
      }
      case 'G': {
        f.Int();
        const int64_t gen = f.Int();
        f.End();
        if (gen < 0 || gen > UINT32_MAX) f.Fail(fmt::format("generation {} out of range", gen));
        if (!ours) break;
        ++t.generations_read;
        if (t.last_generation && *t.last_generation != static_cast<uint32_t>(gen)) {
          ++t.generation_changes;
        }
        t.last_generation = static_cast<uint32_t>(gen);
        break;
      }
      case 'X': {
        const int64_t ts = f.Int();
        f.End();
        if (ours) t.exit_ns = ts;
        break;
      }
      default:
        f.Fail(fmt::format("unknown record kind '{}'", kind));
    }
  }
  return t;
}

std::string LockTraceLibraryPath() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = exe.parent_path() / kLibraryName;
    if (fs::exists(beside, ec)) return beside.string();
  }
#ifdef SVCBENCH_LOCKTRACE_LIBRARY
  if (fs::exists(SVCBENCH_LOCKTRACE_LIBRARY, ec)) return SVCBENCH_LOCKTRACE_LIBRARY;
#endif
  return {};
}

}  // namespace svcbench
