#include "drivers/iptc/iptc_driver.h"

#include <libiptc/libiptc.h>
#include <sched.h>
#include <time.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "drivers/iptc/iptc_entry.h"
#include "drivers/iptc/iptc_ruleset.h"
#include "drivers/iptc/xtables_lock.h"
#include "harness/lab/netns.h"

namespace svcbench {
namespace {

constexpr char kTable[] = "nat";

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct HandleFree {
  void operator()(xtc_handle* h) const { iptc_free(h); }
};
using Handle = std::unique_ptr<xtc_handle, HandleFree>;

// iptc_commit is two setsockopt()s: IPT_SO_SET_REPLACE, which fails with EAGAIN when the table
// changed since iptc_init, then IPT_SO_SET_ADD_COUNTERS (the old rules' counters onto the new
// table), which fails with EINVAL when yet another replace slipped in between the two, although
// ours went through. Both happen only with a writer that bypasses the xtables lock, and both are
// cured by doing the full sync again. A table the kernel rejects (also EINVAL) fails every
// attempt and is reported after the last.
bool RetryableCommitError(int err) { return err == EAGAIN || err == EINVAL; }

// libiptc reports through errno; iptc_strerror knows its own codes (e.g. "iptables who? (do you
// need to insmod?)") and falls back to strerror.
std::string IptcError(int err) {
  return fmt::format("{} (errno {}: {})", iptc_strerror(err), err, std::strerror(err));
}

class IptcDriver final : public Driver {
 public:
  IptcDriver(const DriverContext& ctx, const IptcDriverOptions& opts) : ctx_(ctx), opts_(opts) {
    opts_.render.stale_chains.clear();
  }

  std::string_view Name() const override { return "iptc"; }

  Availability Probe() const override { return ProbeIptc(); }

  Payload Render(const ServiceSet& set) const override {
    return RenderIptablesRestore(set, opts_.render);
  }

  CommitStats Sync(const ServiceSet& set, const Payload& payload) override {
    if (!prepared_) Prepare();
    // Outside the timed window, as the iptables driver computes it outside its restore.
    const std::vector<std::string> active = ServiceChainNames(set);
    CommitStats stats;
    stats.rules = payload.rules;
    InNamespace([&] {
      const double cpu0 = ThreadCpuSeconds();
      const auto t_lock = Clock::now();
      iptc::XtablesLock lock = Lock();
      int retries = 0;
      for (;;) {
        const auto t0 = Clock::now();
        Handle h = TryInit();
        if (!h) {
          // Reading the table races with writers too: the kernel answers EAGAIN when the table
          // changed between iptc_init's two getsockopt calls (its size and its entries).
          const int err = errno;
          if (err == EAGAIN && retries < opts_.max_retries) {
            ++retries;
            continue;
          }
          throw InitError(err);
        }
        stats.payload_bytes = Build(h.get(), set, active);
        const auto t1 = Clock::now();
        if (opts_.before_commit) opts_.before_commit(retries);
        const auto t2 = Clock::now();
        const int ok = iptc_commit(h.get());
        const int err = errno;
        const auto t3 = Clock::now();
        h.reset();  // iptc_free, still under the lock as in iptables-restore
        if (ok) {
          stats.build_s = Seconds(t1 - t0);
          stats.commit_s = Seconds(t3 - t2);
          break;
        }
        if (RetryableCommitError(err) && retries < opts_.max_retries) {
          ++retries;
          continue;
        }
        throw DriverError(fmt::format("iptc: iptc_commit(\"{}\") in {} failed after {} retries: {}",
                                      kTable, Where(), retries, IptcError(err)));
      }
      lock.Release();
      stats.wall_s = Seconds(Clock::now() - t_lock);
      stats.cpu_s = ThreadCpuSeconds() - cpu0;
      stats.retries = retries;
    });
    return stats;
  }

  void Clear() override {
    InNamespace([&] {
      iptc::XtablesLock lock = Lock();
      CommitWithRetries([&](xtc_handle* h) {
        std::vector<std::string> chains;
        for (const char* c = iptc_first_chain(h); c != nullptr; c = iptc_next_chain(h)) {
          chains.emplace_back(c);
        }
        for (const auto& c : chains) {
          if (!iptc_flush_entries(c.c_str(), h)) Fail("iptc_flush_entries", c);
        }
        for (const auto& c : chains) {
          if (!iptc_builtin(c.c_str(), h) && !iptc_delete_chain(c.c_str(), h)) {
            Fail("iptc_delete_chain", c);
          }
        }
        return true;
      });
    });
    prepared_ = false;
  }

 private:
  std::string Where() const {
    return ctx_.netns_name.empty() ? fmt::format("netns fd {}", ctx_.netns_fd)
                                   : fmt::format("netns {}", ctx_.netns_name);
  }

  // Runs fn on a helper thread inside the node's namespace; the caller's thread stays put.
  void InNamespace(const std::function<void()>& fn) {
    if (ctx_.netns_fd < 0) {
      // libiptc would program the caller's namespace, possibly the host's.
      throw DriverError("iptc: no network namespace to program (netns_fd < 0)");
    }
    try {
      netns::RunIn(ctx_.netns_fd, ctx_.netns_name, fn);
    } catch (const std::system_error& e) {
      throw DriverError(fmt::format("iptc: {}", e.what()));
    }
  }

  iptc::XtablesLock Lock() const {
    return iptc::XtablesLock(iptc::XtablesLockPath(ctx_.xtables_lockfile), ctx_.lock_wait_s);
  }

  // iptc_init, or null with errno set.
  static Handle TryInit() { return Handle(iptc_init(kTable)); }

  DriverError InitError(int err) const {
    return DriverError(
        fmt::format("iptc: iptc_init(\"{}\") in {}: {}", kTable, Where(), IptcError(err)));
  }

  [[noreturn]] void Fail(std::string_view call, std::string_view chain) const {
    throw DriverError(
        fmt::format("iptc: {}(\"{}\") in {}: {}", call, chain, Where(), IptcError(errno)));
  }

  // One transaction outside the measured path: init, edit (returns whether anything changed),
  // commit, repeated on EAGAIN. Call with the lock held, in the namespace.
  void CommitWithRetries(const std::function<bool(xtc_handle*)>& edit) {
    for (int attempt = 0;; ++attempt) {
      Handle h = TryInit();
      if (!h) {
        const int err = errno;
        if (err == EAGAIN && attempt < opts_.max_retries) continue;
        throw InitError(err);
      }
      if (!edit(h.get())) return;
      if (iptc_commit(h.get())) return;
      const int err = errno;
      if (!RetryableCommitError(err) || attempt >= opts_.max_retries) {
        throw DriverError(
            fmt::format("iptc: iptc_commit(\"{}\") in {}: {}", kTable, Where(), IptcError(err)));
      }
    }
  }

  // Everything of a full sync between iptc_init and iptc_commit. Returns the bytes of the entries
  // appended.
  size_t Build(xtc_handle* h, const ServiceSet& set, const std::vector<std::string>& active) {
    std::vector<std::string> stale;
    for (const char* c = iptc_first_chain(h); c != nullptr; c = iptc_next_chain(h)) {
      if (IsServiceChainName(c) && !std::binary_search(active.begin(), active.end(), c)) {
        stale.emplace_back(c);
      }
    }
    // A full sync replaces the contents of every chain it declares, as a restore's ":CHAIN"
    // line does.
    auto declare = [&](const std::string& chain) {
      if (iptc_is_chain(chain.c_str(), h)) {
        if (!iptc_flush_entries(chain.c_str(), h)) Fail("iptc_flush_entries", chain);
      } else if (!iptc_create_chain(chain.c_str(), h)) {
        Fail("iptc_create_chain", chain);
      }
    };
    for (const auto& c : iptc::FixedChains()) declare(c);
    for (const auto& c : active) declare(c);
    // Stale chains may jump to each other: flush them all before deleting any.
    for (const auto& c : stale) {
      if (!iptc_flush_entries(c.c_str(), h)) Fail("iptc_flush_entries", c);
    }

    size_t bytes = 0;
    try {
      iptc::BuildNatRules(set, opts_.render, [&](const std::string& chain, const ipt_entry& e) {
        if (!iptc_append_entry(chain.c_str(), &e, h)) Fail("iptc_append_entry", chain);
        bytes += e.next_offset;
      });
    } catch (const std::invalid_argument& e) {
      throw DriverError(fmt::format("iptc: {}", e.what()));
    }
    for (const auto& c : stale) {
      if (!iptc_delete_chain(c.c_str(), h)) Fail("iptc_delete_chain", c);
    }
    return bytes;
  }

  // kube-proxy's start-up work, outside the measured commit: the jumps from the base chains.
  void Prepare() {
    InNamespace([&] {
      iptc::XtablesLock lock = Lock();
      CommitWithRetries([&](xtc_handle* h) {
        bool changed = false;
        iptc::EntryBuilder b;
        for (const iptc::BaseChainJump& jump : iptc::BaseChainJumps()) {
          if (!iptc_is_chain(jump.target.c_str(), h)) {
            if (!iptc_create_chain(jump.target.c_str(), h)) Fail("iptc_create_chain", jump.target);
            changed = true;
          }
          if (HasJump(h, jump)) continue;
          if (!iptc_insert_entry(jump.chain.c_str(), &iptc::BuildBaseChainJump(jump, b), 0, h)) {
            Fail("iptc_insert_entry", jump.chain);
          }
          changed = true;
        }
        return changed;
      });
    });
    prepared_ = true;
  }

  static bool HasJump(xtc_handle* h, const iptc::BaseChainJump& jump) {
    for (const ipt_entry* e = iptc_first_rule(jump.chain.c_str(), h); e != nullptr;
         e = iptc_next_rule(e, h)) {
      const char* target = iptc_get_target(e, h);
      if (target != nullptr && jump.target == target && iptc::EntryComment(*e) == jump.comment) {
        return true;
      }
    }
    return false;
  }

  DriverContext ctx_;
  IptcDriverOptions opts_;
  bool prepared_ = false;
};

}  // namespace

Availability ProbeIptc() {
  // unshare() moves only this short-lived thread; its namespace dies with it.
  Availability a;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      a = {false, fmt::format("cannot create a scratch network namespace to try libiptc "
                              "(unshare: {}); run as root",
                              std::strerror(errno))};
      return;
    }
    Handle h(iptc_init(kTable));
    if (!h) {
      a = {false, fmt::format("libiptc: iptc_init(\"{}\"): {}; does the kernel have legacy "
                              "xtables? (CONFIG_IP_NF_IPTABLES_LEGACY and CONFIG_IP_NF_NAT; "
                              "optional since Linux 6.17)",
                              kTable, IptcError(errno))};
      return;
    }
    a = {true, "libiptc (libip4tc) opens the legacy nat table"};
  }).join();
  return a;
}

std::unique_ptr<Driver> MakeIptcDriver(const DriverContext& ctx, const IptcDriverOptions& opts) {
  return std::make_unique<IptcDriver>(ctx, opts);
}

}  // namespace svcbench
