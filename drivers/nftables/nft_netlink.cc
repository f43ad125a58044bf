#include "drivers/nftables/nft_netlink.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <tuple>
#include <utility>

#include "harness/driver/driver.h"

namespace svcbench::nft {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

[[noreturn]] void ThrowErrno(int err, const std::string& call) {
  throw DriverError(fmt::format("{}: {} (errno {})", call, std::strerror(err), err));
}

// How long to keep waiting for ACKs that have not arrived once the socket ran dry. The kernel
// processes a batch inside sendmsg(), so this only matters if ACKs were lost.
constexpr int kAckGraceMs = 2000;
// Receive slots per recvmmsg(): with NETLINK_CAP_ACK an ACK is a few dozen bytes plus the
// extended-ACK attributes, far below the slot size.
constexpr size_t kRecvSlots = 256;
constexpr size_t kRecvSlotBytes = 4096;

void ParseAck(const nlmsghdr* nlh, uint32_t first, uint32_t last, size_t* acks,
              std::vector<AckError>* errors) {
  if (nlh->nlmsg_type != NLMSG_ERROR) return;
  if (nlh->nlmsg_seq < first || nlh->nlmsg_seq > last) return;  // a stale answer
  if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nlmsgerr)) return;
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  ++*acks;
  if (err->error == 0) return;
  AckError e;
  e.seq = nlh->nlmsg_seq;
  e.error = -err->error;
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    // With NLM_F_CAPPED the original message is not echoed, only its header.
    size_t off = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - NLMSG_HDRLEN;
    const char* p = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + off;
    const char* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
    int left = static_cast<int>(end - p);
    auto* a = reinterpret_cast<const nlattr*>(p);
    while (left > 0 && mnl_attr_ok(a, left)) {
      switch (mnl_attr_get_type(a)) {
        case NLMSGERR_ATTR_MSG:
          e.kernel_message = mnl_attr_get_str(a);
          break;
        case NLMSGERR_ATTR_OFFS:
          e.attr_offset = mnl_attr_get_u32(a);
          break;
        default:
          break;
      }
      left -= static_cast<int>(MNL_ALIGN(a->nla_len));
      a = mnl_attr_next(a);
    }
  }
  errors->push_back(std::move(e));
}

int SetIntOpt(int fd, int level, int opt, int value) {
  return setsockopt(fd, level, opt, &value, sizeof(value));
}

}  // namespace

NetlinkSocket NetlinkSocket::Open(int netns_fd) {
  mnl_socket* nl = nullptr;
  int err = 0;
  std::string call;
  // setns() changes only the calling thread's namespace: a throwaway thread keeps the caller's
  // threads where they are.
  std::thread t([&] {
    if (netns_fd >= 0) {
      if (setns(netns_fd, CLONE_NEWNET) != 0) {
        err = errno;
        call = fmt::format("setns({}, CLONE_NEWNET)", netns_fd);
        return;
      }
    } else if (unshare(CLONE_NEWNET) != 0) {
      err = errno;
      call = "unshare(CLONE_NEWNET)";
      return;
    }
    nl = mnl_socket_open(NETLINK_NETFILTER);
    if (nl == nullptr) {
      err = errno;
      call = "mnl_socket_open(NETLINK_NETFILTER)";
      return;
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
      err = errno;
      call = "mnl_socket_bind(NETLINK_NETFILTER, MNL_SOCKET_AUTOPID)";
      mnl_socket_close(nl);
      nl = nullptr;
    }
  });
  t.join();
  if (nl == nullptr) ThrowErrno(err, call);
  NetlinkSocket s(nl);
  s.portid_ = mnl_socket_get_portid(nl);
  s.seq_ = static_cast<uint32_t>(std::chrono::system_clock::now().time_since_epoch().count());
  // Extended ACKs name the rejected attribute (which element of a list); capped ACKs do not
  // echo the request, so every ACK is small and the receive buffer can be sized by count.
  const int fd = s.Fd();
  if (SetIntOpt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1) != 0) {
    ThrowErrno(errno, "setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)");
  }
  if (SetIntOpt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1) != 0) {
    ThrowErrno(errno, "setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)");
  }
  return s;
}

NetlinkSocket::NetlinkSocket(NetlinkSocket&& other) noexcept
    : nl_(std::exchange(other.nl_, nullptr)), portid_(other.portid_), seq_(other.seq_) {}

NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&& other) noexcept {
  if (this != &other) {
    if (nl_ != nullptr) mnl_socket_close(nl_);
    nl_ = std::exchange(other.nl_, nullptr);
    portid_ = other.portid_;
    seq_ = other.seq_;
  }
  return *this;
}

NetlinkSocket::~NetlinkSocket() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

int NetlinkSocket::Fd() const { return mnl_socket_get_fd(nl_); }

uint32_t NetlinkSocket::Generation() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  const uint32_t seq = ++seq_;
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, seq);
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
    ThrowErrno(errno, "mnl_socket_sendto(NFT_MSG_GETGEN)");
  }
  struct Reply {
    uint32_t gen = 0;
    bool have = false;
  } reply;
  auto cb = [](const nlmsghdr* n, void* data) -> int {
    nftnl_gen* g = nftnl_gen_alloc();
    if (g == nullptr) return MNL_CB_ERROR;
    auto* r = static_cast<Reply*>(data);
    if (nftnl_gen_nlmsg_parse(n, g) == 0) {
      r->gen = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
      r->have = true;
    }
    nftnl_gen_free(g);
    return MNL_CB_OK;
  };
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) ThrowErrno(errno, "mnl_socket_recvfrom(NFT_MSG_GETGEN reply)");
    const int r = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid_, cb, &reply);
    if (r < 0) ThrowErrno(errno, "NFT_MSG_GETGEN");
    if (r == MNL_CB_STOP) break;  // the ACK after the reply
  }
  if (!reply.have) throw DriverError("NFT_MSG_GETGEN: no generation in the reply");
  return reply.gen;
}

void NetlinkSocket::RaiseBuffers(size_t send_bytes, size_t acks) {
  // The kernel doubles the value it is given and netlink_sendmsg() refuses a message larger
  // than sk_sndbuf - 32, so half the batch plus slack is enough; cap at what an int holds.
  auto clamp = [](size_t v) { return static_cast<int>(std::min<size_t>(v, INT_MAX / 2)); };
  const int snd = clamp(send_bytes / 2 + (1u << 20));
  const int rcv = clamp(acks * kAckTruesize / 2 + (1u << 20));
  const int fd = Fd();
  for (auto [force, plain, value, name] :
       {std::tuple{SO_SNDBUFFORCE, SO_SNDBUF, snd, "SO_SNDBUF"},
        std::tuple{SO_RCVBUFFORCE, SO_RCVBUF, rcv, "SO_RCVBUF"}}) {
    // FORCE ignores net.core.[rw]mem_max but needs CAP_NET_ADMIN; the plain option is capped.
    if (SetIntOpt(fd, SOL_SOCKET, force, value) == 0) continue;
    if (SetIntOpt(fd, SOL_SOCKET, plain, value) != 0) {
      ThrowErrno(errno, fmt::format("setsockopt(SOL_SOCKET, {}, {})", name, value));
    }
  }
  if (send_bytes > static_cast<size_t>(INT_MAX / 2)) {
    throw DriverError(
        fmt::format("batch of {} bytes exceeds what one netlink message can carry", send_bytes));
  }
}

void NetlinkSocket::Drain() {
  std::vector<char> buf(kRecvSlotBytes);
  while (recv(Fd(), buf.data(), buf.size(), MSG_DONTWAIT) >= 0) {
  }
}

std::vector<AckError> NetlinkSocket::Commit(const Batch& batch, CommitTiming* timing) {
  std::vector<iovec> iov = batch.Iovecs();
  size_t bytes = 0;
  for (const iovec& v : iov) bytes += v.iov_len;
  if (iov.size() > IOV_MAX) {
    throw DriverError(
        fmt::format("batch needs {} pages, more than IOV_MAX ({})", iov.size(), IOV_MAX));
  }
  Drain();  // answers to an earlier, failed exchange must not be mistaken for these
  RaiseBuffers(bytes, batch.ExpectedAcks());

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  msghdr msg{};
  msg.msg_name = &kernel;
  msg.msg_namelen = sizeof(kernel);
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();

  const auto t0 = Clock::now();
  ssize_t sent;
  do {
    sent = sendmsg(Fd(), &msg, 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    ThrowErrno(errno, fmt::format("sendmsg(NETLINK_NETFILTER, {} iovecs, {} bytes, {} messages)",
                                  iov.size(), bytes, batch.Messages() + 2));
  }
  const auto t1 = Clock::now();

  // Only error ACKs and the ACKs asked for arrive; with kLastMessage a committed transaction
  // answers exactly once, so stop as soon as that answer or a batch-level error is in.
  const uint32_t first = batch.BeginSeq();
  const uint32_t last = batch.LastSeq() + 1;  // BATCH_END's seq, never answered on success
  const size_t expected = batch.ExpectedAcks();
  std::vector<AckError> errors;
  size_t acks = 0;
  std::vector<char> buf(kRecvSlots * kRecvSlotBytes);
  std::vector<iovec> slots(kRecvSlots);
  std::vector<mmsghdr> msgs(kRecvSlots);
  for (size_t i = 0; i < kRecvSlots; ++i) {
    slots[i] = {buf.data() + i * kRecvSlotBytes, kRecvSlotBytes};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &slots[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  auto done = [&] {
    if (acks >= expected) return true;
    // A batch-level failure (ENOMEM while queueing errors, a failed commit) is answered on
    // BATCH_BEGIN; the per-message answers, if any, are already queued ahead of the drain.
    for (const AckError& e : errors) {
      if (e.seq == first) return true;
    }
    return false;
  };
  for (;;) {
    const int n = recvmmsg(Fd(), msgs.data(), kRecvSlots, MSG_DONTWAIT, nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (done()) break;
      pollfd p{Fd(), POLLIN, 0};
      const int r = poll(&p, 1, kAckGraceMs);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;  // timed out: report what is missing below
      continue;
    }
    if (n < 0) {
      // ENOBUFS: the receive buffer overflowed and ACKs were dropped. The transaction itself
      // may well have committed; only the proof is gone.
      ThrowErrno(errno,
                 fmt::format("recvmmsg(NETLINK_NETFILTER ACKs, {} of {} read)", acks, expected));
    }
    for (int i = 0; i < n; ++i) {
      const auto* nlh = static_cast<const nlmsghdr*>(slots[i].iov_base);
      int len = static_cast<int>(msgs[i].msg_len);
      while (mnl_nlmsg_ok(nlh, len)) {
        ParseAck(nlh, first, last, &acks, &errors);
        nlh = mnl_nlmsg_next(nlh, &len);
      }
    }
  }
  const auto t2 = Clock::now();
  if (timing != nullptr) {
    timing->send_s = Seconds(t0, t1);
    timing->acks_s = Seconds(t1, t2);
    timing->acks = acks;
    timing->bytes = bytes;
  }
  if (errors.empty() && acks < expected) {
    throw DriverError(fmt::format(
        "nftables: {} of {} ACKs arrived for a batch of {} messages; the outcome is unknown", acks,
        expected, batch.Messages()));
  }
  std::sort(errors.begin(), errors.end(),
            [](const AckError& a, const AckError& b) { return a.seq < b.seq; });
  return errors;
}

}  // namespace svcbench::nft
