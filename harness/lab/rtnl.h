// Links, addresses and routes through rtnetlink (libmnl), on a NETLINK_ROUTE socket that was
// opened inside one namespace: every request acts on that namespace, whichever thread sends it.
// Each request is acknowledged before the next is sent; a refused one throws std::system_error
// naming the message ("RTM_NEWLINK veth c0/n0 in svcb-r1-l0-client: File exists"), with the
// kernel's extended ACK text when it gives one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "harness/model/service_set.h"

struct mnl_socket;
struct nlmsghdr;

namespace svcbench {

struct RouteSpec {
  Ipv4 dst = 0;  // with dst_len 0: the default route
  int dst_len = 0;
  Ipv4 gateway = 0;  // 0: no gateway (a device route)
  std::string dev;   // empty: let the kernel pick it from the gateway
  // `ip route add local DST dev DEV`: table local, scope host; the namespace then answers for
  // every address of DST.
  bool local = false;

  // `ip route add DST/LEN via GATEWAY`.
  static RouteSpec Via(Ipv4 dst, int dst_len, Ipv4 gateway) {
    RouteSpec r;
    r.dst = dst;
    r.dst_len = dst_len;
    r.gateway = gateway;
    return r;
  }
  // `ip route add local DST/LEN dev DEV`.
  static RouteSpec Local(Ipv4 dst, int dst_len, std::string dev) {
    RouteSpec r;
    r.dst = dst;
    r.dst_len = dst_len;
    r.dev = std::move(dev);
    r.local = true;
    return r;
  }
};

class Rtnl {
 public:
  // Opens the socket on a helper thread inside the namespace; ns_name names it in errors.
  // @see man 7 rtnetlink, man 2 setns
  Rtnl(int netns_fd, std::string ns_name);
  ~Rtnl();
  Rtnl(const Rtnl&) = delete;
  Rtnl& operator=(const Rtnl&) = delete;

  // RTM_GETLINK by name.
  int LinkIndex(std::string_view ifname);
  // RTM_NEWLINK kind veth: `name` here, `peer` created directly in the namespace of
  // peer_netns_fd (IFLA_NET_NS_FD), so it never exists anywhere else, not even briefly.
  void CreateVeth(std::string_view name, std::string_view peer, int peer_netns_fd);
  // RTM_NEWLINK with IFF_UP.
  void SetUp(std::string_view ifname);
  // RTM_GETLINK: whether the link passes packets yet: operationally up (IFLA_OPERSTATE) and
  // with its real qdisc attached (IFLA_QDISC is no longer "noop"). Both happen in the kernel's
  // linkwatch work, up to a second after a veth's carrier comes on; until then the link drops
  // what it should send.
  bool LinkReady(std::string_view ifname);
  // RTM_NEWADDR, `ip addr add IP/PREFIX dev IFNAME`.
  void AddAddress(std::string_view ifname, Ipv4 ip, int prefix_len);
  // RTM_NEWROUTE (NLM_F_EXCL: an existing route is an error).
  void AddRoute(const RouteSpec& route);

 private:
  // Sends the message and reads until its ACK; on_reply sees the answers before the ACK.
  void Request(nlmsghdr* nlh, const std::string& what,
               const std::function<void(const nlmsghdr*)>& on_reply = {});

  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  std::string ns_name_;
};

}  // namespace svcbench
