// The input format of the scenario fuzzer, shared with the unit test that replays
// test/fixtures/fuzz-regressions/ (so a regression file means the same thing in both places).
//
//   <YAML scenario text>
//   %%
//   <one --set override (KEY=VALUE) per line>
//
// Everything before the first line that is exactly "%%" is the scenario; each line after it is
// one override, in order. Without a "%%" line the whole input is the scenario and there are no
// overrides, so scenarios/*.yaml are valid seeds as they are. "%%" cannot start a valid YAML
// document (a '%' line is a directive), so the split never hides a scenario worth testing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace svcbench::fuzz {

struct ScenarioFuzzInput {
  std::string yaml;
  std::vector<std::string> overrides;
};

inline ScenarioFuzzInput SplitScenarioFuzzInput(std::string_view data) {
  constexpr std::string_view kSeparator = "%%";
  ScenarioFuzzInput input;
  size_t line_start = 0;
  bool in_overrides = false;
  // A trailing newline ends the last line; it does not start an empty override.
  while (line_start < data.size()) {
    const size_t newline = data.find('\n', line_start);
    const size_t line_end = newline == std::string_view::npos ? data.size() : newline;
    const std::string_view line = data.substr(line_start, line_end - line_start);
    if (in_overrides) {
      input.overrides.emplace_back(line);
    } else if (line == kSeparator) {
      in_overrides = true;
    } else {
      input.yaml.append(line);
      if (newline != std::string_view::npos) input.yaml.push_back('\n');
    }
    if (newline == std::string_view::npos) break;
    line_start = newline + 1;
  }
  return input;
}

}  // namespace svcbench::fuzz
