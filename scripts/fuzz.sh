#!/usr/bin/env bash
# Fuzzes the scenario parser and --set overrides with libFuzzer for SECONDS (default 60),
# building the clang/libFuzzer/ASan tree in build-fuzz/ first (the `fuzz` CMake preset).
#
#   scripts/fuzz.sh [SECONDS]
#
# The corpus grows in build-fuzz/corpus/ (not in git), seeded from scenarios/,
# test/fixtures/scenarios/, test/fuzz/seeds/ and test/fixtures/fuzz-regressions/. Crashes are
# written to build-fuzz/artifacts/; see test/fuzz/README.md for what to do with one.
# Exit status: 0 when the whole time passed without a finding, libFuzzer's status otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi

SETUP_SKIP_BUILD=1 scripts/setup.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

mkdir -p build-fuzz/corpus build-fuzz/artifacts
# One job on purpose: CI machines and laptops running this have 2 cores shared with builds.
exec build-fuzz/test/fuzz/svcbench_scenario_fuzz \
  -max_total_time="$seconds" -print_final_stats=1 -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -dict=test/fuzz/scenario.dict -artifact_prefix=build-fuzz/artifacts/ \
  build-fuzz/corpus scenarios test/fixtures/scenarios test/fuzz/seeds \
  test/fixtures/fuzz-regressions
