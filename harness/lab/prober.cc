#include "harness/lab/prober.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "harness/lab/sys_error.h"
#include "harness/util/interrupt.h"

namespace svcbench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

sockaddr_in SockAddr(Ipv4 ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(ip);
  addr.sin_port = htons(port);
  return addr;
}

ProbeFailure FailureOf(int err) {
  switch (err) {
    case EINPROGRESS:  // a blocking connect whose SO_SNDTIMEO ran out
    case EAGAIN:       // a recv whose SO_RCVTIMEO ran out
    case ETIMEDOUT:
      return ProbeFailure::kTimeout;
    case ECONNREFUSED:
    case ECONNRESET:
      return ProbeFailure::kRefused;
    case ENETUNREACH:
    case EHOSTUNREACH:
      return ProbeFailure::kUnreachable;
    default:
      return ProbeFailure::kError;
  }
}

void SetOption(int fd, int level, int name, const void* value, socklen_t len, const char* what) {
  if (::setsockopt(fd, level, name, value, len) != 0)
    ThrowErrno(fmt::format("setsockopt({})", what));
}

timeval Timeval(double seconds) {
  timeval tv{};
  const double whole = std::floor(seconds);
  tv.tv_sec = static_cast<time_t>(whole);
  tv.tv_usec = static_cast<suseconds_t>((seconds - whole) * 1e6);
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1;  // 0 would mean "wait forever"
  return tv;
}

// A socket of `type` bound to the next free source port. TCP sockets close with an RST
// (SO_LINGER 0), so neither side keeps TIME_WAIT state; timeouts bound every blocking call.
// Throws when the system refuses a socket or the source ports are used up: that is the
// harness's problem, not a failed probe.
UniqueFd BoundSocket(int type, SourcePorts& ports, double timeout_s) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd.Valid()) ThrowErrno("socket() for a probe");
  if ((type & SOCK_STREAM) != 0) {
    const linger rst{1, 0};
    SetOption(fd.Get(), SOL_SOCKET, SO_LINGER, &rst, sizeof(rst), "SO_LINGER 0");
    const int on = 1;
    SetOption(fd.Get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on), "TCP_NODELAY");
  } else {
    // ICMP network/host unreachable is not reported to a UDP socket without it.
    const int on = 1;
    SetOption(fd.Get(), IPPROTO_IP, IP_RECVERR, &on, sizeof(on), "IP_RECVERR");
  }
  if (timeout_s > 0) {
    const timeval tv = Timeval(timeout_s);
    SetOption(fd.Get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv), "SO_SNDTIMEO");
    SetOption(fd.Get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv), "SO_RCVTIMEO");
  }
  for (;;) {
    const uint16_t port = ports.Next();
    if (port == 0) throw std::runtime_error("probe source ports used up without a reset");
    const sockaddr_in src = SockAddr(INADDR_ANY, port);
    if (::bind(fd.Get(), reinterpret_cast<const sockaddr*>(&src), sizeof(src)) == 0) return fd;
    // A kept connection may still hold it; the next one will do.
    if (errno != EADDRINUSE) ThrowErrno(fmt::format("bind(0.0.0.0:{}) for a probe", port));
  }
}

// Reads the listener's 6-byte answer on a blocking socket with SO_RCVTIMEO.
std::optional<ProbeAnswer> ReadAnswer(int fd) {
  std::array<unsigned char, 6> buf{};
  size_t have = 0;
  while (have < buf.size()) {
    const ssize_t n = ::recv(fd, buf.data() + have, buf.size() - have, 0);
    if (n < 0 && errno == EINTR && !InterruptRequested()) continue;
    if (n <= 0) return std::nullopt;
    have += static_cast<size_t>(n);
  }
  uint32_t ip_be = 0;
  uint16_t port_be = 0;
  std::memcpy(&ip_be, buf.data(), 4);
  std::memcpy(&port_be, buf.data() + 4, 2);
  return ProbeAnswer{ntohl(ip_be), ntohs(port_be)};
}

}  // namespace

std::string_view ProbeFailureName(ProbeFailure f) {
  switch (f) {
    case ProbeFailure::kNone:
      return "none";
    case ProbeFailure::kTimeout:
      return "timeout";
    case ProbeFailure::kRefused:
      return "refused";
    case ProbeFailure::kUnreachable:
      return "unreachable";
    case ProbeFailure::kNoAnswer:
      return "no-answer";
    case ProbeFailure::kWrongEndpoint:
      return "wrong-endpoint";
    case ProbeFailure::kError:
      return "error";
  }
  return "unknown";
}

TimedProbe TimeTcpConnect(Ipv4 ip, uint16_t port, SourcePorts& ports, double timeout_s) {
  TimedProbe out;
  UniqueFd sock = BoundSocket(SOCK_STREAM, ports, timeout_s);
  const sockaddr_in dst = SockAddr(ip, port);
  const auto t0 = Clock::now();
  const int rc = ::connect(sock.Get(), reinterpret_cast<const sockaddr*>(&dst), sizeof(dst));
  const auto t1 = Clock::now();
  if (rc != 0) {
    int err = errno;
    // An ICMP error that arrived while connect() held the socket is only a soft error: the
    // connect waits on until its timeout. SO_ERROR still tells why.
    int soft = 0;
    socklen_t len = sizeof(soft);
    if (err == EINPROGRESS && ::getsockopt(sock.Get(), SOL_SOCKET, SO_ERROR, &soft, &len) == 0 &&
        soft != 0) {
      err = soft;
    }
    out.failure = FailureOf(err);
    return out;
  }
  out.rtt_s = Seconds(t1 - t0);
  if (const auto answer = ReadAnswer(sock.Get())) {
    out.answer = *answer;
  } else {
    out.failure = ProbeFailure::kNoAnswer;
  }
  return out;  // closing sends the RST
}

TimedProbe TimeUdp(Ipv4 ip, uint16_t port, SourcePorts& ports, double timeout_s) {
  TimedProbe out;
  UniqueFd sock = BoundSocket(SOCK_DGRAM, ports, timeout_s);
  const sockaddr_in dst = SockAddr(ip, port);
  // Connected: only replies from ip:port (after reverse NAT) are read, and ICMP errors come
  // back as errno.
  if (::connect(sock.Get(), reinterpret_cast<const sockaddr*>(&dst), sizeof(dst)) != 0) {
    out.failure = FailureOf(errno);
    return out;
  }
  const char request = 'p';
  std::array<unsigned char, 16> buf{};
  const auto t0 = Clock::now();
  if (::send(sock.Get(), &request, 1, 0) != 1) {
    out.failure = FailureOf(errno);
    return out;
  }
  const ssize_t n = ::recv(sock.Get(), buf.data(), buf.size(), 0);
  const auto t1 = Clock::now();
  if (n < 0) {
    out.failure = FailureOf(errno);
    return out;
  }
  if (n != 6) {
    out.failure = ProbeFailure::kNoAnswer;
    return out;
  }
  out.rtt_s = Seconds(t1 - t0);
  uint32_t ip_be = 0;
  uint16_t port_be = 0;
  std::memcpy(&ip_be, buf.data(), 4);
  std::memcpy(&port_be, buf.data() + 4, 2);
  out.answer = ProbeAnswer{ntohl(ip_be), ntohs(port_be)};
  return out;
}

std::optional<KeptConnection> OpenKept(Ipv4 ip, uint16_t port, SourcePorts& ports, double timeout_s,
                                       ProbeFailure* why) {
  KeptConnection conn;
  conn.fd = BoundSocket(SOCK_STREAM, ports, timeout_s);
  const sockaddr_in dst = SockAddr(ip, port);
  if (::connect(conn.fd.Get(), reinterpret_cast<const sockaddr*>(&dst), sizeof(dst)) != 0) {
    if (why != nullptr) *why = FailureOf(errno);
    return std::nullopt;
  }
  const auto answer = ReadAnswer(conn.fd.Get());
  if (!answer) {
    if (why != nullptr) *why = ProbeFailure::kNoAnswer;
    return std::nullopt;
  }
  conn.endpoint = *answer;
  return conn;
}

TimedProbe TimeEcho(KeptConnection& conn, double /*timeout_s: set on the socket by OpenKept*/) {
  TimedProbe out;
  out.answer = conn.endpoint;
  const char request = 'e';
  char reply = 0;
  const auto t0 = Clock::now();
  if (::send(conn.fd.Get(), &request, 1, MSG_NOSIGNAL) != 1) {
    out.failure = FailureOf(errno);
    return out;
  }
  const ssize_t n = ::recv(conn.fd.Get(), &reply, 1, 0);
  const auto t1 = Clock::now();
  if (n < 0) {
    out.failure = FailureOf(errno);
  } else if (n == 0 || reply != request) {
    out.failure = ProbeFailure::kNoAnswer;
  } else {
    out.rtt_s = Seconds(t1 - t0);
  }
  return out;
}

ConnectStormResult ConnectStorm(const ConnectStormOptions& opts,
                                const std::function<std::pair<Ipv4, uint16_t>()>& next_target,
                                SourcePorts& ports, const std::function<void()>& at_start,
                                const std::function<void()>& at_stop) {
  ConnectStormResult out;
  const size_t slots_n = static_cast<size_t>(std::max(opts.concurrency, 1));
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.Valid()) ThrowErrno("epoll_create1(EPOLL_CLOEXEC)");
  struct Slot {
    UniqueFd fd;
    Clock::time_point started;
  };
  std::vector<Slot> slots(slots_n);
  const auto timeout = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(opts.timeout_s > 0 ? opts.timeout_s : 1));
  bool ports_left = true;

  // Starts a connect in slot i; false when no source port is left.
  auto open = [&](size_t i) {
    for (;;) {
      if (ports.Left() == 0) return ports_left = false;
      UniqueFd fd = BoundSocket(SOCK_STREAM | SOCK_NONBLOCK, ports, 0);
      const auto [ip, port] = next_target();
      const sockaddr_in dst = SockAddr(ip, port);
      slots[i].started = Clock::now();
      if (::connect(fd.Get(), reinterpret_cast<const sockaddr*>(&dst), sizeof(dst)) == 0) {
        ++out.connections;  // done already; counts like a completion event
        continue;
      }
      if (errno != EINPROGRESS) {
        ++out.failures[static_cast<size_t>(FailureOf(errno))];
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u64 = i;
      if (::epoll_ctl(epoll.Get(), EPOLL_CTL_ADD, fd.Get(), &ev) != 0) {
        ThrowErrno("epoll_ctl(EPOLL_CTL_ADD) for a connect");
      }
      slots[i].fd = std::move(fd);
      return true;
    }
  };

  at_start();
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(opts.duration_s));
  auto capped = [&] {
    return opts.max_connections != 0 && out.connections >= opts.max_connections;
  };
  for (size_t i = 0; i < slots_n && ports_left; ++i) open(i);
  std::array<epoll_event, 64> events{};
  auto now = Clock::now();
  while (now < end && !capped() && ports_left && !InterruptRequested()) {
    auto wait = end - now;
    for (const Slot& s : slots) {
      if (s.fd.Valid()) wait = std::min(wait, s.started + timeout - now);
    }
    const int wait_ms = static_cast<int>(
        std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    const int n =
        ::epoll_wait(epoll.Get(), events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0 && errno != EINTR) ThrowErrno("epoll_wait() for connects");
    for (int k = 0; k < n; ++k) {
      const size_t i = events[k].data.u64;
      int err = 0;
      socklen_t len = sizeof(err);
      if (::getsockopt(slots[i].fd.Get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0) {
        ++out.connections;
      } else {
        ++out.failures[static_cast<size_t>(FailureOf(err))];
      }
      slots[i].fd.Reset();  // the RST; closing also takes it out of the epoll set
      if (!capped()) open(i);
    }
    now = Clock::now();
    for (size_t i = 0; i < slots_n; ++i) {
      if (slots[i].fd.Valid() && now - slots[i].started >= timeout) {
        ++out.failures[static_cast<size_t>(ProbeFailure::kTimeout)];
        slots[i].fd.Reset();
        if (!capped()) open(i);
      }
    }
  }
  const auto t1 = Clock::now();
  at_stop();
  out.elapsed_s = Seconds(t1 - t0);
  return out;  // outstanding connects close with the slots
}

}  // namespace svcbench
