// The backend namespace's answering machine: one socket per target port, all served by one
// thread, so a probe learns which endpoint (address and port, after DNAT) it reached.
//
// Answer format, 6 bytes: the IPv4 address then the port, both in network byte order.
//   TCP: on accept, the accepted connection's local address (getsockname). The connection is
//        then kept and echoes every byte it receives (the `established` latency probe), until
//        the peer closes or resets it. A probe that only times the handshake resets it at once.
//   UDP: for each datagram, a reply with the address and port it was sent to (IP_PKTINFO),
//        sent from that same address, so reverse NAT on the node matches it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "harness/util/unique_fd.h"

namespace svcbench {

class BackendListener {
 public:
  // Creates the sockets inside the namespace (0.0.0.0:port each) and starts serving; returns
  // once they listen. Throws std::system_error naming the call. @see man 7 ip, man 7 epoll
  BackendListener(int netns_fd, std::string ns_name, std::vector<uint16_t> tcp_ports,
                  std::vector<uint16_t> udp_ports);
  ~BackendListener();
  BackendListener(const BackendListener&) = delete;
  BackendListener& operator=(const BackendListener&) = delete;

  // Stops the thread and closes the sockets. Idempotent.
  void Stop();

  // Connections and datagrams answered so far. Counted as the answer is sent, so once a probe
  // has read its answer, the count includes it.
  uint64_t TcpAnswered() const { return tcp_answered_.load(std::memory_order_relaxed); }
  uint64_t UdpAnswered() const { return udp_answered_.load(std::memory_order_relaxed); }
  // Bytes echoed on kept TCP connections, and how many such connections are open now.
  uint64_t TcpEchoed() const { return tcp_echoed_.load(std::memory_order_relaxed); }
  size_t TcpKept() const { return tcp_kept_.load(std::memory_order_relaxed); }

  // Restricts the serving thread to one CPU (latency `pin`), or with -1 gives it back every CPU
  // the process may use; false (errno set) when refused. @see man 3 pthread_setaffinity_np
  bool PinToCpu(int cpu);

 private:
  void Serve();
  void AcceptAll(int listen_fd);
  void Echo(int conn_fd);
  void AnswerDatagrams(int udp_fd, uint16_t port);

  std::string ns_name_;
  std::vector<uint16_t> tcp_ports_;
  std::vector<uint16_t> udp_ports_;
  std::vector<UniqueFd> tcp_;
  std::vector<UniqueFd> udp_;
  // Kept connections by fd; only the serving thread touches it (Stop() after the join).
  std::unordered_map<int, UniqueFd> conns_;
  UniqueFd epoll_;
  UniqueFd stop_;  // eventfd: written once to end Serve()
  std::thread thread_;
  std::atomic<uint64_t> tcp_answered_{0};
  std::atomic<uint64_t> udp_answered_{0};
  std::atomic<uint64_t> tcp_echoed_{0};
  std::atomic<size_t> tcp_kept_{0};
};

}  // namespace svcbench
