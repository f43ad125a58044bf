// What the netlink transport spends in user space before the kernel sees anything: building the
// whole-table batch with libnftnl (sync.build.wall), beside rendering the same ruleset as nft
// text. Chain names are derived once outside the loop, as kube-proxy caches them.
#include <benchmark/benchmark.h>

#include "drivers/nftables/nft_batch.h"
#include "drivers/nftables/nft_text.h"
#include "harness/model/generator.h"

namespace svcbench::nft {
namespace {

Ruleset MakeRuleset(int64_t services) {
  return BuildRuleset(Generate(
      {.seed = 42, .services = static_cast<uint32_t>(services), .endpoints_per_service = 2}));
}

void BM_NftBatchBuild(benchmark::State& state) {
  const Ruleset rs = MakeRuleset(state.range(0));
  size_t bytes = 0, messages = 0;
  for (auto _ : state) {
    const Batch b = BuildFullSyncBatch(rs);
    bytes = b.Bytes();
    messages = b.Messages();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["messages"] = static_cast<double>(messages);
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_NftBatchBuild)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_NftTextRender(benchmark::State& state) {
  const Ruleset rs = MakeRuleset(state.range(0));
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = RenderNftText(rs);
    bytes = text.size();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_NftTextRender)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace svcbench::nft
