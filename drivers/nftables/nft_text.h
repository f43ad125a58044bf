// The nftables ruleset as `nft -f` input: what the nftables-cli transport pipes to nft, and what
// `svcbench render --backend nftables` prints for either transport.
#pragma once

#include <string>

#include "drivers/nftables/ruleset.h"

namespace svcbench::nft {

// Pure. A full sync in one nft transaction: "add table" (so the delete cannot fail on a fresh
// node), "delete table", then the whole table again. Lines are knftables-style ("add chain ip
// kube-proxy X", one object per line) in kube-proxy's order: for each service port its endpoint
// chains, its service chain, its service-ips element, then their rules. The service chains'
// dispatch follows rs.options.dispatch (kSharedMap adds its map and dispatch chains up front).
std::string RenderNftText(const Ruleset& rs);

// Text that removes the table whether or not it exists.
std::string RenderNftClearText();

}  // namespace svcbench::nft
