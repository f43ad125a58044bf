// What the kernel spends committing the nftables full sync, one netlink transaction per
// iteration, for kube-proxy's ruleset and the variants docs/nftables-scaling.md compares.
// Needs root: every benchmark runs in its own namespace (svcb-mb-<pid>-<n>, removed after it).
//
//   build/test/svcbench_microbench
//     --benchmark_filter='NftCommit/anonymous-map/cold/services:(1000|2000|5000)/'
// (one command line).
//
// Time is the commit's wall time (sendmsg() to the last ACK); the counter cpu_s is the CPU the
// committing thread used over the same span, which is the kernel's work, since nf_tables
// processes the batch inside sendmsg(). Building the batch is not timed (BM_NftBatchBuild).
#include <sys/resource.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include "drivers/nftables/nft_batch.h"
#include "drivers/nftables/nft_netlink.h"
#include "harness/lab/netns.h"
#include "harness/model/generator.h"

namespace svcbench::nft {
namespace {

struct Variant {
  const char* name;
  EndpointDispatch dispatch;
  BatchOptions batch;
  // An ACK for every message (the kernel queues one skb per message) instead of the last only.
  bool ack_every_message = false;
};

// kube-proxy's ruleset as nft sends it, then with each of BatchOptions' kernel-side savings
// alone, then with all of them (the nftables backend's default); then the two other shapes.
constexpr BatchOptions kAsNft = {
    .order = BatchOrder::kAsText, .number_anonymous_sets = false, .elements_by_set_id = false};
// (All variants but one ask for a single ACK, so that they time what differs.)
const Variant kVariants[] = {
    {"anonymous-map-as-nft", EndpointDispatch::kAnonymousMap, kAsNft},
    {"anonymous-map-binds-first",
     EndpointDispatch::kAnonymousMap,
     {.order = BatchOrder::kBindsFirst,
      .number_anonymous_sets = false,
      .elements_by_set_id = false}},
    {"anonymous-map-numbered",
     EndpointDispatch::kAnonymousMap,
     {.order = BatchOrder::kAsText, .number_anonymous_sets = true, .elements_by_set_id = false}},
    {"anonymous-map-elements-by-id",
     EndpointDispatch::kAnonymousMap,
     {.order = BatchOrder::kAsText, .number_anonymous_sets = false, .elements_by_set_id = true}},
    {"anonymous-map", EndpointDispatch::kAnonymousMap, {}},
    {"shared-map", EndpointDispatch::kSharedMap, {}},
    {"shared-map-ack-every-message", EndpointDispatch::kSharedMap, {}, true},
    {"rule-cascade", EndpointDispatch::kRuleCascade, {}},
};

double ThreadCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// A namespace of the benchmark's own, removed on every path out.
class BenchNetns {
 public:
  BenchNetns() {
    static int counter = 0;
    name_ = "svcb-mb-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    netns::Create(name_);
    try {
      fd_ = netns::Open(name_);
    } catch (...) {
      netns::Remove(name_);
      throw;
    }
  }
  ~BenchNetns() {
    fd_.Reset();
    netns::Remove(name_);
  }
  BenchNetns(const BenchNetns&) = delete;
  BenchNetns& operator=(const BenchNetns&) = delete;
  int Fd() const { return fd_.Get(); }

 private:
  std::string name_;
  UniqueFd fd_;
};

void Commit(NetlinkSocket& sock, const Batch& batch, benchmark::State& state) {
  const std::vector<AckError> errors = sock.Commit(batch, nullptr);
  if (!errors.empty()) {
    state.SkipWithError(
        ("the kernel rejected the batch, errno " + std::to_string(errors.front().error)).c_str());
  }
}

void BM_NftCommit(benchmark::State& state, const Variant& v, bool warm) {
  if (geteuid() != 0) {
    state.SkipWithError("needs root (network namespaces, nf_tables)");
    return;
  }
  RulesetOptions ro;
  ro.dispatch = v.dispatch;
  const Ruleset rs = BuildRuleset(Generate({.seed = 42,
                                            .services = static_cast<uint32_t>(state.range(0)),
                                            .endpoints_per_service = 2}),
                                  ro);
  BenchNetns ns;
  NetlinkSocket sock = NetlinkSocket::Open(ns.Fd());
  uint32_t seq = 1;
  auto next = [&](const Batch& b) { seq = b.LastSeq() + 2; };
  double cpu = 0;
  size_t messages = 0;
  for (auto _ : state) {
    BatchOptions o = v.batch;
    o.ack = v.ack_every_message ? AckMode::kEveryMessage : AckMode::kLastMessage;
    o.first_seq = seq;
    const Batch clear = BuildClearBatch(o);
    next(clear);
    Commit(sock, clear, state);
    if (warm) {
      o.first_seq = seq;
      const Batch first = BuildFullSyncBatch(rs, o);
      next(first);
      Commit(sock, first, state);
    }
    o.first_seq = seq;
    const Batch batch = BuildFullSyncBatch(rs, o);
    next(batch);
    messages = batch.Messages();
    const double c0 = ThreadCpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    Commit(sock, batch, state);
    const auto t1 = std::chrono::steady_clock::now();
    cpu += ThreadCpuSeconds() - c0;
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  state.counters["cpu_s"] = benchmark::Counter(cpu, benchmark::Counter::kAvgIterations);
  state.counters["messages"] = static_cast<double>(messages);
}

const bool kRegistered = [] {
  for (const Variant& v : kVariants) {
    for (const bool warm : {false, true}) {
      auto* b = benchmark::RegisterBenchmark(
          (std::string("NftCommit/") + v.name + (warm ? "/warm" : "/cold")).c_str(),
          [&v, warm](benchmark::State& s) { BM_NftCommit(s, v, warm); });
      b->ArgName("services")
          ->Arg(1000)
          ->Arg(2000)
          ->Arg(5000)
          ->Arg(10000)
          ->Arg(20000)
          ->Arg(50000)
          ->Arg(100000)
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

}  // namespace
}  // namespace svcbench::nft
