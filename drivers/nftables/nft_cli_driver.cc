#include <fmt/format.h>

#include <stdexcept>

#include "drivers/nftables/nft_drivers.h"
#include "drivers/nftables/nft_text.h"
#include "drivers/nftables/nftables_driver.h"

namespace svcbench::nft {
namespace {

// nft names the offending line on stderr after its first line; keep enough to act on.
constexpr size_t kStderrShown = 600;

std::string Failure(const SpawnResult& r, std::string_view what) {
  std::string s = fmt::format("nftables-cli: {}: {}", what, r.Describe("nft"));
  if (r.err.size() > 0) {
    s += fmt::format("\n{}", r.err.substr(0, kStderrShown));
    if (r.err.size() > kStderrShown) s += "…";
  }
  return s;
}

}  // namespace

SpawnResult RunNftScript(int netns_fd, const std::string& script, double timeout_s) {
  SpawnOptions o;
  o.timeout_s = timeout_s;
  o.argv = {"nft", "-f", "-"};
  o.netns_fd = netns_fd;
  o.stdin_data = script;
  return Spawn(o);
}

CliDriver::CliDriver(const DriverContext& ctx, RulesetOptions options)
    : ctx_(ctx), options_(options) {}

std::string_view CliDriver::Name() const {
  return NftablesDriverName(NftTransport::kCli, options_.dispatch);
}

Availability CliDriver::Probe() const { return ProbeNftables(NftTransport::kCli); }

Payload CliDriver::Render(const ServiceSet& set) const { return RenderPayload(set, options_); }

CommitStats CliDriver::Sync(const ServiceSet& set, const Payload& payload) {
  if (ctx_.netns_fd < 0) throw DriverError("nftables-cli: no node namespace (netns_fd < 0)");
  Payload rendered;
  const Payload* p = &payload;
  if (payload.text.empty()) {
    try {
      rendered = Render(set);
    } catch (const std::invalid_argument& e) {
      throw DriverError(fmt::format("nftables-cli: {}", e.what()));
    }
    p = &rendered;
  }
  const SpawnResult r = RunNftScript(ctx_.netns_fd, p->text, ctx_.commit_timeout_s);
  if (r.timed_out) throw DriverTimeout(Failure(r, "full sync"));
  if (!r.Ok()) throw DriverError(Failure(r, "full sync"));
  CommitStats st;
  st.wall_s = r.wall_s;
  st.cpu_s = r.user_s + r.sys_s;
  st.max_rss_bytes = static_cast<double>(r.max_rss_kib) * 1024.0;
  st.payload_bytes = p->text.size();
  st.rules = p->rules;
  return st;
}

void CliDriver::Clear() {
  if (ctx_.netns_fd < 0) throw DriverError("nftables-cli: no node namespace (netns_fd < 0)");
  const SpawnResult r = RunNftScript(ctx_.netns_fd, RenderNftClearText());
  if (!r.Ok()) throw DriverError(Failure(r, "clear"));
}

}  // namespace svcbench::nft
