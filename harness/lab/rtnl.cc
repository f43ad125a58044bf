#include "harness/lab/rtnl.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "harness/lab/netns.h"
#include "harness/lab/sys_error.h"

namespace svcbench {
namespace {

// Room for the largest request here (a veth with its peer) and for the kernel's answers.
constexpr size_t kRequestSize = 8192;
constexpr size_t kReplySize = 32768;

// The kernel's own words from an extended ACK (NLMSGERR_ATTR_MSG), or "".
std::string ExtAckMessage(const nlmsghdr* nlh) {
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  size_t offset = sizeof(nlmsgerr);
  if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  const size_t payload_len = mnl_nlmsg_get_payload_len(nlh);
  if (offset >= payload_len) return "";
  const char* tlvs = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + offset;
  const char* end = tlvs + (payload_len - offset);
  for (auto* attr = reinterpret_cast<const nlattr*>(tlvs);
       mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)));
       attr = mnl_attr_next(attr)) {
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
        mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
      return mnl_attr_get_str(attr);
    }
  }
  return "";
}

void PutName(nlmsghdr* nlh, uint16_t type, std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    throw std::invalid_argument(fmt::format("bad interface name '{}'", name));
  }
  mnl_attr_put_strz(nlh, type, std::string(name).c_str());
}

}  // namespace

Rtnl::Rtnl(int netns_fd, std::string ns_name) : ns_name_(std::move(ns_name)) {
  netns::RunIn(netns_fd, ns_name_, [&] {
    nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (nl_ == nullptr) ThrowErrno(fmt::format("mnl_socket_open(NETLINK_ROUTE) in {}", ns_name_));
  });
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    mnl_socket_close(nl_);
    ThrowSystemError(err, fmt::format("mnl_socket_bind(NETLINK_ROUTE) in {}", ns_name_));
  }
  portid_ = mnl_socket_get_portid(nl_);
  // Best effort: the kernel's explanation of a refusal, and ACKs without the request echoed.
  int on = 1;
  mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &on, sizeof(on));
  mnl_socket_setsockopt(nl_, NETLINK_CAP_ACK, &on, sizeof(on));
}

Rtnl::~Rtnl() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

void Rtnl::Request(nlmsghdr* nlh, const std::string& what,
                   const std::function<void(const nlmsghdr*)>& on_reply) {
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  const std::string where = fmt::format("{} in {}", what, ns_name_);
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
    ThrowErrno(fmt::format("mnl_socket_sendto({})", where));
  }
  std::vector<char> buf(kReplySize);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(fmt::format("mnl_socket_recvfrom({})", where));
    }
    int len = static_cast<int>(n);
    for (auto* msg = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(msg, len);
         msg = mnl_nlmsg_next(msg, &len)) {
      if (msg->nlmsg_seq != nlh->nlmsg_seq || msg->nlmsg_pid != portid_) continue;
      if (msg->nlmsg_type == NLMSG_ERROR) {
        if (mnl_nlmsg_get_payload_len(msg) < sizeof(nlmsgerr)) {
          throw std::runtime_error(fmt::format("{}: truncated netlink error", where));
        }
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(msg));
        if (err->error == 0) return;
        const std::string ext = ExtAckMessage(msg);
        ThrowSystemError(-err->error, ext.empty() ? where : fmt::format("{} ({})", where, ext));
      }
      if (msg->nlmsg_type == NLMSG_DONE) return;
      if (on_reply) on_reply(msg);
    }
  }
}

int Rtnl::LinkIndex(std::string_view ifname) {
  std::vector<char> buf(kRequestSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  PutName(nlh, IFLA_IFNAME, ifname);
  int index = 0;
  Request(nlh, fmt::format("RTM_GETLINK {}", ifname), [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type == RTM_NEWLINK) {
      index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(reply))->ifi_index;
    }
  });
  if (index <= 0) {
    throw std::runtime_error(
        fmt::format("RTM_GETLINK {} in {}: no index in the answer", ifname, ns_name_));
  }
  return index;
}

void Rtnl::CreateVeth(std::string_view name, std::string_view peer, int peer_netns_fd) {
  std::vector<char> buf(kRequestSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  PutName(nlh, IFLA_IFNAME, name);
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer_info = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  // The peer is described like a link of its own: an ifinfomsg, then its attributes.
  auto* peer_ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  peer_ifm->ifi_family = AF_UNSPEC;
  PutName(nlh, IFLA_IFNAME, peer);
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  mnl_attr_nest_end(nlh, peer_info);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  Request(nlh, fmt::format("RTM_NEWLINK veth {}/{}", name, peer));
}

void Rtnl::SetUp(std::string_view ifname) {
  const int index = LinkIndex(ifname);
  std::vector<char> buf(kRequestSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = index;
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  Request(nlh, fmt::format("RTM_NEWLINK {} up", ifname));
}

bool Rtnl::LinkReady(std::string_view ifname) {
  std::vector<char> buf(kRequestSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  PutName(nlh, IFLA_IFNAME, ifname);
  bool oper_up = false;
  bool noop_qdisc = true;
  Request(nlh, fmt::format("RTM_GETLINK {}", ifname), [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type != RTM_NEWLINK) return;
    const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(reply));
    for (auto* attr =
             static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(reply, sizeof(ifinfomsg)));
         mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)));
         attr = mnl_attr_next(attr)) {
      if (mnl_attr_get_type(attr) == IFLA_OPERSTATE && mnl_attr_validate(attr, MNL_TYPE_U8) == 0) {
        oper_up = mnl_attr_get_u8(attr) == IF_OPER_UP;
      }
      if (mnl_attr_get_type(attr) == IFLA_QDISC &&
          mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
        noop_qdisc = std::string_view(mnl_attr_get_str(attr)) == "noop";
      }
    }
  });
  return oper_up && !noop_qdisc;
}

void Rtnl::AddAddress(std::string_view ifname, Ipv4 ip, int prefix_len) {
  if (prefix_len < 0 || prefix_len > 32) {
    throw std::invalid_argument(fmt::format("bad prefix length {}", prefix_len));
  }
  const int index = LinkIndex(ifname);
  std::vector<char> buf(kRequestSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix_len);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(index);
  mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(ip));
  mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(ip));
  Request(nlh, fmt::format("RTM_NEWADDR {}/{} dev {}", FormatIpv4(ip), prefix_len, ifname));
}

void Rtnl::AddRoute(const RouteSpec& route) {
  if (route.dst_len < 0 || route.dst_len > 32) {
    throw std::invalid_argument(fmt::format("bad prefix length {}", route.dst_len));
  }
  const int index = route.dev.empty() ? 0 : LinkIndex(route.dev);
  std::vector<char> buf(kRequestSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = static_cast<unsigned char>(route.dst_len);
  rtm->rtm_protocol = RTPROT_BOOT;  // what `ip route add` uses
  rtm->rtm_table = route.local ? RT_TABLE_LOCAL : RT_TABLE_MAIN;
  rtm->rtm_scope = route.local ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
  rtm->rtm_type = route.local ? RTN_LOCAL : RTN_UNICAST;
  if (route.dst_len > 0) mnl_attr_put_u32(nlh, RTA_DST, htonl(route.dst));
  if (route.gateway != 0) mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(route.gateway));
  if (index > 0) mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(index));
  std::string what = fmt::format("RTM_NEWROUTE {}{}/{}", route.local ? "local " : "",
                                 FormatIpv4(route.dst), route.dst_len);
  if (route.gateway != 0) what += fmt::format(" via {}", FormatIpv4(route.gateway));
  if (!route.dev.empty()) what += fmt::format(" dev {}", route.dev);
  Request(nlh, what);
}

}  // namespace svcbench
