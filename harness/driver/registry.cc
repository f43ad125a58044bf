#include <filesystem>

#include <fmt/format.h>

#include "drivers/iptables/iptables_driver.h"
#include "drivers/iptc/iptc_driver.h"
#include "drivers/nftables/nftables_driver.h"
#include "harness/driver/driver.h"

namespace svcbench {
namespace {

bool Known(std::string_view name) {
  for (const auto& n : KnownBackendNames()) {
    if (n == name) return true;
  }
  return false;
}

void CheckKnown(std::string_view name) {
  if (!Known(name)) {
    throw std::invalid_argument(fmt::format("unknown backend '{}' (known: {})", name,
                                            fmt::join(KnownBackendNames(), ", ")));
  }
}

}  // namespace

std::unique_ptr<Driver> MakeDriver(std::string_view name, const DriverContext& ctx) {
  CheckKnown(name);
  if (name == "iptables-legacy") return MakeIptablesDriver(IptablesVariant::kLegacy, ctx);
  if (name == "iptables-nft") return MakeIptablesDriver(IptablesVariant::kNft, ctx);
  if (name == "nftables") return MakeNftablesDriver(NftTransport::kNetlink, ctx);
  if (name == "nftables-cli") return MakeNftablesDriver(NftTransport::kCli, ctx);
  if (name == "nftables-shared-map") {
    return MakeNftablesDriver(NftTransport::kNetlink, ctx, nft::EndpointDispatch::kSharedMap);
  }
  if (name == "nftables-cli-shared-map") {
    return MakeNftablesDriver(NftTransport::kCli, ctx, nft::EndpointDispatch::kSharedMap);
  }
  if (name == "iptc") return MakeIptcDriver(ctx);
  return nullptr;
}

Availability ProbeBackend(std::string_view name) {
  CheckKnown(name);
  if (name == "iptables-legacy") return ProbeIptables(IptablesVariant::kLegacy);
  if (name == "iptables-nft") return ProbeIptables(IptablesVariant::kNft);
  if (name == "nftables") return ProbeNftables(NftTransport::kNetlink);
  if (name == "nftables-cli" || name == "nftables-cli-shared-map") {
    return ProbeNftables(NftTransport::kCli);
  }
  if (name == "nftables-shared-map") return ProbeNftables(NftTransport::kNetlink);
  if (name == "iptc") return ProbeIptc();
  if (name == "ipvs") {
    if (!std::filesystem::exists("/proc/net/ip_vs")) {
      return {false, "this kernel has no IP_VS (no /proc/net/ip_vs; modules cannot be loaded)"};
    }
    return {false, "not implemented yet"};
  }
  return {false, "not implemented yet"};
}

}  // namespace svcbench
