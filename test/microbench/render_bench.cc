// Generate and render cost at 1k, 10k and 100k services x 2 endpoints (the DESIGN.md sweep).
// Render must stay well under a quarter second at 100k, so it never dominates a sync cell.
//
//   ./build/test/svcbench_microbench --benchmark_filter='Render|Generate'
#include <benchmark/benchmark.h>

#include "drivers/iptables/iptables_render.h"
#include "harness/model/generator.h"

namespace svcbench {
namespace {

GeneratorSpec Spec(int64_t services) {
  GeneratorSpec spec;
  spec.seed = 42;
  spec.services = static_cast<uint32_t>(services);
  spec.endpoints_per_service = 2;
  return spec;
}

void BM_Generate(benchmark::State& state) {
  const GeneratorSpec spec = Spec(state.range(0));
  size_t ports = 0;
  for (auto _ : state) {
    ServiceSet set = Generate(spec);
    ports = set.ports.size();
    benchmark::DoNotOptimize(set);
  }
  state.counters["services"] = static_cast<double>(ports);
  state.counters["services_per_s"] =
      benchmark::Counter(static_cast<double>(ports), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Generate)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_RenderIptablesRestore(benchmark::State& state) {
  const ServiceSet set = Generate(Spec(state.range(0)));
  size_t bytes = 0;
  size_t rules = 0;
  for (auto _ : state) {
    Payload p = RenderIptablesRestore(set);
    bytes = p.text.size();
    rules = p.rules;
    benchmark::DoNotOptimize(p);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  state.counters["payload_bytes"] = static_cast<double>(bytes);
  state.counters["rules"] = static_cast<double>(rules);
  state.counters["rules_per_s"] =
      benchmark::Counter(static_cast<double>(rules), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RenderIptablesRestore)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);

// What Sync adds when stale chains must go: one copy of the payload with the -X lines spliced in
// (here: every chain of the previous set, as after a full replacement).
void BM_SpliceStaleChains(benchmark::State& state) {
  const ServiceSet set = Generate(Spec(state.range(0)));
  GeneratorSpec other = Spec(state.range(0));
  other.seed = 7;
  const std::vector<std::string> stale = ServiceChainNames(Generate(other));
  const std::string text = RenderIptablesRestore(set).text;
  for (auto _ : state) {
    std::string out = SpliceStaleChainDeletions(text, stale);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(text.size()) * state.iterations());
}
BENCHMARK(BM_SpliceStaleChains)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace svcbench
