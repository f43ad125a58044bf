#include "harness/measure/latency.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/analysis/stats.h"
#include "harness/lab/conntrack.h"
#include "harness/lab/lab.h"
#include "harness/lab/ns_worker.h"
#include "harness/lab/prober.h"
#include "harness/measure/latency_samples.h"
#include "harness/measure/probe_pinning.h"
#include "harness/report/summary_markdown.h"
#include "harness/util/interrupt.h"

namespace svcbench {
namespace {

// Probes between two looks at the node's conntrack table.
constexpr size_t kChunk = 4096;

// Where one probe goes, and who may answer it.
struct Target {
  int netns_fd = -1;  // the client namespace to probe from
  Ipv4 ip = 0;
  uint16_t port = 0;
  // The service's endpoints; nullptr: a backend address, which must answer as itself.
  const std::vector<Endpoint>* endpoints = nullptr;
};

bool AnsweredByOwnEndpoint(const Target& t, const ProbeAnswer& a) {
  if (t.endpoints == nullptr) return a.ip == t.ip && a.port == t.port;
  return std::any_of(t.endpoints->begin(), t.endpoints->end(),
                     [&](const Endpoint& ep) { return ep.ip == a.ip && ep.port == a.port; });
}

// A kept connection of an `established` stream, reopened when it is lost.
struct KeptSlot {
  Target target;
  std::optional<KeptConnection> conn;
  ProbeFailure why = ProbeFailure::kNone;  // of the last failed open
};

class LatencyCellRun : public CellRun {
 public:
  LatencyCellRun(const CellEnv& env, const LatencyOptions& opts, uint64_t seed)
      : env_(env), opts_(opts), seed_(seed), rng_(seed ^ 0x1a7e9c11ULL), book_(Streams()) {
    lab_ = env_.bed.lab();
    if (lab_ == nullptr) throw std::runtime_error("latency needs a lab (network namespaces)");
    if (env_.set.ports.empty() || env_.set.ports.front().endpoints.empty()) {
      throw std::runtime_error("latency needs a service with an endpoint");
    }
    env_.bed.EnsureSynced(env_.set);
    ref_ = env_.bed.reference_lab();
    node_ct_ = std::make_unique<Conntrack>(lab_->NodeFd(), lab_->NodeNs());
    if (ref_ != nullptr) ref_ct_ = std::make_unique<Conntrack>(ref_->NodeFd(), ref_->NodeNs());
    const Endpoint& direct = env_.set.ports.front().endpoints.front();
    direct_ = {lab_->ClientFd(), direct.ip, direct.port, nullptr};
    if (ref_ != nullptr) floor_ = {ref_->ClientFd(), direct.ip, direct.port, nullptr};
    kept_.resize(book_.streams().size());
  }

  ~LatencyCellRun() override { CloseKept(); }

  std::string Round(uint32_t round) override {
    const ProbePinning pinning(opts_.pin, worker_, {lab_, ref_});
    const std::vector<PlannedProbe> plan =
        PlanRound(book_.streams().size(), opts_.samples, opts_.warmup, opts_.rounds, round, seed_);
    // Every round starts from an empty table, whatever ran in between.
    StartBatch();
    for (size_t begin = 0; begin < plan.size(); begin += kChunk) {
      const size_t end = std::min(plan.size(), begin + kChunk);
      if (begin > 0 && NeedsFlush(end - begin)) StartBatch();
      worker_.Run([&] {
        for (size_t i = begin; i < end && !InterruptRequested(); ++i) Probe(plan[i]);
      });
      ThrowIfInterrupted();
    }
    CloseKept();
    return Progress();
  }

  std::vector<ResultRow> Rows() const override { return book_.Rows(); }

 private:
  std::vector<Stream> Streams() const {
    std::vector<ProbeKind> probes;
    for (const auto& name : opts_.probes) probes.push_back(ParseProbeKind(name).value());
    std::vector<Position> positions;
    for (const auto& name : opts_.positions) positions.push_back(ParsePosition(name).value());
    // The floor is probed whenever there is a reference lab; the unit tests' fake testbeds
    // have none, and then no overhead can be computed.
    if (env_.bed.lab() != nullptr) positions.push_back(Position::kFloor);
    return MakeStreams(probes, positions);
  }

  Target ServiceTarget(Position p) {
    const ServicePort& sp = env_.set.ports[PortIndexOf(p, env_.set.ports.size(), rng_)];
    return {lab_->ClientFd(), sp.vip, sp.port, &sp.endpoints};
  }

  Target TargetOf(Position p) {
    if (p == Position::kDirect) return direct_;
    if (p == Position::kFloor) return floor_;
    return ServiceTarget(p);
  }

  // Closes kept connections, flushes the conntrack tables, restarts the source ports and
  // reopens the kept connections: a flushed entry would make a kept connection's next packet
  // look new to the node (and be NATed again), so they never outlive a flush.
  void StartBatch() {
    CloseKept();
    node_ct_->Flush();
    if (ref_ct_) ref_ct_->Flush();
    book_.CountFlush();
    ports_.Reset();
    for (size_t s = 0; s < book_.streams().size(); ++s) {
      const Stream& stream = book_.streams()[s];
      if (stream.probe != ProbeKind::kEstablished) continue;
      if (stream.position == Position::kFloor && ref_ == nullptr) continue;
      // One connection per stream; for `random` to a service drawn anew for every batch. A pool
      // of connections drawn per sample would add the cost of cycling through their sockets'
      // cache lines, which the other positions do not pay, and the established path does not
      // look at the service rules at all.
      kept_[s].push_back(KeptSlot{TargetOf(stream.position), {}, ProbeFailure::kNone});
    }
    worker_.Run([&] {
      for (auto& slots : kept_) {
        for (KeptSlot& slot : slots) Open(slot);
      }
    });
  }

  size_t KeptCount() const {
    size_t n = 0;
    for (const auto& slots : kept_) n += slots.size();
    return n;
  }

  // Before a chunk of `probes`: would it take the table past half its limit, or use up the
  // source ports of this pass?
  bool NeedsFlush(size_t probes) {
    const size_t needed = probes + KeptCount();
    const Conntrack::Stats node = node_ct_->GetStats();
    const Conntrack::Stats ref = ref_ct_ ? ref_ct_->GetStats() : Conntrack::Stats{};
    auto near_full = [&](const Conntrack::Stats& s) {
      return s.max != 0 && s.entries + needed > s.max / 2;
    };
    return near_full(node) || near_full(ref) || ports_.Left() < needed;
  }

  void CloseKept() {
    for (auto& slots : kept_) slots.clear();  // SO_LINGER 0: each sends an RST
  }

  // On the worker.
  void Open(KeptSlot& slot) {
    worker_.Enter(slot.target.netns_fd);
    slot.conn = OpenKept(slot.target.ip, slot.target.port, ports_, opts_.timeout_s, &slot.why);
  }

  // On the worker: one probe of the plan, recorded unless it is a warm-up probe.
  void Probe(const PlannedProbe& p) {
    const Stream& stream = book_.streams()[p.stream];
    TimedProbe outcome;
    if (stream.position == Position::kFloor && ref_ == nullptr) return;
    if (stream.probe == ProbeKind::kEstablished) {
      KeptSlot& slot = kept_[p.stream].front();
      if (!slot.conn) Open(slot);  // untimed; lost on an earlier failure
      if (!slot.conn) {
        outcome.failure = slot.why;
      } else {
        outcome = TimeEcho(*slot.conn, opts_.timeout_s);
        if (outcome.failure != ProbeFailure::kNone) slot.conn.reset();
      }
      if (outcome.failure == ProbeFailure::kNone &&
          !AnsweredByOwnEndpoint(slot.target, outcome.answer)) {
        outcome.failure = ProbeFailure::kWrongEndpoint;
      }
    } else {
      const Target t = TargetOf(stream.position);
      worker_.Enter(t.netns_fd);
      outcome = stream.probe == ProbeKind::kUdp
                    ? TimeUdp(t.ip, t.port, ports_, opts_.timeout_s)
                    : TimeTcpConnect(t.ip, t.port, ports_, opts_.timeout_s);
      if (outcome.failure == ProbeFailure::kNone && !AnsweredByOwnEndpoint(t, outcome.answer)) {
        outcome.failure = ProbeFailure::kWrongEndpoint;
      }
    }
    if (!p.warmup) book_.Record(p.stream, outcome);
  }

  // "tcp-connect p50 first 52.1 µs last 180 µs floor 35 µs" per probe kind, over the cell so far.
  std::string Progress() const {
    std::string out;
    for (const auto& probe : opts_.probes) {
      out += fmt::format("{}{} p50", out.empty() ? "" : "; ", probe);
      uint64_t failures = 0;
      for (uint32_t s = 0; s < book_.streams().size(); ++s) {
        const Stream& stream = book_.streams()[s];
        if (ProbeKindName(stream.probe) != probe) continue;
        failures += book_.Failures(s);
        out += fmt::format(" {} {}", PositionName(stream.position),
                           FormatValue(Quantile(book_.Rtt(s), 0.5), "s"));
      }
      if (failures != 0) out += fmt::format(" ({} failed)", failures);
    }
    return out;
  }

  CellEnv env_;
  const LatencyOptions opts_;
  const uint64_t seed_;
  SplitMix64 rng_;  // random positions; the same sequence for every backend
  LatencyBook book_;
  Lab* lab_ = nullptr;
  Lab* ref_ = nullptr;
  Target direct_;
  Target floor_;
  std::unique_ptr<Conntrack> node_ct_;
  std::unique_ptr<Conntrack> ref_ct_;
  SourcePorts ports_;
  std::vector<std::vector<KeptSlot>> kept_;  // by stream: one for each `established` stream
  NsWorker worker_;                          // last: joined before the rest goes
};

class LatencyMeasurement : public Measurement {
 public:
  LatencyMeasurement(LatencyOptions opts, uint64_t seed) : opts_(std::move(opts)), seed_(seed) {}
  std::string_view Name() const override { return "latency"; }
  std::string ErrorMetric() const override { return "latency.rtt"; }
  uint32_t Rounds() const override { return opts_.rounds; }
  nlohmann::json OptionsJson() const override {
    return {{"probes", opts_.probes},   {"positions", opts_.positions},
            {"samples", opts_.samples}, {"warmup", opts_.warmup},
            {"rounds", opts_.rounds},   {"timeout_s", opts_.timeout_s},
            {"pin", opts_.pin}};
  }
  std::unique_ptr<CellRun> Start(const CellEnv& env) override {
    return std::make_unique<LatencyCellRun>(env, opts_, seed_);
  }

 private:
  LatencyOptions opts_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Measurement> MakeLatencyMeasurement(const LatencyOptions& opts, uint64_t seed) {
  return std::make_unique<LatencyMeasurement>(opts, seed);
}

}  // namespace svcbench
