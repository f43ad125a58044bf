// The Lab: a client, a node and a backend network namespace wired like a tiny cluster.
//
//   client                 node                                     backend
//   c0 198.18.255.1/30 ── n0 198.18.255.2/30    n1 198.18.255.5/30 ── b0 198.18.255.6/30
//
// The client routes the VIP and backend blocks to the node; the node forwards and routes the
// backend block to the backend, which answers for every backend address through
// `local 198.19.0.0/16 dev lo` and one listener per target port. Nothing is ever created or
// changed in the caller's (the host's) namespace: links are created inside the lab's namespaces.
//
// Names are `svcb-<run>-<tag>-<role>`; every namespace is registered for cleanup the moment it
// exists, and removed by ~Lab, by the interrupt path, or by `svcbench cleanup`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace svcbench {

class BackendListener;

struct LabOptions {
  std::string run_id;               // short, [a-z0-9]
  std::string tag;                  // distinguishes several labs of one run, e.g. "l0"
  std::vector<uint16_t> tcp_ports;  // target ports the backend listener serves
  std::vector<uint16_t> udp_ports;
  bool with_listener = true;
};

class Lab {
 public:
  // Creates everything; on failure removes what it made and throws std::runtime_error
  // (or std::system_error naming the call).
  explicit Lab(const LabOptions& opts);
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  const std::string& ClientNs() const;
  const std::string& NodeNs() const;
  const std::string& BackendNs() const;
  // Open fds of the namespaces, owned by the Lab.
  int ClientFd() const;
  int NodeFd() const;
  int BackendFd() const;
  // The backend listener (answer counters), or nullptr without one or after Destroy().
  const BackendListener* Listener() const;
  BackendListener* Listener();  // to pin its thread

  // Stops the listener, closes the fds and removes the namespaces now (also done by the
  // destructor, which reports instead of throwing). Idempotent; afterwards the fds are -1.
  void Destroy();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Namespaces named svcb-* that exist now (from /run/netns).
std::vector<std::string> ListLabNamespaces();

// Removes leftover svcb-* namespaces whose owning process is gone (or all, with force), and
// returns the names removed. @see man 8 ip-netns (delete)
std::vector<std::string> CleanupLeftovers(bool force);

// The same, limited to names starting with name_prefix (which must start with "svcb-"), e.g.
// "svcb-<run>-" for one run. Leaves other tools' and other runs' namespaces alone.
std::vector<std::string> CleanupLeftovers(bool force, std::string_view name_prefix);

// Removes every namespace this process created and has not removed yet. Async-signal-unsafe;
// called from the interrupt path of the CLI and from atexit.
void CleanupRegisteredNamespaces();

}  // namespace svcbench
