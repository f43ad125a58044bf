// The kernel-facing half of the netlink transport: a NETLINK_NETFILTER socket inside one network
// namespace, one sendmsg() per batch, and every ACK read back.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "drivers/nftables/nft_batch.h"

struct mnl_socket;

namespace svcbench::nft {

// One error ACK: the message it answers, errno, and the kernel's extended ACK when present.
struct AckError {
  uint32_t seq = 0;
  int error = 0;                        // positive errno
  std::optional<uint32_t> attr_offset;  // NLMSGERR_ATTR_OFFS
  std::string kernel_message;           // NLMSGERR_ATTR_MSG
};

struct CommitTiming {
  double send_s = 0;  // sendmsg(): the kernel validates, prepares and commits inside it
  double acks_s = 0;  // reading the ACKs back
  size_t acks = 0;
  size_t bytes = 0;
};

class NetlinkSocket {
 public:
  // The socket is created by a short-lived thread that enters `netns_fd` with setns() (or a new,
  // empty namespace with unshare() when netns_fd < 0); a socket keeps the namespace it was
  // created in, so the caller's own namespace is never changed. Throws DriverError naming the
  // failed call. @see man 2 setns, man 2 unshare, man 7 netlink
  static NetlinkSocket Open(int netns_fd);

  NetlinkSocket(NetlinkSocket&& other) noexcept;
  NetlinkSocket& operator=(NetlinkSocket&& other) noexcept;
  ~NetlinkSocket();

  // NFT_MSG_GETGEN: the ruleset generation id; proves nf_tables answers here.
  uint32_t Generation();

  // Sends the batch with one sendmsg() after raising SO_SNDBUF/SO_RCVBUF (the FORCE variants
  // when permitted) so that the batch and all its ACKs fit, then reads every ACK. Returns the
  // error ACKs in sequence order (empty when the transaction committed). Throws DriverError
  // when a system call fails or ACKs are missing.
  std::vector<AckError> Commit(const Batch& batch, CommitTiming* timing);

 private:
  explicit NetlinkSocket(mnl_socket* nl) : nl_(nl) {}
  int Fd() const;
  void RaiseBuffers(size_t send_bytes, size_t acks);
  void Drain();

  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;  // for requests outside batches
};

// Receive-buffer bytes to allow per queued ACK. A capped ACK's skb truesize is under 1 KiB; the
// buffer size is a limit, not an allocation, so a generous figure costs nothing unused.
inline constexpr size_t kAckTruesize = 2048;

}  // namespace svcbench::nft
