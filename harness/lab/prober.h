// Timed probes through the node, for the latency and throughput measurements.
//
// Everything here runs on a thread that is inside the client's namespace (an NsWorker job):
// sockets are made where the thread is. Only the part a probe kind is about is timed, with
// CLOCK_MONOTONIC (steady_clock, a vDSO call); socket creation, bind and the endpoint check
// are outside the timed region. See docs/metrics.md (latency) for what each probe times.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "harness/lab/probe.h"
#include "harness/model/service_set.h"
#include "harness/util/unique_fd.h"

namespace svcbench {

// Why a probe has no sample. kWrongEndpoint is the caller's verdict on a valid answer.
enum class ProbeFailure : uint8_t {
  kNone,
  kTimeout,        // nothing within the timeout (no SYN-ACK, no reply)
  kRefused,        // RST or ICMP port unreachable
  kUnreachable,    // ICMP host/network unreachable: e.g. no rule and no route for a VIP
  kNoAnswer,       // connected, but the 6-byte answer did not come
  kWrongEndpoint,  // answered by an endpoint that is not one of the target's own
  kError,          // any other errno (named in the error, not in the sample)
};
std::string_view ProbeFailureName(ProbeFailure f);  // "timeout", "refused", ...

struct TimedProbe {
  double rtt_s = 0;  // valid when failure == kNone
  ProbeFailure failure = ProbeFailure::kNone;
  ProbeAnswer answer;  // who answered (tcp-connect, udp)
};

// Source ports handed out in order, so that within one pass over the range every probe is a
// 4-tuple the node's conntrack table has not seen since it was last flushed: a reused tuple
// would hit an old entry and skip the NAT rules the probe is meant to time.
class SourcePorts {
 public:
  static constexpr uint16_t kFirst = 10000;
  static constexpr uint16_t kLast = 60999;

  // Next port, or 0 when the pass is used up (then flush conntrack and Reset()).
  uint16_t Next() { return next_ > kLast ? 0 : next_++; }
  size_t Left() const { return next_ > kLast ? 0 : size_t{kLast} - next_ + 1; }
  void Reset() { next_ = kFirst; }

 private:
  uint32_t next_ = kFirst;
};

// A TCP connection kept open for echo probes, and the endpoint that accepted it.
struct KeptConnection {
  UniqueFd fd;
  ProbeAnswer endpoint;
};

// tcp-connect: a blocking connect() from a fresh socket bound to the next source port, timed
// from just before connect() to its return (SYN out, SYN-ACK in: the whole NAT path, a new
// conntrack entry); then, untimed, the listener's 6-byte answer is read and the socket is closed
// with SO_LINGER 0 (an RST: no TIME_WAIT on either side).
TimedProbe TimeTcpConnect(Ipv4 ip, uint16_t port, SourcePorts& ports, double timeout_s);

// udp: from a fresh socket bound to the next source port and connected (no packet), timed from
// just before send() of one byte to the return of recv() with the 6-byte answer.
TimedProbe TimeUdp(Ipv4 ip, uint16_t port, SourcePorts& ports, double timeout_s);

// Opens a connection for echo probes (untimed) and reads its 6-byte answer; nullopt and *why
// when that fails.
std::optional<KeptConnection> OpenKept(Ipv4 ip, uint16_t port, SourcePorts& ports, double timeout_s,
                                       ProbeFailure* why);

// established: one byte sent on a kept connection and echoed back, timed from just before send()
// to the return of recv(). `answer` of the result is the connection's endpoint.
TimedProbe TimeEcho(KeptConnection& conn, double timeout_s);

inline constexpr size_t kProbeFailureKinds = 7;

// New connections per second at a fixed concurrency: `concurrency` non-blocking connects to
// next_target() are kept outstanding (epoll); a completed handshake is counted and closed with
// an RST at once (its answer is not read), and a new connect takes its place.
//
// The window opens (at_start, then the clock) just before the first connects are issued, and
// closes (the clock, then at_stop) at the first look at the clock after `duration_s`, after
// `max_connections`, when the source ports run out, or on an interrupt request. Completions
// seen before it closes are counted; connects still outstanding then are closed uncounted.
struct ConnectStormOptions {
  int concurrency = 8;
  double duration_s = 1;
  uint64_t max_connections = 0;  // 0: no cap
  double timeout_s = 1;          // a connect outstanding longer counts as kTimeout
};
struct ConnectStormResult {
  uint64_t connections = 0;
  double elapsed_s = 0;
  std::array<uint64_t, kProbeFailureKinds> failures{};  // indexed by ProbeFailure
};
ConnectStormResult ConnectStorm(const ConnectStormOptions& opts,
                                const std::function<std::pair<Ipv4, uint16_t>()>& next_target,
                                SourcePorts& ports, const std::function<void()>& at_start,
                                const std::function<void()>& at_stop);

}  // namespace svcbench
