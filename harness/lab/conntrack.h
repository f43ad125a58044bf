// The connection tracking table of one network namespace, through ctnetlink: how full it is, and
// flushing it. Latency and throughput probes each make a new entry in the node's table; a full
// table drops new connections, so the measurements watch it and flush between batches.
#pragma once

#include <cstdint>
#include <string>

struct mnl_socket;

namespace svcbench {

class Conntrack {
 public:
  // Opens a NETLINK_NETFILTER socket inside the namespace (it keeps that namespace for its
  // life, whichever thread uses it). Throws std::system_error naming the call.
  Conntrack(int netns_fd, std::string ns_name);
  ~Conntrack();
  Conntrack(const Conntrack&) = delete;
  Conntrack& operator=(const Conntrack&) = delete;

  struct Stats {
    uint64_t entries = 0;  // entries in this namespace's table now (nf_conntrack_count)
    uint64_t max = 0;      // the table's limit (nf_conntrack_max)
  };
  // IPCTNL_MSG_CT_GET_STATS. @see the kernel's net/netfilter/nf_conntrack_netlink.c
  Stats GetStats();

  // IPCTNL_MSG_CT_DELETE without a tuple: removes every entry of the namespace's table (what
  // `conntrack -F` does). Connections of removed entries lose their NAT binding.
  void Flush();

 private:
  void Request(uint8_t msg_type, const std::string& what, uint32_t* entries, uint32_t* max);

  std::string ns_name_;
  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
};

}  // namespace svcbench
