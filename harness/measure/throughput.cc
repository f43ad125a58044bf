#include "harness/measure/throughput.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/analysis/stats.h"
#include "harness/lab/conntrack.h"
#include "harness/lab/lab.h"
#include "harness/lab/ns_worker.h"
#include "harness/lab/prober.h"
#include "harness/measure/probe_pinning.h"
#include "harness/util/interrupt.h"
#include "harness/util/proc_stat.h"
#include "harness/util/splitmix64.h"

namespace svcbench {
namespace {

// Where a window's connections go: service VIPs through the node under test, or a backend
// address through the reference lab's rule-less node (the floor).
enum Path : size_t { kServices = 0, kFloor = 1, kPaths = 2 };
constexpr std::array<const char*, kPaths> kPathNames = {"services", "floor"};

struct PathSamples {
  std::vector<double> cps;
  std::vector<double> process_cpu;  // per connection
  std::vector<double> softirq_cpu;  // per connection
  std::array<uint64_t, kProbeFailureKinds> failures{};
};

class ThroughputCellRun : public CellRun {
 public:
  ThroughputCellRun(const CellEnv& env, const ThroughputOptions& opts, uint64_t seed)
      : env_(env), opts_(opts), rng_(seed ^ 0x7e0a9b5dULL) {
    lab_ = env_.bed.lab();
    if (lab_ == nullptr) throw std::runtime_error("throughput needs a lab (network namespaces)");
    if (env_.set.ports.empty() || env_.set.ports.front().endpoints.empty()) {
      throw std::runtime_error("throughput needs a service with an endpoint");
    }
    env_.bed.EnsureSynced(env_.set);
    ref_ = env_.bed.reference_lab();
    node_ct_ = std::make_unique<Conntrack>(lab_->NodeFd(), lab_->NodeNs());
    if (ref_ != nullptr) ref_ct_ = std::make_unique<Conntrack>(ref_->NodeFd(), ref_->NodeNs());
  }

  std::string Round(uint32_t round) override {
    const ProbePinning pinning(opts_.pin, worker_, {lab_, ref_});
    std::string summary;
    // The two windows alternate which goes first, so drift hits both alike.
    for (size_t k = 0; k < kPaths; ++k) {
      const Path path = static_cast<Path>((k + round) % kPaths);
      if (path == kFloor && ref_ == nullptr) continue;
      const ConnectStormResult r = Window(path);
      ThrowIfInterrupted();
      summary +=
          fmt::format("{}{} {:.0f}/s", summary.empty() ? "" : ", ", kPathNames[path],
                      r.elapsed_s > 0 ? static_cast<double>(r.connections) / r.elapsed_s : 0.0);
    }
    return summary;
  }

  std::vector<ResultRow> Rows() const override {
    std::vector<ResultRow> rows;
    auto add = [&](std::string metric, std::string unit, std::map<std::string, std::string> labels,
                   std::vector<double> samples) {
      ResultRow r;
      r.metric = std::move(metric);
      r.unit = std::move(unit);
      r.labels = std::move(labels);
      r.samples = std::move(samples);
      rows.push_back(std::move(r));
    };
    const std::string concurrency = std::to_string(opts_.concurrency);
    for (size_t p = 0; p < kPaths; ++p) {
      const PathSamples& s = samples_[p];
      if (p == kFloor && ref_ == nullptr) continue;
      add("throughput.connections_per_s", "1/s",
          {{"concurrency", concurrency}, {"path", kPathNames[p]}}, s.cps);
      add("throughput.cpu_per_connection", "s",
          {{"concurrency", concurrency}, {"path", kPathNames[p]}, {"cpu", "process"}},
          s.process_cpu);
      add("throughput.cpu_per_connection", "s",
          {{"concurrency", concurrency}, {"path", kPathNames[p]}, {"cpu", "softirq"}},
          s.softirq_cpu);
      for (size_t f = 0; f < kProbeFailureKinds; ++f) {
        if (s.failures[f] == 0) continue;
        add("throughput.failures", "count",
            {{"concurrency", concurrency},
             {"path", kPathNames[p]},
             {"reason", std::string(ProbeFailureName(static_cast<ProbeFailure>(f)))}},
            {static_cast<double>(s.failures[f])});
      }
    }
    if (!samples_[kFloor].process_cpu.empty()) {
      const double floor = Quantile(samples_[kFloor].process_cpu, 0.5);
      std::vector<double> overhead;
      for (const double x : samples_[kServices].process_cpu) overhead.push_back(x - floor);
      add("throughput.cpu_overhead_per_connection", "s", {{"concurrency", concurrency}},
          std::move(overhead));
    }
    return rows;
  }

 private:
  // One window of duration / rounds along `path`, from an empty conntrack table and a fresh
  // pass of source ports; it ends early before either could run out (each connection leaves an
  // entry, in CLOSE for 10 s, and uses a port).
  ConnectStormResult Window(Path path) {
    node_ct_->Flush();
    if (ref_ct_) ref_ct_->Flush();
    ports_.Reset();
    uint64_t cap = ports_.Left() - std::min<size_t>(ports_.Left(), opts_.concurrency);
    for (Conntrack* ct : {node_ct_.get(), ref_ct_.get()}) {
      if (ct == nullptr) continue;
      const Conntrack::Stats stats = ct->GetStats();
      if (stats.max != 0) cap = std::min<uint64_t>(cap, stats.max / 2);
    }
    ConnectStormOptions storm;
    storm.concurrency = static_cast<int>(opts_.concurrency);
    storm.duration_s = opts_.duration_s / opts_.rounds;
    storm.max_connections = cap;
    storm.timeout_s = opts_.timeout_s;

    const auto& ports = env_.set.ports;
    const Endpoint& direct = ports.front().endpoints.front();
    std::function<std::pair<Ipv4, uint16_t>()> target;
    if (path == kServices) {
      target = [&] {
        const ServicePort& sp = ports[rng_.Below(ports.size())];
        return std::pair{sp.vip, sp.port};
      };
    } else {
      target = [&] { return std::pair{direct.ip, direct.port}; };
    }
    CpuTimes machine0, machine1;
    double process0 = 0, process1 = 0;
    ConnectStormResult r;
    worker_.Run([&] {
      worker_.Enter(path == kServices ? lab_->ClientFd() : ref_->ClientFd());
      r = ConnectStorm(
          storm, target, ports_,
          [&] {
            machine0 = ReadProcStat();
            process0 = ProcessCpuSeconds();
          },
          [&] {
            process1 = ProcessCpuSeconds();
            machine1 = ReadProcStat();
          });
    });

    PathSamples& s = samples_[path];
    s.cps.push_back(r.elapsed_s > 0 ? static_cast<double>(r.connections) / r.elapsed_s : 0);
    if (r.connections > 0) {
      const auto n = static_cast<double>(r.connections);
      s.process_cpu.push_back((process1 - process0) / n);
      s.softirq_cpu.push_back((machine1.softirq_s - machine0.softirq_s) / n);
    }
    for (size_t f = 0; f < kProbeFailureKinds; ++f) s.failures[f] += r.failures[f];
    return r;
  }

  CellEnv env_;
  const ThroughputOptions opts_;
  SplitMix64 rng_;  // targets, uniform over service ports; the same sequence for every backend
  Lab* lab_ = nullptr;
  Lab* ref_ = nullptr;
  std::unique_ptr<Conntrack> node_ct_;
  std::unique_ptr<Conntrack> ref_ct_;
  SourcePorts ports_;
  std::array<PathSamples, kPaths> samples_;
  NsWorker worker_;  // last: joined before the rest goes
};

class ThroughputMeasurement : public Measurement {
 public:
  ThroughputMeasurement(ThroughputOptions opts, uint64_t seed) : opts_(opts), seed_(seed) {}
  std::string_view Name() const override { return "throughput"; }
  std::string ErrorMetric() const override { return "throughput.connections_per_s"; }
  uint32_t Rounds() const override { return opts_.rounds; }
  nlohmann::json OptionsJson() const override {
    return {{"concurrency", opts_.concurrency},
            {"duration_s", opts_.duration_s},
            {"rounds", opts_.rounds},
            {"timeout_s", opts_.timeout_s},
            {"pin", opts_.pin}};
  }
  std::unique_ptr<CellRun> Start(const CellEnv& env) override {
    return std::make_unique<ThroughputCellRun>(env, opts_, seed_);
  }

 private:
  ThroughputOptions opts_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Measurement> MakeThroughputMeasurement(const ThroughputOptions& opts,
                                                       uint64_t seed) {
  return std::make_unique<ThroughputMeasurement>(opts, seed);
}

}  // namespace svcbench
