#include "harness/util/proc_stat.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <system_error>

namespace svcbench {

std::optional<CpuTimes> ParseProcStat(std::string_view text, double ticks_per_s) {
  constexpr std::string_view kCpu = "cpu ";
  if (!text.starts_with(kCpu) || ticks_per_s <= 0) return std::nullopt;
  std::string_view line = text.substr(kCpu.size(), text.find('\n') - kCpu.size());
  // user nice system idle iowait irq softirq steal guest guest_nice
  std::array<double, 10> v{};
  size_t count = 0;
  while (count < v.size()) {
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty()) break;
    uint64_t ticks = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), ticks);
    if (ec != std::errc()) return std::nullopt;
    v[count++] = static_cast<double>(ticks);
    line.remove_prefix(static_cast<size_t>(end - line.data()));
  }
  if (count < 7) return std::nullopt;  // softirq is the 7th field (Linux >= 2.6.0)
  CpuTimes t;
  t.busy_s = (v[0] + v[1] + v[2] + v[5] + v[6]) / ticks_per_s;
  t.softirq_s = v[6] / ticks_per_s;
  return t;
}

CpuTimes ReadProcStat() {
  const int fd = ::open("/proc/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open(/proc/stat)");
  std::array<char, 512> buf{};  // the first line is all we need
  const ssize_t n = ::read(fd, buf.data(), buf.size());
  const int err = errno;
  ::close(fd);
  if (n <= 0)
    throw std::system_error(n < 0 ? err : EIO, std::generic_category(), "read(/proc/stat)");
  const auto t = ParseProcStat(std::string_view(buf.data(), static_cast<size_t>(n)),
                               static_cast<double>(::sysconf(_SC_CLK_TCK)));
  if (!t) throw std::system_error(EINVAL, std::generic_category(), "parse /proc/stat");
  return *t;
}

double ProcessCpuSeconds() {
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) {
    throw std::system_error(errno, std::generic_category(), "getrusage(RUSAGE_SELF)");
  }
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

}  // namespace svcbench
