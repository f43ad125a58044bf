// The two nftables Driver implementations behind MakeNftablesDriver(), exposed for tests (which
// need the netlink driver's options, including a hook that makes a batch fail on purpose).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "drivers/nftables/nft_batch.h"
#include "drivers/nftables/nft_netlink.h"
#include "drivers/nftables/ruleset.h"
#include "harness/driver/driver.h"
#include "harness/util/process.h"

namespace svcbench::nft {

struct NetlinkDriverOptions {
  AckMode ack = AckMode::kLastMessage;
  BatchOrder order = BatchOrder::kBindsFirst;
  RulesetOptions ruleset = {};
  // Test hook: the next full syncs add this service port's service-ips element twice.
  std::optional<size_t> duplicate_service_element = std::nullopt;
};

// Render's payload for either transport: the nft text, and kube-proxy's counts.
Payload RenderPayload(const ServiceSet& set, const RulesetOptions& options);

// "nftables: transaction aborted, nothing applied: NEWSETELEM service-ips 198.18.3.7 . tcp .
// 80: File exists", plus how many more errors the kernel reported.
std::string DescribeErrors(const Batch& batch, const Ruleset& rs,
                           const std::vector<AckError>& errors);

// NFT_MSG_GETGEN in a throwaway network namespace.
Availability ProbeNetlink();

class NetlinkDriver final : public Driver {
 public:
  explicit NetlinkDriver(const DriverContext& ctx, NetlinkDriverOptions options = {});

  std::string_view Name() const override;
  Availability Probe() const override;
  Payload Render(const ServiceSet& set) const override;
  // Builds the batch from `set` (payload is not used: it is the text form) and commits it.
  // Deriving kube-proxy's chain names happens before the clock starts, as kube-proxy computes
  // them when a service appears, not on every sync. wall_s = build_s + commit_s.
  CommitStats Sync(const ServiceSet& set, const Payload& payload) override;
  void Clear() override;

  NetlinkDriverOptions& options() { return options_; }

 private:
  NetlinkSocket& Socket();
  BatchOptions NextBatchOptions() const;

  DriverContext ctx_;
  NetlinkDriverOptions options_;
  std::optional<NetlinkSocket> socket_;
  uint32_t next_seq_ = 1;
};

// Runs `nft -f -` with `script` on stdin inside the namespace netns_fd (via Spawn).
SpawnResult RunNftScript(int netns_fd, const std::string& script, double timeout_s = 0);

class CliDriver final : public Driver {
 public:
  explicit CliDriver(const DriverContext& ctx, RulesetOptions options = {});

  std::string_view Name() const override;
  Availability Probe() const override;
  Payload Render(const ServiceSet& set) const override;
  // Pipes payload.text (rendered here when empty) to nft; wall_s is spawn to exit of nft.
  CommitStats Sync(const ServiceSet& set, const Payload& payload) override;
  void Clear() override;

 private:
  DriverContext ctx_;
  RulesetOptions options_;
};

}  // namespace svcbench::nft
