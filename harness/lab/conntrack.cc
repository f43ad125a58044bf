#include "harness/lab/conntrack.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "harness/lab/netns.h"
#include "harness/lab/sys_error.h"

namespace svcbench {

Conntrack::Conntrack(int netns_fd, std::string ns_name) : ns_name_(std::move(ns_name)) {
  netns::RunIn(netns_fd, ns_name_, [&] {
    nl_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (nl_ == nullptr) {
      ThrowErrno(fmt::format("mnl_socket_open(NETLINK_NETFILTER) in {}", ns_name_));
    }
  });
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    mnl_socket_close(nl_);
    ThrowSystemError(err, fmt::format("mnl_socket_bind(NETLINK_NETFILTER) in {}", ns_name_));
  }
  portid_ = mnl_socket_get_portid(nl_);
}

Conntrack::~Conntrack() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

void Conntrack::Request(uint8_t msg_type, const std::string& what, uint32_t* entries,
                        uint32_t* max) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msg_type);
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;  // every family: the whole table
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  const std::string where = fmt::format("{} in {}", what, ns_name_);
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
    ThrowErrno(fmt::format("mnl_socket_sendto({})", where));
  }
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(fmt::format("mnl_socket_recvfrom({})", where));
    }
    int len = static_cast<int>(n);
    for (auto* msg = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(msg, len);
         msg = mnl_nlmsg_next(msg, &len)) {
      if (msg->nlmsg_seq != seq_ || msg->nlmsg_pid != portid_) continue;
      if (msg->nlmsg_type == NLMSG_ERROR) {
        if (mnl_nlmsg_get_payload_len(msg) < sizeof(nlmsgerr)) {
          throw std::runtime_error(fmt::format("{}: truncated netlink error", where));
        }
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(msg));
        if (err->error == 0) return;  // the ACK comes last
        ThrowSystemError(-err->error, where);
      }
      if (msg->nlmsg_type == NLMSG_DONE) return;
      const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(msg));
      for (auto* attr =
               static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(msg, sizeof(nfgenmsg)));
           mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)));
           attr = mnl_attr_next(attr)) {
        if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) continue;
        const uint32_t value = ntohl(mnl_attr_get_u32(attr));
        if (mnl_attr_get_type(attr) == CTA_STATS_GLOBAL_ENTRIES && entries != nullptr) {
          *entries = value;
        }
        if (mnl_attr_get_type(attr) == CTA_STATS_GLOBAL_MAX_ENTRIES && max != nullptr) {
          *max = value;
        }
      }
    }
  }
}

Conntrack::Stats Conntrack::GetStats() {
  uint32_t entries = 0;
  uint32_t max = 0;
  Request(IPCTNL_MSG_CT_GET_STATS, "IPCTNL_MSG_CT_GET_STATS", &entries, &max);
  return {entries, max};
}

void Conntrack::Flush() {
  Request(IPCTNL_MSG_CT_DELETE, "IPCTNL_MSG_CT_DELETE (flush)", nullptr, nullptr);
}

}  // namespace svcbench
