// The nftables backends: kube-proxy's nftables-mode ruleset (drivers/nftables/ruleset.h),
// committed either as one netlink batch built in-process with libnftnl ("nftables") or as text
// piped to `nft -f -` ("nftables-cli"), so a report can set the tool's cost beside the kernel's.
// The "-shared-map" variants pick endpoints through one map for all services instead of
// kube-proxy's anonymous map per service (EndpointDispatch::kSharedMap): same verdicts, but the
// kernel loads them in linear time (docs/nftables-scaling.md).
#pragma once

#include <memory>

#include "drivers/nftables/ruleset.h"
#include "harness/driver/driver.h"

namespace svcbench {

enum class NftTransport { kNetlink, kCli };

// "nftables", "nftables-cli", "nftables-shared-map", "nftables-cli-shared-map", ….
std::string_view NftablesDriverName(
    NftTransport transport, nft::EndpointDispatch dispatch = nft::EndpointDispatch::kAnonymousMap);

// A driver bound to the node namespace of `ctx` (ctx.netns_fd must stay open while it lives).
// Sync replaces the whole `ip kube-proxy` table in one transaction; CommitStats carries
// build_s/commit_s for the netlink transport.
std::unique_ptr<Driver> MakeNftablesDriver(
    NftTransport transport, const DriverContext& ctx,
    nft::EndpointDispatch dispatch = nft::EndpointDispatch::kAnonymousMap);

// Whether nf_tables answers (NFT_MSG_GETGEN from a throwaway network namespace) and, for the
// CLI transport, whether nft is installed; the reason says what is missing or what is used.
Availability ProbeNftables(NftTransport transport);

}  // namespace svcbench
