// benchmark.json: Google Benchmark's JSON output format (as benchmark 1.7 writes it with
// --benchmark_repetitions), so tools/compare.py from libbenchmark-tools compares two runs:
//   compare.py benchmarks base/benchmark.json new/benchmark.json
//
// Only metrics in seconds are benchmarks (compare.py knows only times). Each cell becomes one
// benchmark named "<backend>/<metric>[/<label>:<value>...]/services:<N>/endpoints:<E>" with
// one "iteration" entry per sample (real_time in ns) and mean/median/stddev/cv aggregates.
// cpu_time repeats real_time: svcbench's CPU times are metrics of their own (sync.full.cpu),
// which appear as benchmarks under their own names. Failed cells are left out (compare.py
// cannot read an entry without times); they are in result.json and summary.md.
#pragma once

#include <string>

#include "harness/result/result.h"

namespace svcbench {

std::string BenchmarkJson(const Result& r);

}  // namespace svcbench
