// The pure half of the latency measurement: which probes a round makes and in what order, which
// service a position means, and how outcomes become rows (raw rtt, overhead over the floor,
// failures). No kernel here, so all of it is unit-tested; latency.cc does the probing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "harness/lab/prober.h"
#include "harness/result/result.h"
#include "harness/util/splitmix64.h"

namespace svcbench {

enum class ProbeKind : uint8_t { kTcpConnect, kUdp, kEstablished };
// kDirect: a backend address through the same node (no rule matches: the cost of a miss);
// kFloor: the same address through the reference lab's rule-less node.
enum class Position : uint8_t { kFirst, kMiddle, kLast, kRandom, kDirect, kFloor };

std::string_view ProbeKindName(ProbeKind k);  // "tcp-connect", "udp", "established"
std::string_view PositionName(Position p);    // "first", ..., "direct", "floor"
std::optional<ProbeKind> ParseProbeKind(std::string_view name);
std::optional<Position> ParsePosition(std::string_view name);

// One series of samples: a probe kind at a position (a row's labels).
struct Stream {
  ProbeKind probe = ProbeKind::kTcpConnect;
  Position position = Position::kFirst;
  bool operator==(const Stream&) const = default;
};

// Every (probe, position) pair, probes outermost, in the order given.
std::vector<Stream> MakeStreams(const std::vector<ProbeKind>& probes,
                                const std::vector<Position>& positions);

struct PlannedProbe {
  uint32_t stream = 0;  // index into the streams
  bool warmup = false;  // discarded
};

// Round `round` of `rounds`: `warmup` warm-up probes (streams in turn, shuffled), then each
// stream's share of `samples` (samples / rounds; the first samples % rounds rounds take one more)
// in one random order, so drift during the round hits every stream alike. Deterministic in
// (seed, round): every backend gets the same order.
std::vector<PlannedProbe> PlanRound(size_t streams, uint32_t samples, uint32_t warmup,
                                    uint32_t rounds, uint32_t round, uint64_t seed);

// The index into ServiceSet::ports that a position probes: first 0, middle ports / 2,
// last ports - 1 (ServiceSet::ports is KUBE-SERVICES order), random uniform from rng.
// Not for kDirect / kFloor, which probe a backend address.
size_t PortIndexOf(Position p, size_t ports, SplitMix64& rng);

// Samples and failures of one cell, turned into rows.
class LatencyBook {
 public:
  explicit LatencyBook(std::vector<Stream> streams);

  const std::vector<Stream>& streams() const { return streams_; }
  // A measured probe's outcome: its rtt, or one failure of its kind.
  void Record(uint32_t stream, const TimedProbe& outcome);
  void CountFlush() { ++flushes_; }

  const std::vector<double>& Rtt(uint32_t stream) const { return rtt_[stream]; }
  uint64_t Failures(uint32_t stream) const;

  // latency.rtt for every stream (n may be 0); latency.overhead for every stream but the
  // floor, when the same probe kind has floor samples: each sample minus the median of all
  // floor samples of that kind; latency.failures per stream and reason, only where non-zero;
  // latency.conntrack.flushes.
  std::vector<ResultRow> Rows() const;

 private:
  std::vector<Stream> streams_;
  std::vector<std::vector<double>> rtt_;
  std::vector<std::array<uint64_t, kProbeFailureKinds>> failures_;
  uint64_t flushes_ = 0;
};

}  // namespace svcbench
