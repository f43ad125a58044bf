#include "harness/measure/latency_samples.h"

#include <stdexcept>
#include <string>

#include "harness/analysis/stats.h"

namespace svcbench {
namespace {

constexpr ProbeKind kProbeKinds[] = {ProbeKind::kTcpConnect, ProbeKind::kUdp,
                                     ProbeKind::kEstablished};
constexpr Position kPositions[] = {Position::kFirst,  Position::kMiddle, Position::kLast,
                                   Position::kRandom, Position::kDirect, Position::kFloor};

template <typename T>
void Shuffle(std::vector<T>& v, SplitMix64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.Below(i)]);
}

ResultRow Row(std::string metric, std::string unit, std::map<std::string, std::string> labels,
              std::vector<double> samples) {
  ResultRow r;
  r.metric = std::move(metric);
  r.unit = std::move(unit);
  r.labels = std::move(labels);
  r.samples = std::move(samples);
  return r;
}

}  // namespace

std::string_view ProbeKindName(ProbeKind k) {
  switch (k) {
    case ProbeKind::kTcpConnect:
      return "tcp-connect";
    case ProbeKind::kUdp:
      return "udp";
    case ProbeKind::kEstablished:
      return "established";
  }
  return "unknown";
}

std::string_view PositionName(Position p) {
  switch (p) {
    case Position::kFirst:
      return "first";
    case Position::kMiddle:
      return "middle";
    case Position::kLast:
      return "last";
    case Position::kRandom:
      return "random";
    case Position::kDirect:
      return "direct";
    case Position::kFloor:
      return "floor";
  }
  return "unknown";
}

std::optional<ProbeKind> ParseProbeKind(std::string_view name) {
  for (const ProbeKind k : kProbeKinds) {
    if (ProbeKindName(k) == name) return k;
  }
  return std::nullopt;
}

std::optional<Position> ParsePosition(std::string_view name) {
  for (const Position p : kPositions) {
    if (PositionName(p) == name) return p;
  }
  return std::nullopt;
}

std::vector<Stream> MakeStreams(const std::vector<ProbeKind>& probes,
                                const std::vector<Position>& positions) {
  std::vector<Stream> out;
  for (const ProbeKind k : probes) {
    for (const Position p : positions) out.push_back({k, p});
  }
  return out;
}

std::vector<PlannedProbe> PlanRound(size_t streams, uint32_t samples, uint32_t warmup,
                                    uint32_t rounds, uint32_t round, uint64_t seed) {
  std::vector<PlannedProbe> plan;
  if (streams == 0 || rounds == 0) return plan;
  // Distinct per round, the same for every backend.
  SplitMix64 rng(seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t{round} + 1)));
  std::vector<PlannedProbe> warm;
  for (uint32_t i = 0; i < warmup; ++i) {
    warm.push_back({static_cast<uint32_t>(i % streams), true});
  }
  Shuffle(warm, rng);
  const uint32_t share = samples / rounds + (round < samples % rounds ? 1 : 0);
  std::vector<PlannedProbe> measured;
  measured.reserve(share * streams);
  for (uint32_t s = 0; s < streams; ++s) {
    for (uint32_t i = 0; i < share; ++i) measured.push_back({s, false});
  }
  Shuffle(measured, rng);
  plan = std::move(warm);
  plan.insert(plan.end(), measured.begin(), measured.end());
  return plan;
}

size_t PortIndexOf(Position p, size_t ports, SplitMix64& rng) {
  if (ports == 0) throw std::invalid_argument("PortIndexOf: no service ports");
  switch (p) {
    case Position::kFirst:
      return 0;
    case Position::kMiddle:
      return ports / 2;
    case Position::kLast:
      return ports - 1;
    case Position::kRandom:
      return rng.Below(ports);
    case Position::kDirect:
    case Position::kFloor:
      break;
  }
  throw std::invalid_argument("PortIndexOf: direct and floor probe a backend address");
}

LatencyBook::LatencyBook(std::vector<Stream> streams)
    : streams_(std::move(streams)), rtt_(streams_.size()), failures_(streams_.size()) {}

void LatencyBook::Record(uint32_t stream, const TimedProbe& outcome) {
  if (outcome.failure == ProbeFailure::kNone) {
    rtt_.at(stream).push_back(outcome.rtt_s);
  } else {
    ++failures_.at(stream)[static_cast<size_t>(outcome.failure)];
  }
}

uint64_t LatencyBook::Failures(uint32_t stream) const {
  uint64_t total = 0;
  for (const uint64_t n : failures_.at(stream)) total += n;
  return total;
}

std::vector<ResultRow> LatencyBook::Rows() const {
  std::vector<ResultRow> rows;
  auto labels = [](const Stream& s) {
    return std::map<std::string, std::string>{{"probe", std::string(ProbeKindName(s.probe))},
                                              {"position", std::string(PositionName(s.position))}};
  };
  for (size_t i = 0; i < streams_.size(); ++i) {
    rows.push_back(Row("latency.rtt", "s", labels(streams_[i]), rtt_[i]));
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    const Stream& s = streams_[i];
    if (s.position == Position::kFloor) continue;
    std::vector<double> floor;
    for (size_t j = 0; j < streams_.size(); ++j) {
      if (streams_[j].probe == s.probe && streams_[j].position == Position::kFloor) {
        floor.insert(floor.end(), rtt_[j].begin(), rtt_[j].end());
      }
    }
    if (floor.empty()) continue;
    const double base = Quantile(std::move(floor), 0.5);
    std::vector<double> overhead;
    overhead.reserve(rtt_[i].size());
    for (const double x : rtt_[i]) overhead.push_back(x - base);
    rows.push_back(Row("latency.overhead", "s", labels(s), std::move(overhead)));
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    for (size_t f = 0; f < kProbeFailureKinds; ++f) {
      if (failures_[i][f] == 0) continue;
      auto l = labels(streams_[i]);
      l["reason"] = std::string(ProbeFailureName(static_cast<ProbeFailure>(f)));
      rows.push_back(
          Row("latency.failures", "count", std::move(l), {static_cast<double>(failures_[i][f])}));
    }
  }
  rows.push_back(Row("latency.conntrack.flushes", "count", {}, {static_cast<double>(flushes_)}));
  return rows;
}

}  // namespace svcbench
