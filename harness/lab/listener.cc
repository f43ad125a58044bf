#include "harness/lab/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "harness/lab/netns.h"
#include "harness/lab/sys_error.h"

namespace svcbench {
namespace {

// Connection bursts of a latency or throughput measurement must not overflow the accept queue
// while the thread is busy; the kernel caps this at net.core.somaxconn of the namespace.
constexpr int kBacklog = 65535;

// epoll data: the kind of fd in the high half, its index in the low half.
constexpr uint64_t kStopTag = 0;
constexpr uint64_t kTcpTag = 1;
constexpr uint64_t kUdpTag = 2;
constexpr uint64_t kConnTag = 3;  // a kept connection; the low half is its fd
uint64_t Tag(uint64_t kind, size_t index) { return (kind << 32) | index; }

std::array<unsigned char, 6> Encode(const sockaddr_in& addr) {
  std::array<unsigned char, 6> out{};
  std::memcpy(out.data(), &addr.sin_addr.s_addr, 4);  // already network order
  std::memcpy(out.data() + 4, &addr.sin_port, 2);
  return out;
}

void Bind(int fd, uint16_t port, const char* proto, const std::string& ns_name) {
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
    ThrowErrno(fmt::format("setsockopt({} :{}, SO_REUSEADDR) in {}", proto, port, ns_name));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    ThrowErrno(fmt::format("bind({} 0.0.0.0:{}) in {}", proto, port, ns_name));
  }
}

void Watch(int epoll_fd, int fd, uint64_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ThrowErrno(fmt::format("epoll_ctl(EPOLL_CTL_ADD, fd {})", fd));
  }
}

}  // namespace

BackendListener::BackendListener(int netns_fd, std::string ns_name, std::vector<uint16_t> tcp_ports,
                                 std::vector<uint16_t> udp_ports)
    : ns_name_(std::move(ns_name)),
      tcp_ports_(std::move(tcp_ports)),
      udp_ports_(std::move(udp_ports)) {
  for (auto* ports : {&tcp_ports_, &udp_ports_}) {
    std::sort(ports->begin(), ports->end());
    ports->erase(std::unique(ports->begin(), ports->end()), ports->end());
  }
  // One trip into the namespace for all sockets: a helper thread per socket would be slow with
  // thousands of target ports.
  netns::RunIn(netns_fd, ns_name_, [&] {
    for (const uint16_t port : tcp_ports_) {
      UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd.Valid()) ThrowErrno(fmt::format("socket(tcp :{}) in {}", port, ns_name_));
      tcp_.push_back(std::move(fd));
    }
    for (const uint16_t port : udp_ports_) {
      UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd.Valid()) ThrowErrno(fmt::format("socket(udp :{}) in {}", port, ns_name_));
      udp_.push_back(std::move(fd));
    }
  });
  for (size_t i = 0; i < tcp_.size(); ++i) {
    Bind(tcp_[i].Get(), tcp_ports_[i], "tcp", ns_name_);
    if (::listen(tcp_[i].Get(), kBacklog) != 0) {
      ThrowErrno(
          fmt::format("listen(tcp 0.0.0.0:{}, {}) in {}", tcp_ports_[i], kBacklog, ns_name_));
    }
  }
  for (size_t i = 0; i < udp_.size(); ++i) {
    const int on = 1;
    if (::setsockopt(udp_[i].Get(), IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) != 0) {
      ThrowErrno(fmt::format("setsockopt(udp :{}, IP_PKTINFO) in {}", udp_ports_[i], ns_name_));
    }
    Bind(udp_[i].Get(), udp_ports_[i], "udp", ns_name_);
  }
  epoll_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.Valid()) ThrowErrno("epoll_create1(EPOLL_CLOEXEC)");
  stop_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_.Valid()) ThrowErrno("eventfd(0, EFD_CLOEXEC|EFD_NONBLOCK)");
  Watch(epoll_.Get(), stop_.Get(), Tag(kStopTag, 0));
  for (size_t i = 0; i < tcp_.size(); ++i) Watch(epoll_.Get(), tcp_[i].Get(), Tag(kTcpTag, i));
  for (size_t i = 0; i < udp_.size(); ++i) Watch(epoll_.Get(), udp_[i].Get(), Tag(kUdpTag, i));
  thread_ = std::thread([this] { Serve(); });
}

BackendListener::~BackendListener() { Stop(); }

void BackendListener::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (::write(stop_.Get(), &one, sizeof(one)) != sizeof(one)) {
      // The eventfd cannot be full after one write; if it failed anyway, joining would hang.
      std::perror("svcbench: write(eventfd) to stop the backend listener");
      std::abort();
    }
    thread_.join();
  }
  tcp_.clear();
  udp_.clear();
  conns_.clear();
  tcp_kept_.store(0, std::memory_order_relaxed);
  epoll_.Reset();
  stop_.Reset();
}

void BackendListener::Serve() {
  std::array<epoll_event, 64> events{};
  for (;;) {
    const int n = ::epoll_wait(epoll_.Get(), events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("svcbench: backend listener: epoll_wait");
      return;
    }
    for (int i = 0; i < n; ++i) {
      const uint64_t kind = events[i].data.u64 >> 32;
      const size_t index = events[i].data.u64 & 0xffffffffu;
      if (kind == kStopTag) return;
      if (kind == kTcpTag) AcceptAll(tcp_[index].Get());
      if (kind == kUdpTag) AnswerDatagrams(udp_[index].Get(), udp_ports_[index]);
      if (kind == kConnTag) Echo(static_cast<int>(index));
    }
  }
}

void BackendListener::AcceptAll(int listen_fd) {
  for (;;) {
    UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!conn.Valid()) {
      if (errno == ECONNABORTED || errno == EINTR) continue;  // that one is gone, next
      // EAGAIN: queue drained. Anything else (EMFILE) ends this round; level-triggered epoll
      // brings the rest back.
      return;
    }
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    if (::getsockname(conn.Get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
    const auto answer = Encode(local);
    // Kept for echo probes until the peer leaves (its RST or FIN wakes Echo). Registered and
    // counted before the answer goes out: a prober that got its answer must see both.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = Tag(kConnTag, static_cast<size_t>(conn.Get()));
    if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, conn.Get(), &ev) != 0) continue;  // closes it
    const int fd = conn.Get();
    conns_.emplace(fd, std::move(conn));
    tcp_kept_.store(conns_.size(), std::memory_order_relaxed);
    tcp_answered_.fetch_add(1, std::memory_order_relaxed);
    // A fresh socket's send buffer always takes 6 bytes; a peer that already left gets nothing.
    if (::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT) !=
        static_cast<ssize_t>(answer.size())) {
      tcp_answered_.fetch_sub(1, std::memory_order_relaxed);
      conns_.erase(fd);
      tcp_kept_.store(conns_.size(), std::memory_order_relaxed);
    }
  }
}

void BackendListener::Echo(int conn_fd) {
  std::array<char, 512> buf{};
  for (;;) {
    const ssize_t n = ::recv(conn_fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      // Counted before sending, as answers are. A probe sends one byte and waits for it, so the
      // send buffer always has room.
      tcp_echoed_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      const ssize_t sent =
          ::send(conn_fd, buf.data(), static_cast<size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent < n) {
        tcp_echoed_.fetch_sub(static_cast<uint64_t>(n - std::max<ssize_t>(sent, 0)),
                              std::memory_order_relaxed);
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // EOF or an error (ECONNRESET): the peer is gone. Closing removes it from the epoll set.
    conns_.erase(conn_fd);
    tcp_kept_.store(conns_.size(), std::memory_order_relaxed);
    return;
  }
}

bool BackendListener::PinToCpu(int cpu) {
  if (!thread_.joinable()) {
    errno = ESRCH;
    return false;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) {
    CPU_SET(cpu, &set);
  } else if (::sched_getaffinity(0, sizeof(set), &set) != 0) {
    return false;
  }
  const int err = ::pthread_setaffinity_np(thread_.native_handle(), sizeof(set), &set);
  errno = err;
  return err == 0;
}

void BackendListener::AnswerDatagrams(int udp_fd, uint16_t port) {
  for (;;) {
    std::array<char, 2048> payload{};
    sockaddr_in peer{};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> control{};
    iovec iov{payload.data(), payload.size()};
    msghdr msg{};
    msg.msg_name = &peer;
    msg.msg_namelen = sizeof(peer);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    if (::recvmsg(udp_fd, &msg, MSG_DONTWAIT) < 0) return;  // EAGAIN: drained
    const in_pktinfo* info = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        info = reinterpret_cast<const in_pktinfo*>(CMSG_DATA(c));
      }
    }
    if (info == nullptr) continue;
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_addr = info->ipi_addr;  // the header's destination: the endpoint after DNAT
    dst.sin_port = htons(port);
    auto answer = Encode(dst);

    // Reply from the address the datagram was sent to, not from whatever the route prefers.
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> reply_control{};
    iovec reply_iov{answer.data(), answer.size()};
    msghdr reply{};
    reply.msg_name = &peer;
    reply.msg_namelen = msg.msg_namelen;
    reply.msg_iov = &reply_iov;
    reply.msg_iovlen = 1;
    reply.msg_control = reply_control.data();
    reply.msg_controllen = reply_control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&reply);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo reply_info{};
    reply_info.ipi_spec_dst = info->ipi_addr;
    std::memcpy(CMSG_DATA(c), &reply_info, sizeof(reply_info));
    udp_answered_.fetch_add(1, std::memory_order_relaxed);  // before sending, as for TCP
    if (::sendmsg(udp_fd, &reply, MSG_DONTWAIT) != static_cast<ssize_t>(answer.size())) {
      udp_answered_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace svcbench
