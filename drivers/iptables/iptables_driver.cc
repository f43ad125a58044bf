#include "drivers/iptables/iptables_driver.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "harness/model/generator.h"
#include "harness/util/interrupt.h"
#include "harness/util/process.h"

namespace svcbench {
namespace {

// An anonymous network namespace that lives as long as the fd. unshare() in a short-lived
// thread moves only that thread, so the caller's namespace is never touched and nothing is left
// behind under /run/netns.
class ScratchNetns {
 public:
  ScratchNetns() {
    int err = 0;
    std::thread([&] {
      if (::unshare(CLONE_NEWNET) != 0) {
        err = errno;
        return;
      }
      fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) err = errno;
    }).join();
    if (fd_ < 0) throw std::system_error(err, std::system_category(), "unshare(CLONE_NEWNET)");
  }
  ~ScratchNetns() { ::close(fd_); }
  ScratchNetns(const ScratchNetns&) = delete;
  ScratchNetns& operator=(const ScratchNetns&) = delete;
  int Fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// The probe has no DriverContext; it still must not take the host's /run/xtables.lock.
std::string ProbeLockfile() {
  std::error_code ec;
  const std::filesystem::path dir = "/run/svcbench";
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return dir / "probe-xtables.lock";
  return std::filesystem::temp_directory_path(ec) / "svcbench-probe-xtables.lock";
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

class IptablesDriver final : public Driver {
 public:
  IptablesDriver(IptablesVariant v, const DriverContext& ctx, const IptablesDriverOptions& opts)
      : variant_(v), ctx_(ctx), opts_(opts) {
    opts_.render.stale_chains.clear();
  }

  std::string_view Name() const override { return IptablesBackendName(variant_); }

  Availability Probe() const override { return ProbeIptables(variant_); }

  Payload Render(const ServiceSet& set) const override {
    return RenderIptablesRestore(set, opts_.render);
  }

  CommitStats Sync(const ServiceSet& set, const Payload& payload) override {
    if (!prepared_) Prepare();
    std::vector<std::string> active = ServiceChainNames(set);
    std::vector<std::string> stale;
    std::set_difference(existing_chains_.begin(), existing_chains_.end(), active.begin(),
                        active.end(), std::back_inserter(stale));
    // The copy Spawn needs anyway; it is also where stale chains are spliced in.
    std::string input;
    try {
      input = SpliceStaleChainDeletions(payload.text, stale);
    } catch (const std::invalid_argument& e) {
      throw DriverError(fmt::format("{}: {}", Name(), e.what()));
    }
    const size_t bytes = input.size();

    const std::string tool(IptablesRestoreCommand(variant_));
    const SpawnResult r =
        Run({tool, "-w", std::to_string(ctx_.lock_wait_s), "--noflush", "--counters"},
            std::move(input));
    if (r.timed_out) throw DriverTimeout(r.Describe(tool));
    if (!r.Ok()) throw DriverError(r.Describe(tool));
    existing_chains_ = std::move(active);

    CommitStats stats;
    stats.wall_s = r.wall_s;
    stats.cpu_s = r.user_s + r.sys_s;
    stats.max_rss_bytes = static_cast<double>(r.max_rss_kib) * 1024.0;
    stats.payload_bytes = bytes;
    stats.rules = payload.rules;
    return stats;
  }

  void Clear() override {
    const std::string tool(IptablesRestoreCommand(variant_));
    // Without --noflush every chain of the table is flushed and every user chain deleted.
    const SpawnResult r = Run({tool, "-w", std::to_string(ctx_.lock_wait_s)}, "*nat\nCOMMIT\n");
    if (!r.Ok()) throw DriverError(r.Describe(tool));
    prepared_ = false;
    existing_chains_.clear();
  }

 private:
  // kube-proxy's start-up work, outside the measured commit: find what is already in the table
  // and make sure the base chains jump to ours.
  void Prepare() {
    const std::string save(IptablesSaveCommand(variant_));
    const SpawnResult saved = Run({save, "-t", "nat"}, {});
    if (!saved.Ok()) throw DriverError(saved.Describe(save));

    std::vector<std::string> chains;
    std::vector<std::string_view> lines;
    std::string_view text = saved.out;
    while (!text.empty()) {
      const size_t end = std::min(text.find('\n'), text.size());
      const std::string_view line = text.substr(0, end);
      text.remove_prefix(std::min(end + 1, text.size()));
      if (line.starts_with(':')) {
        const std::string_view chain = line.substr(1, line.find(' ') - 1);
        if (IsServiceChainName(chain)) chains.emplace_back(chain);
      } else if (line.starts_with("-A ")) {
        lines.push_back(line);
      }
    }
    std::sort(chains.begin(), chains.end());

    const bool has_services = saved.out.find("\n:KUBE-SERVICES ") != std::string::npos;
    const bool has_postrouting = saved.out.find("\n:KUBE-POSTROUTING ") != std::string::npos;
    std::string input = "*nat\n";
    bool missing = false;
    // Declaring an existing chain would flush it, so only missing chains are declared.
    if (!has_services) input += ":KUBE-SERVICES - [0:0]\n";
    if (!has_postrouting) input += ":KUBE-POSTROUTING - [0:0]\n";
    for (const std::string& rule : BaseChainJumpRules()) {
      if (std::find(lines.begin(), lines.end(), rule) != lines.end()) continue;
      missing = true;
      input += "-I " + rule.substr(3) + "\n";  // "-A CHAIN ..." -> "-I CHAIN ...": prepend
    }
    input += "COMMIT\n";
    if (missing) {
      const std::string tool(IptablesRestoreCommand(variant_));
      const SpawnResult r =
          Run({tool, "-w", std::to_string(ctx_.lock_wait_s), "--noflush"}, std::move(input));
      if (!r.Ok()) {
        throw DriverError(fmt::format("installing the base-chain jumps: {}", r.Describe(tool)));
      }
    }
    existing_chains_ = std::move(chains);
    prepared_ = true;
  }

  // Runs an xtables tool in the node's namespace. Throws DriverError when it cannot start and
  // Interrupted when it was killed because of an interrupt.
  SpawnResult Run(std::vector<std::string> argv, std::string stdin_data) {
    if (ctx_.netns_fd < 0) {
      // Without a namespace the tool would program the caller's, possibly the host's, table.
      throw DriverError(fmt::format("{}: no network namespace to program (netns_fd < 0)", Name()));
    }
    SpawnOptions opts;
    opts.argv = std::move(argv);
    opts.netns_fd = ctx_.netns_fd;
    if (!ctx_.xtables_lockfile.empty()) {
      opts.extra_env.push_back("XTABLES_LOCKFILE=" + ctx_.xtables_lockfile);
    }
    opts.stdin_data = std::move(stdin_data);
    opts.timeout_s = ctx_.commit_timeout_s > 0 ? ctx_.commit_timeout_s : opts_.tool_timeout_s;
    SpawnResult r;
    try {
      r = Spawn(opts);
    } catch (const std::system_error& e) {
      throw DriverError(fmt::format("{}: {}", Name(), e.what()));
    }
    if (r.term_signal != 0 && InterruptRequested()) throw Interrupted{InterruptSignal()};
    return r;
  }

  IptablesVariant variant_;
  DriverContext ctx_;
  IptablesDriverOptions opts_;
  bool prepared_ = false;
  // Per-service chains in the namespace's nat table (sorted): what the next Sync must delete
  // unless its set still has them.
  std::vector<std::string> existing_chains_;
};

}  // namespace

std::string_view IptablesBackendName(IptablesVariant v) {
  return v == IptablesVariant::kLegacy ? "iptables-legacy" : "iptables-nft";
}

std::string_view IptablesRestoreCommand(IptablesVariant v) {
  return v == IptablesVariant::kLegacy ? "iptables-legacy-restore" : "iptables-nft-restore";
}

std::string_view IptablesSaveCommand(IptablesVariant v) {
  return v == IptablesVariant::kLegacy ? "iptables-legacy-save" : "iptables-nft-save";
}

Availability ProbeIptables(IptablesVariant v) {
  const std::string tool(IptablesRestoreCommand(v));
  if (!HaveCommand(tool)) return {false, fmt::format("{} not found in PATH", tool)};

  std::optional<ScratchNetns> netns;
  try {
    netns.emplace();
  } catch (const std::system_error& e) {
    return {false, fmt::format("cannot create a scratch network namespace to test {} ({}); "
                               "run as root",
                               tool, e.what())};
  }
  GeneratorSpec spec;
  spec.seed = 1;
  spec.services = 1;
  spec.endpoints_per_service = 2;
  SpawnOptions opts;
  opts.argv = {tool, "-w", "5", "--test"};
  opts.netns_fd = netns->Fd();
  opts.extra_env = {"XTABLES_LOCKFILE=" + ProbeLockfile()};
  opts.stdin_data = RenderIptablesRestore(Generate(spec)).text;
  opts.timeout_s = 30;
  SpawnResult r;
  try {
    r = Spawn(opts);
  } catch (const std::system_error& e) {
    return {false, e.what()};
  }
  if (!r.Ok()) {
    std::string reason = r.Describe(tool);
    if (v == IptablesVariant::kLegacy) {
      reason +=
          " (does the kernel have legacy xtables? CONFIG_IP_NF_IPTABLES_LEGACY and "
          "CONFIG_IP_NF_NAT; they are optional since Linux 6.17)";
    }
    return {false, reason};
  }
  opts.argv = {tool, "--version"};
  opts.stdin_data.clear();
  std::string version;
  try {
    version = FirstLine(Spawn(opts).out);
  } catch (const std::system_error&) {
  }
  return {true, version.empty()
                    ? fmt::format("{} accepts kube-proxy's nat ruleset", tool)
                    : fmt::format("{} ({}) accepts kube-proxy's nat ruleset", tool, version)};
}

std::unique_ptr<Driver> MakeIptablesDriver(IptablesVariant v, const DriverContext& ctx,
                                           const IptablesDriverOptions& opts) {
  return std::make_unique<IptablesDriver>(v, ctx, opts);
}

}  // namespace svcbench
