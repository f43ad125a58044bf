#include "harness/measure/contention.h"

#include <stdlib.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "harness/analysis/stats.h"
#include "harness/measure/contention_writers.h"
#include "harness/measure/lock_trace.h"
#include "harness/util/interrupt.h"
#include "harness/util/process.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using contention::Family;
using contention::Op;
using contention::Outcome;
using Labels = std::map<std::string, std::string>;

// Writers, as the `writer` label names them. big-test and big-alone run before each window with
// no contenders: the same restore with --test (parse and table read, no commit) and for real.
constexpr char kBig[] = "big";
constexpr char kSmall[] = "small";
constexpr char kBigTest[] = "big-test";
constexpr char kBigAlone[] = "big-alone";

// One writer call as it ended.
struct Call {
  std::string writer;
  std::string op;      // small writers only: check, write, restore
  bool ended = false;  // ended by itself: not killed by a bound
  double wall_s = 0;
  Outcome outcome = Outcome::kOk;
  bool incomplete = false;  // a big write killed by (or, in-process, returning after) the bound
  bool present = false;     // a check that found the agent's rule
  std::optional<LockTrace> trace;
  std::optional<int> retries;  // from a driver's CommitStats
  size_t payload_bytes = 0;
  std::string error;
};

// Samples by (metric, labels), in first-seen order.
class SeriesSet {
 public:
  void Add(const std::string& metric, const std::string& unit, const Labels& labels, double v) {
    auto it = std::find_if(rows_.begin(), rows_.end(), [&](const ResultRow& r) {
      return r.metric == metric && r.labels == labels;
    });
    if (it == rows_.end()) {
      ResultRow r;
      r.metric = metric;
      r.unit = unit;
      r.labels = labels;
      rows_.push_back(std::move(r));
      it = rows_.end() - 1;
    }
    it->samples.push_back(v);
  }
  const std::vector<ResultRow>& Rows() const { return rows_; }

 private:
  std::vector<ResultRow> rows_;
};

// Spawns tools in the node namespace with the preload library and a trace file of their own,
// and reads the trace back. Thread-safe.
class TracedSpawner {
 public:
  TracedSpawner(std::string library, std::string lockfile)
      : library_(std::move(library)), lockfile_(std::move(lockfile)) {
    std::string tmpl = (fs::temp_directory_path() / "svcbench-locktrace-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw DriverError(fmt::format("contention: mkdtemp({}) failed", tmpl));
    }
    dir_ = tmpl;
  }
  ~TracedSpawner() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TracedSpawner(const TracedSpawner&) = delete;
  TracedSpawner& operator=(const TracedSpawner&) = delete;

  // Runs `opts` (argv, stdin, netns, timeout set by the caller; its environment is replaced).
  // The trace is nullopt when the process left none (it was killed before it started).
  std::pair<SpawnResult, std::optional<LockTrace>> Run(SpawnOptions& opts) {
    const std::string trace = fmt::format("{}/{}.trace", dir_, next_++);
    opts.extra_env = {"LD_PRELOAD=" + library_, fmt::format("{}={}", kLockTraceEnv, trace)};
    if (!lockfile_.empty()) opts.extra_env.push_back("XTABLES_LOCKFILE=" + lockfile_);
    SpawnResult r;
    try {
      r = Spawn(opts);
    } catch (const std::system_error& e) {
      throw DriverError(fmt::format("contention: {}", e.what()));
    }
    std::optional<LockTrace> parsed;
    std::ifstream in(trace);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      try {
        parsed = ParseLockTrace(text.str());
      } catch (const std::invalid_argument& e) {
        throw DriverError(fmt::format("contention: {}: {}", opts.argv.front(), e.what()));
      }
      if (!parsed->pid) parsed.reset();
    }
    std::error_code ec;
    fs::remove(trace, ec);
    return {std::move(r), std::move(parsed)};
  }

 private:
  std::string library_;
  std::string lockfile_;
  std::string dir_;
  std::atomic<uint64_t> next_{0};
};

// Stops and joins the contender threads on every path out of a window.
class ContenderThreads {
 public:
  ~ContenderThreads() { Join(); }
  template <typename F>
  void Start(F f) {
    threads_.emplace_back([this, f] {
      try {
        f();
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
        stop_ = true;
      }
    });
  }
  void Join() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  const std::atomic<bool>& stop() const { return stop_; }
  bool Stopped() const { return stop_.load(); }
  // The first exception a contender threw, rethrown here.
  void Rethrow() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::exception_ptr error_;
};

// Sleeps `ms`, in short slices so a stop or an interrupt is seen quickly.
void Pause(int ms, const std::atomic<bool>& stop) {
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (!stop.load() && !InterruptRequested() && Clock::now() < until) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(20)));
  }
}

std::string Fmt(double s) { return fmt::format("{:.3g}s", s); }

class ContentionCellRun : public CellRun {
 public:
  ContentionCellRun(const CellEnv& env, const ContentionOptions& opts) : env_(env), opts_(opts) {
    const auto family = contention::FamilyOf(env.backend);
    if (!family) {
      throw DriverError(fmt::format(
          "contention: no small writers for backend {} (iptables-legacy, iptables-nft, iptc and "
          "the nftables backends have them)",
          env.backend));
    }
    family_ = *family;
    ctx_ = env.bed.context();
    wait_ = opts.wait_s.value_or(ctx_.lock_wait_s);
    if (env.bed.lab() == nullptr || ctx_.netns_fd < 0) {
      throw DriverError("contention: needs a lab (a node namespace to run the writers in)");
    }
    const std::string library = LockTraceLibraryPath();
    if (library.empty()) {
      throw DriverError(
          "contention: libsvcbench_locktrace.so not found next to the svcbench binary (build "
          "the svcbench_locktrace target)");
    }
    // The lock every traced writer must have taken: the run's own unless it asked for the host's.
    expected_lock_ = ctx_.xtables_lockfile.empty() ? "/run/xtables.lock" : ctx_.xtables_lockfile;
    std::error_code ec;
    if (const fs::path canon = fs::weakly_canonical(expected_lock_, ec); !ec) {
      expected_lock_ = canon.string();
    }
    spawner_ = std::make_unique<TracedSpawner>(library, ctx_.xtables_lockfile);
    // The restore tools are run here, with the lock trace; other backends commit in-process
    // or through a driver's own spawn, and are timed through the Driver interface.
    if (env.backend == "iptables-legacy" || env.backend == "iptables-nft") {
      restore_tool_ = env.backend + "-restore";
    }
    payload_ = env.bed.driver().Render(env.set);
  }

  std::string Round(uint32_t /*round*/) override {
    try {
      env_.bed.EnsureSynced(env_.set);
    } catch (const DriverTimeout& e) {
      throw DriverTimeout(
          fmt::format("contention: the cell's first sync (untimed, uncontended): {}", e.what()));
    }
    calls_.clear();
    // The agents' chains are removed at the end of a round that succeeded, so the node holds only
    // the driver's rules again; after a failure the cell is over and the lab's removal takes them.
    if (opts_.contenders > 0) {
      Admin(contention::SetupCommand(family_, Contenders(), opts_.table, wait_), "setting up");
    }
    if (family_ == Family::kXtablesLegacy && !restore_tool_.empty()) {
      for (const char* writer : {kBigTest, kBigAlone}) {
        Call c = SpawnedBigWrite(writer);
        if (c.incomplete) {
          throw DriverTimeout(fmt::format("contention: {} (uncontended) {}", writer, c.error));
        }
        if (c.outcome != Outcome::kOk) {
          throw DriverError(fmt::format("contention: {} (uncontended): {}", writer, c.error));
        }
        calls_.push_back(std::move(c));
      }
    }
    Window();
    if (opts_.contenders > 0) {
      Admin(contention::TeardownCommand(family_, Contenders(), opts_.table, wait_), "removing");
    }
    return Account();
  }

  std::vector<ResultRow> Rows() const override { return series_.Rows(); }

 private:
  // Contenders run from the start until `duration` has passed and the big write in flight has
  // ended, so every big write meets contention for its whole life.
  void Window() {
    ContenderThreads contenders;
    for (int i = 0; i < Contenders(); ++i) {
      contenders.Start([this, i, &contenders] { Contender(i, contenders.stop()); });
    }
    const auto end = Clock::now() + std::chrono::seconds(opts_.duration_s);
    do {
      Call c = restore_tool_.empty() ? DriverBigWrite() : SpawnedBigWrite(kBig);
      const std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(std::move(c));
    } while (Clock::now() < end && !contenders.Stopped() && !InterruptRequested());
    contenders.Join();
    contenders.Rethrow();
    ThrowIfInterrupted();
  }

  int Contenders() const { return static_cast<int>(opts_.contenders); }

  void Contender(int index, const std::atomic<bool>& stop) {
    const contention::WriterSpec w{family_, index, opts_.table, wait_};
    const bool agent = opts_.mix[static_cast<size_t>(index) % opts_.mix.size()] == "agent";
    while (!stop.load()) {
      if (agent) {
        Call check = SmallCall(contention::CheckCommand(w));
        const bool ok = check.outcome == Outcome::kOk;
        const bool present = check.present;
        Keep(std::move(check));
        if (ok && !stop.load()) Keep(SmallCall(contention::WriteCommand(w, present)));
      } else {
        Keep(SmallCall(contention::RestoreCommand(w)));
      }
      Pause(opts_.interval_ms, stop);
    }
  }

  void Keep(Call c) {
    const std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(c));
  }

  Call SmallCall(const contention::Command& cmd) {
    SpawnOptions o;
    o.argv = cmd.argv;
    o.stdin_data = cmd.stdin_data;
    o.netns_fd = ctx_.netns_fd;
    // A hang guard only: a small call waits at most -w for the lock, but an nf_tables one waits
    // in the kernel for as long as a big transaction runs.
    o.timeout_s = opts_.timeout_s + wait_ + 30;
    auto [r, trace] = spawner_->Run(o);
    if (r.term_signal != 0 && InterruptRequested()) throw Interrupted{InterruptSignal()};
    Call c;
    c.writer = kSmall;
    c.op = std::string(contention::OpName(cmd.op));
    c.ended = !r.timed_out && r.term_signal == 0;
    c.wall_s = r.wall_s;
    c.outcome = contention::Classify(family_, cmd.op, r);
    if (c.outcome == Outcome::kOk && cmd.op == Op::kCheck) {
      c.present = contention::RulePresent(family_, r);
    }
    if (c.outcome != Outcome::kOk) c.error = r.Describe(cmd.argv.front());
    c.trace = std::move(trace);
    return c;
  }

  // The restore kube-proxy runs (the iptables driver's Sync command) with the cell's payload,
  // here so that it is traced. The node holds this very ruleset, so nothing stale is left to
  // delete and the payload is exactly what the driver would send.
  Call SpawnedBigWrite(const char* writer) {
    SpawnOptions o;
    o.argv = {restore_tool_, "-w", std::to_string(ctx_.lock_wait_s), "--noflush", "--counters"};
    if (std::string_view(writer) == kBigTest) o.argv.emplace_back("--test");
    o.stdin_data = payload_.text;
    o.netns_fd = ctx_.netns_fd;
    o.timeout_s = opts_.timeout_s;
    auto [r, trace] = spawner_->Run(o);
    if (r.term_signal != 0 && !r.timed_out && InterruptRequested()) {
      throw Interrupted{InterruptSignal()};
    }
    Call c;
    c.writer = writer;
    c.ended = !r.timed_out && r.term_signal == 0;
    c.wall_s = r.wall_s;
    c.incomplete = r.timed_out;
    c.outcome = contention::Classify(family_, Op::kRestore, r);
    c.payload_bytes = payload_.text.size();
    if (c.outcome != Outcome::kOk) c.error = r.Describe(restore_tool_);
    c.trace = std::move(trace);
    return c;
  }

  // Backends that commit in-process (nftables, iptc) or through their own spawn: the driver's
  // Sync, timed around the call. A netlink transaction cannot be abandoned, so its bound is
  // applied when it returns.
  Call DriverBigWrite() {
    Call c;
    c.writer = kBig;
    const auto t0 = Clock::now();
    try {
      const CommitStats s = env_.bed.driver().Sync(env_.set, payload_);
      c.retries = s.retries;
      c.payload_bytes = s.payload_bytes;
    } catch (const Interrupted&) {
      throw;
    } catch (const DriverTimeout& e) {
      c.incomplete = true;
      c.error = e.what();
    } catch (const std::exception& e) {
      const std::string what = e.what();
      c.outcome =
          what.find("xtables lock") != std::string::npos ? Outcome::kLockTimeout : Outcome::kFailed;
      c.error = what;
    }
    c.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    c.ended = true;
    if (c.wall_s > opts_.timeout_s && !c.incomplete) {
      c.incomplete = true;
      c.error = fmt::format("{} took {:.1f} s, over contention.timeout {} s", env_.backend,
                            c.wall_s, opts_.timeout_s);
    }
    return c;
  }

  // Setup and teardown of the agents' chains: untimed, untraced, and they must work.
  void Admin(const contention::Command& cmd, const char* what) {
    SpawnOptions o;
    o.argv = cmd.argv;
    o.stdin_data = cmd.stdin_data;
    o.netns_fd = ctx_.netns_fd;
    o.timeout_s = opts_.timeout_s;
    if (!ctx_.xtables_lockfile.empty()) o.extra_env = {"XTABLES_LOCKFILE=" + ctx_.xtables_lockfile};
    SpawnResult r;
    try {
      r = Spawn(o);
    } catch (const std::system_error& e) {
      throw DriverError(fmt::format("contention: {}", e.what()));
    }
    if (r.term_signal != 0 && InterruptRequested()) throw Interrupted{InterruptSignal()};
    if (!r.Ok()) {
      throw DriverError(
          fmt::format("contention: {} the agents' chains: {}", what, r.Describe(cmd.argv.front())));
    }
  }

  // Before any sample of the round is kept: every spawned call that ended left a trace (a tool
  // the library did not load into would silently drop out of lock_wait), and every lock taken
  // was the run's own.
  void Validate() const {
    for (const Call& c : calls_) {
      const bool spawned = c.writer != kBig || !restore_tool_.empty();
      if (spawned && c.ended && !c.trace) {
        throw DriverError(
            fmt::format("contention: a {} writer left no lock trace (did LD_PRELOAD of {} fail?)",
                        c.writer, LockTraceLibraryPath()));
      }
      if (c.trace && !c.trace->lock_path.empty() && c.trace->lock_path != expected_lock_) {
        throw DriverError(fmt::format("contention: a {} writer took the lock {}, not the run's {}",
                                      c.writer, c.trace->lock_path, expected_lock_));
      }
    }
  }

  // Turns the round's calls into samples and returns the progress line.
  std::string Account() {
    struct Tally {
      int calls = 0, timeouts = 0, failures = 0, incomplete = 0;
      std::vector<double> wait, hold;
      int retries_max = 0;
      int restarts_max = 0;
      std::string first_error;
    };
    Validate();
    std::map<std::string, Tally> tally;
    size_t big_bytes = 0;
    for (const Call& c : calls_) {
      Labels labels = {{"writer", c.writer}};
      if (!c.op.empty()) labels["op"] = c.op;
      Tally& t = tally[c.writer];
      ++t.calls;
      if (c.incomplete) {
        ++t.incomplete;
      } else if (c.outcome == Outcome::kLockTimeout) {
        ++t.timeouts;
      } else if (c.outcome == Outcome::kFailed) {
        ++t.failures;
      }
      if (!c.error.empty() && t.first_error.empty()) t.first_error = c.error;
      if (c.writer == kBig) big_bytes = std::max(big_bytes, c.payload_bytes);
      if (c.ended) series_.Add("contention.call.wall", "s", labels, c.wall_s);
      std::optional<int> retries = c.retries;
      if (c.trace) {
        const LockTrace& tr = *c.trace;
        if (const auto w = tr.WaitS()) {
          series_.Add("contention.lock_wait", "s", labels, *w);
          t.wait.push_back(*w);
        }
        if (const auto h = tr.HoldS()) {
          series_.Add("contention.lock_hold", "s", labels, *h);
          t.hold.push_back(*h);
        }
        if (tr.generations_read > 0) {
          series_.Add("contention.restarts", "count", labels, tr.Restarts());
          t.restarts_max = std::max(t.restarts_max, tr.Restarts());
        }
        if (tr.batches > 0) {
          series_.Add("contention.kernel_wait", "s", labels,
                      static_cast<double>(tr.batch_send_ns) / 1e9);
          retries = tr.Retries();
        }
      }
      if (retries) {
        series_.Add("contention.retries", "count", labels, *retries);
        t.retries_max = std::max(t.retries_max, *retries);
      }
    }
    for (const char* w : {kBig, kSmall}) {
      if (w == std::string_view(kSmall) && opts_.contenders == 0) continue;
      const Tally& t = tally[w];
      const Labels labels = {{"writer", w}};
      series_.Add("contention.calls", "count", labels, t.calls);
      series_.Add("contention.timeouts", "count", labels, t.timeouts);
      series_.Add("contention.failures", "count", labels, t.failures);
    }
    series_.Add("contention.big_incomplete", "count", {}, tally[kBig].incomplete);
    if (big_bytes > 0) {
      series_.Add("contention.big.payload.bytes", "bytes", {}, static_cast<double>(big_bytes));
    }

    const Tally& big = tally[kBig];
    std::string line = fmt::format("big {} writes {} incomplete {} timeouts {} failures", big.calls,
                                   big.incomplete, big.timeouts, big.failures);
    if (!big.hold.empty()) line += " hold p50 " + Fmt(Quantile(big.hold, 0.5));
    if (const auto test = tally.find(kBigTest); test != tally.end() && !test->second.hold.empty()) {
      line += " (--test " + Fmt(test->second.hold.front()) + ")";
    }
    if (big.retries_max > 0) line += fmt::format(" retries max {}", big.retries_max);
    if (big.restarts_max > 0) line += fmt::format(" restarts max {}", big.restarts_max);
    if (opts_.contenders > 0) {
      const Tally& small = tally[kSmall];
      line += fmt::format("; small {} calls {} timeouts {} failures", small.calls, small.timeouts,
                          small.failures);
      if (!small.wait.empty()) {
        line += fmt::format(" wait p99 {} max {}", Fmt(Quantile(small.wait, 0.99)),
                            Fmt(Quantile(small.wait, 1.0)));
      }
      if (!small.first_error.empty()) line += " first error: " + small.first_error;
    }
    if (!big.first_error.empty()) line += "; big: " + big.first_error;
    return line;
  }

  CellEnv env_;
  ContentionOptions opts_;
  Family family_ = Family::kXtablesLegacy;
  DriverContext ctx_;
  int wait_ = 5;  // the small writers' -w
  std::string expected_lock_;
  std::string restore_tool_;  // set when the big writer is spawned here (and traced)
  Payload payload_;
  std::unique_ptr<TracedSpawner> spawner_;
  std::mutex mu_;
  std::vector<Call> calls_;  // of the round in progress
  SeriesSet series_;
};

class ContentionMeasurement : public Measurement {
 public:
  explicit ContentionMeasurement(ContentionOptions opts) : opts_(std::move(opts)) {}
  std::string_view Name() const override { return "contention"; }
  std::string ErrorMetric() const override { return "contention.call.wall"; }
  uint32_t Rounds() const override { return opts_.repetitions; }
  nlohmann::json OptionsJson() const override {
    return {{"repetitions", opts_.repetitions},
            {"contenders", opts_.contenders},
            {"mix", opts_.mix},
            {"interval_ms", opts_.interval_ms},
            {"wait_s", opts_.wait_s.value_or(0)},
            {"duration_s", opts_.duration_s},
            {"timeout_s", opts_.timeout_s},
            {"table", opts_.table}};
  }
  std::unique_ptr<CellRun> Start(const CellEnv& env) override {
    return std::make_unique<ContentionCellRun>(env, opts_);
  }

 private:
  ContentionOptions opts_;
};

}  // namespace

std::unique_ptr<Measurement> MakeContentionMeasurement(const ContentionOptions& opts) {
  return std::make_unique<ContentionMeasurement>(opts);
}

}  // namespace svcbench
