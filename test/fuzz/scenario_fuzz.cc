// libFuzzer target: the scenario parser and `--set` overrides, on arbitrary bytes.
//
// Input format: see scenario_fuzz_input.h. ScenarioError is the parser's answer to bad input
// and is expected; any other exception escaping ParseScenario, and any sanitizer report, is a
// bug (libFuzzer reports an escaping exception as a crash via std::terminate -> abort).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "harness/scenario/scenario.h"
#include "test/fuzz/scenario_fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const svcbench::fuzz::ScenarioFuzzInput input = svcbench::fuzz::SplitScenarioFuzzInput(
      std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    svcbench::ParseScenario(input.yaml, "fuzz", input.overrides);
  } catch (const svcbench::ScenarioError&) {
    // Expected: bad input gets a file:line:col error.
  }
  return 0;
}
