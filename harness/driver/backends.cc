#include "harness/driver/driver.h"

namespace svcbench {

const std::vector<std::string>& KnownBackendNames() {
  static const std::vector<std::string> kNames = {"iptables-legacy",
                                                  "iptables-nft",
                                                  "iptc",
                                                  "nftables",
                                                  "nftables-cli",
                                                  "nftables-shared-map",
                                                  "nftables-cli-shared-map",
                                                  "ebpf",
                                                  "ipvs"};
  return kNames;
}

}  // namespace svcbench
