#include "harness/lab/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "harness/lab/netns.h"
#include "harness/lab/sys_error.h"
#include "harness/util/unique_fd.h"

namespace svcbench {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in SockAddr(Ipv4 ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(ip);
  addr.sin_port = htons(port);
  return addr;
}

Clock::time_point DeadlineAfter(double timeout_s) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(timeout_s > 0 ? timeout_s : 0));
}

// Waits for events on fd until the deadline; false on timeout.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left < 0) return false;
    pollfd pfd{fd, events, 0};
    // +1: poll rounds down to whole milliseconds, and a probe must not give up early.
    const int n = ::poll(&pfd, 1, static_cast<int>(left) + 1);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) ThrowErrno(fmt::format("poll(fd {})", fd));
    if (n == 0 && Clock::now() >= deadline) return false;
  }
}

// Reads the 6-byte answer; nullopt on error, EOF before 6 bytes, or timeout.
std::optional<ProbeAnswer> ReadAnswer(int fd, Clock::time_point deadline, bool datagram) {
  std::array<unsigned char, 16> buf{};
  size_t have = 0;
  while (have < 6) {
    if (!WaitFor(fd, POLLIN, deadline)) return std::nullopt;
    const ssize_t n = ::recv(fd, buf.data() + have, buf.size() - have, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return std::nullopt;  // ECONNREFUSED, ECONNRESET, EHOSTUNREACH...
    }
    if (n == 0 && !datagram) return std::nullopt;
    have += static_cast<size_t>(n);
    if (datagram && have < 6) return std::nullopt;  // not our listener's answer
  }
  ProbeAnswer answer;
  uint32_t ip_be = 0;
  uint16_t port_be = 0;
  std::memcpy(&ip_be, buf.data(), 4);
  std::memcpy(&port_be, buf.data() + 4, 2);
  answer.ip = ntohl(ip_be);
  answer.port = ntohs(port_be);
  return answer;
}

}  // namespace

std::string ProbeAnswer::ToString() const { return fmt::format("{}:{}", FormatIpv4(ip), port); }

std::ostream& operator<<(std::ostream& out, const ProbeAnswer& answer) {
  return out << answer.ToString();
}

std::optional<ProbeAnswer> ProbeTcp(int netns_fd, Ipv4 ip, uint16_t port, double timeout_s) {
  const auto deadline = DeadlineAfter(timeout_s);
  UniqueFd sock = netns::SocketIn(netns_fd, "", AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const sockaddr_in addr = SockAddr(ip, port);
  if (::connect(sock.Get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) return std::nullopt;
    if (!WaitFor(sock.Get(), POLLOUT, deadline)) return std::nullopt;
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(sock.Get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
      ThrowErrno(fmt::format("getsockopt(SO_ERROR) after connect to {}:{}", FormatIpv4(ip), port));
    }
    if (err != 0) return std::nullopt;
  }
  return ReadAnswer(sock.Get(), deadline, false);
}

std::optional<ProbeAnswer> ProbeUdp(int netns_fd, Ipv4 ip, uint16_t port, double timeout_s) {
  const auto deadline = DeadlineAfter(timeout_s);
  UniqueFd sock = netns::SocketIn(netns_fd, "", AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  const sockaddr_in addr = SockAddr(ip, port);
  // Connected, so an ICMP error comes back as ECONNREFUSED and only the service's replies
  // (reverse-NATed to ip:port) are read.
  if (::connect(sock.Get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return std::nullopt;
  }
  const char request = 'p';
  if (::send(sock.Get(), &request, 1, 0) != 1) return std::nullopt;
  return ReadAnswer(sock.Get(), deadline, true);
}

}  // namespace svcbench
