#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "git_sha.h"  // generated at build time
#include "harness/result/result.h"
#include "harness/util/process.h"

namespace svcbench {
namespace {

std::string FirstLine(const std::string& s) {
  const auto nl = s.find('\n');
  return s.substr(0, nl);
}

std::string ToolVersion(const std::string& tool) {
  if (!HaveCommand(tool)) return "not installed";
  try {
    SpawnOptions o;
    o.argv = {tool, "--version"};
    o.timeout_s = 10;
    const SpawnResult r = Spawn(o);
    return FirstLine(r.out.empty() ? r.err : r.out);
  } catch (const std::exception& e) {
    return fmt::format("unknown ({})", e.what());
  }
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

}  // namespace

std::string NowUtc() {
  const auto now = std::chrono::system_clock::now();
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::floor<std::chrono::seconds>(now));
}

Context CollectContext() {
  Context c;
  utsname u{};
  if (uname(&u) == 0) {
    c.kernel = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
    c.hostname = u.nodename;
  }
  c.iptables = ToolVersion("iptables-legacy") + "; " + ToolVersion("iptables-nft");
  c.nft = ToolVersion("nft");
  c.cpu = CpuModel();
  c.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  c.build_type = SVCBENCH_BUILD_TYPE;
  c.git_sha = SVCBENCH_GIT_SHA;
  c.svcbench_version = SVCBENCH_VERSION;
  c.started_at = NowUtc();
  if (c.build_type != "Release" && c.build_type != "RelWithDebInfo") {
    c.warnings.push_back(fmt::format(
        "{} build: the harness's own timings (render) are not representative", c.build_type));
  }
  const std::string governor = ReadTrimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  if (!governor.empty() && governor != "performance") {
    c.warnings.push_back(
        fmt::format("CPU frequency scaling is on (governor '{}'): expect noise", governor));
  }
  return c;
}

}  // namespace svcbench
