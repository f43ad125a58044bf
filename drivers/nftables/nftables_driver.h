// The nftables backends: kube-proxy's nftables-mode ruleset (drivers/nftables/ruleset.h),
// committed either as one netlink batch built in-process with libnftnl ("nftables") or as text
// piped to `nft -f -` ("nftables-cli"), so a report can set the tool's cost beside the kernel's.
#pragma once

#include <memory>

#include "harness/driver/driver.h"

namespace svcbench {

enum class NftTransport { kNetlink, kCli };

// "nftables" or "nftables-cli".
std::string_view NftablesDriverName(NftTransport transport);

// A driver bound to the node namespace of `ctx` (ctx.netns_fd must stay open while it lives).
// Sync replaces the whole `ip kube-proxy` table in one transaction; CommitStats carries
// build_s/commit_s for the netlink transport.
std::unique_ptr<Driver> MakeNftablesDriver(NftTransport transport, const DriverContext& ctx);

// Whether nf_tables answers (NFT_MSG_GETGEN from a throwaway network namespace) and, for the
// CLI transport, whether nft is installed; the reason says what is missing or what is used.
Availability ProbeNftables(NftTransport transport);

}  // namespace svcbench
