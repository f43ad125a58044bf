// `--set KEY=VALUE` overrides applied to a parsed scenario before it is validated.
#pragma once

#include <string>
#include <vector>

#include "harness/scenario/yaml_util.h"

namespace svcbench::scenario_internal {

// Applies one override to `root`, which must be a map: KEY is a dotted path of map keys
// (intermediate maps are created when missing), VALUE is parsed as YAML and replaces what was
// at KEY. `index` is the override's 0-based position among all of them; nodes it adds point at
// `--set:<index + 1>:<column in the override>`, so a later validation error names the override
// rather than the file. Below a path listed in `opaque_maps` the rest of KEY is one key, because
// those maps' keys contain dots themselves (slo.latency.overhead.p99). Throws ScenarioError.
void ApplyOverride(YamlNode& root, const std::string& override_text, int index,
                   const std::vector<std::string>& opaque_maps);

}  // namespace svcbench::scenario_internal
