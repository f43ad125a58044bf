#include "drivers/nftables/nftables_driver.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstring>

#include "drivers/nftables/nft_drivers.h"
#include "drivers/nftables/nft_text.h"

namespace svcbench {
namespace nft {
namespace {

using Clock = std::chrono::steady_clock;

double ThreadCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string OneError(const Batch& batch, const Ruleset& rs, const AckError& e) {
  std::string s =
      fmt::format("{}: {}", batch.Describe(e.seq, rs, e.attr_offset), std::strerror(e.error));
  if (!e.kernel_message.empty()) s += fmt::format(" (kernel: {})", e.kernel_message);
  return s;
}

}  // namespace

Payload RenderPayload(const ServiceSet& set, const RulesetOptions& options) {
  const Ruleset rs = BuildRuleset(set, options);
  Payload p;
  p.text = RenderNftText(rs);
  p.rules = rs.Rules();
  p.chains = rs.Chains();
  return p;
}

std::string DescribeErrors(const Batch& batch, const Ruleset& rs,
                           const std::vector<AckError>& errors) {
  if (errors.empty()) return "nftables: no error";
  // The first error is the cause; later ones are often its consequences.
  std::string s =
      "nftables: transaction aborted, nothing applied: " + OneError(batch, rs, errors.front());
  constexpr size_t kMoreShown = 3;
  if (errors.size() > 1) {
    s += fmt::format("; {} more error(s)", errors.size() - 1);
    for (size_t i = 1; i < errors.size() && i <= kMoreShown; ++i) {
      s += fmt::format("{} {}", i == 1 ? ":" : ";", OneError(batch, rs, errors[i]));
    }
  }
  return s;
}

Availability ProbeNetlink() {
  try {
    NetlinkSocket s = NetlinkSocket::Open(-1);
    const uint32_t gen = s.Generation();
    return {true, fmt::format("nf_tables answers (NFT_MSG_GETGEN, generation {}); libnftnl "
                              "batches over NETLINK_NETFILTER",
                              gen)};
  } catch (const std::exception& e) {
    // Without root the namespace cannot even be created, which says nothing about the kernel.
    return {false,
            fmt::format("cannot reach nf_tables: {}{}", e.what(),
                        geteuid() != 0 ? " (needs root: CAP_SYS_ADMIN and CAP_NET_ADMIN)" : "")};
  }
}

NetlinkDriver::NetlinkDriver(const DriverContext& ctx, NetlinkDriverOptions options)
    : ctx_(ctx), options_(std::move(options)) {}

std::string_view NetlinkDriver::Name() const {
  return NftablesDriverName(NftTransport::kNetlink, options_.ruleset.dispatch);
}

Availability NetlinkDriver::Probe() const { return ProbeNftables(NftTransport::kNetlink); }

Payload NetlinkDriver::Render(const ServiceSet& set) const {
  return RenderPayload(set, options_.ruleset);
}

NetlinkSocket& NetlinkDriver::Socket() {
  if (!socket_.has_value()) socket_.emplace(NetlinkSocket::Open(ctx_.netns_fd));
  return *socket_;
}

BatchOptions NetlinkDriver::NextBatchOptions() const {
  BatchOptions o;
  o.ack = options_.ack;
  o.order = options_.order;
  o.first_seq = next_seq_;
  o.duplicate_service_element = options_.duplicate_service_element;
  return o;
}

CommitStats NetlinkDriver::Sync(const ServiceSet& set, const Payload& /*payload*/) {
  if (ctx_.netns_fd < 0) throw DriverError("nftables: no node namespace (netns_fd < 0)");
  Ruleset rs;
  try {
    rs = BuildRuleset(set, options_.ruleset);
  } catch (const std::invalid_argument& e) {
    throw DriverError(fmt::format("nftables: {}", e.what()));
  }
  NetlinkSocket& sock = Socket();

  const double cpu0 = ThreadCpuSeconds();
  const auto t0 = Clock::now();
  const Batch batch = BuildFullSyncBatch(rs, NextBatchOptions());
  const auto t1 = Clock::now();
  next_seq_ = batch.LastSeq() + 2;
  CommitTiming timing;
  const std::vector<AckError> errors = sock.Commit(batch, &timing);
  const auto t2 = Clock::now();
  const double cpu1 = ThreadCpuSeconds();
  if (!errors.empty()) throw DriverError(DescribeErrors(batch, rs, errors));

  CommitStats st;
  st.build_s = std::chrono::duration<double>(t1 - t0).count();
  st.commit_s = std::chrono::duration<double>(t2 - t1).count();
  st.wall_s = *st.build_s + *st.commit_s;
  if (ctx_.commit_timeout_s > 0 && st.wall_s > ctx_.commit_timeout_s) {
    // A netlink transaction cannot be abandoned halfway, so the bound is applied after the
    // fact: the run records the overrun and does not try this backend at larger sizes.
    throw DriverTimeout(fmt::format("nftables: full sync took {:.1f} s, over the {:.0f} s timeout",
                                    st.wall_s, ctx_.commit_timeout_s));
  }
  // The kernel does its work inside sendmsg(), in this thread: this counts it too.
  st.cpu_s = cpu1 - cpu0;
  st.payload_bytes = timing.bytes;
  st.rules = rs.Rules();
  return st;
}

void NetlinkDriver::Clear() {
  if (ctx_.netns_fd < 0) throw DriverError("nftables: no node namespace (netns_fd < 0)");
  BatchOptions o = NextBatchOptions();
  o.duplicate_service_element.reset();
  const Batch batch = BuildClearBatch(o);
  next_seq_ = batch.LastSeq() + 2;
  const std::vector<AckError> errors = Socket().Commit(batch, nullptr);
  if (!errors.empty()) throw DriverError(DescribeErrors(batch, Ruleset{}, errors));
}

}  // namespace nft

std::string_view NftablesDriverName(NftTransport transport, nft::EndpointDispatch dispatch) {
  const bool netlink = transport == NftTransport::kNetlink;
  switch (dispatch) {
    case nft::EndpointDispatch::kAnonymousMap:
      return netlink ? "nftables" : "nftables-cli";
    case nft::EndpointDispatch::kSharedMap:
      return netlink ? "nftables-shared-map" : "nftables-cli-shared-map";
    case nft::EndpointDispatch::kRuleCascade:
      return netlink ? "nftables-rule-cascade" : "nftables-cli-rule-cascade";
  }
  return "?";
}

std::unique_ptr<Driver> MakeNftablesDriver(NftTransport transport, const DriverContext& ctx,
                                           nft::EndpointDispatch dispatch) {
  nft::RulesetOptions ruleset;
  ruleset.dispatch = dispatch;
  if (transport == NftTransport::kNetlink) {
    return std::make_unique<nft::NetlinkDriver>(ctx, nft::NetlinkDriverOptions{.ruleset = ruleset});
  }
  return std::make_unique<nft::CliDriver>(ctx, ruleset);
}

Availability ProbeNftables(NftTransport transport) {
  Availability netlink = nft::ProbeNetlink();
  if (transport == NftTransport::kNetlink || !netlink.available) return netlink;
  if (!HaveCommand("nft")) return {false, "nft not found in PATH (apt-get install nftables)"};
  SpawnOptions o;
  o.argv = {"nft", "--version"};
  o.timeout_s = 10;
  const SpawnResult v = Spawn(o);
  if (!v.Ok()) return {false, v.Describe("nft --version")};
  std::string version = v.out.substr(0, v.out.find('\n'));
  return {true, fmt::format("{}; nf_tables answers", version)};
}

}  // namespace svcbench
