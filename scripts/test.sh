#!/usr/bin/env bash
# The whole test suite: installs and builds when needed, checks formatting, then runs the unit
# tests (no root) and the integration tests (root: real namespaces, real iptables; they skip
# without root) twice: in the Release build (build/, what users run) and in the `asan` preset
# (build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer, tests only). See docs/hygiene.md.
#
#   scripts/test.sh (as root)
#   SKIP_ASAN=1 scripts/test.sh    # Release only, for a quick local loop
set -euo pipefail
cd "$(dirname "$0")/.."

# Namespaces that exist before the tests (another engineer's run on a shared machine) are not
# the tests' to answer for; only new ones left at the end fail the suite.
netns_before=$(ip netns list 2>/dev/null | awk '/^svcb-/ {print $1}' | sort)

phase_start=$SECONDS
phase() {  # prints how long the previous phase took, so the 10-minute CI budget stays visible
  echo "test.sh: $1 (previous phase: $((SECONDS - phase_start))s, total: ${SECONDS}s)" >&2
  phase_start=$SECONDS
}

phase "setup and Release build"
scripts/setup.sh

phase "format check"
# Unformatted code fails the suite, so style never drifts between engineers.
mapfile -t sources < <(git ls-files '*.cc' '*.h' 2>/dev/null || find harness drivers test -name '*.cc' -o -name '*.h')
if ((${#sources[@]})); then
  clang-format --dry-run -Werror "${sources[@]}"
fi

if [[ -z ${SKIP_ASAN:-} ]]; then
  phase "asan build"
  cmake --preset asan >/dev/null
  cmake --build --preset asan
fi

phase "Release tests"
ctest --test-dir build --output-on-failure -j1 --timeout 300

if [[ -z ${SKIP_ASAN:-} ]]; then
  phase "asan tests"
  # halt_on_error/abort: the first report fails the test. detect_leaks stays on: the tests and
  # the svcbench binary they spawn are checked for leaks at exit. Children forked to exec a tool
  # (iptables-restore, ip) leave through _exit or exec, which run no leak check.
  ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j1 --timeout 300
fi

phase "namespace check"
left=$(comm -13 <(echo "$netns_before") <(ip netns list 2>/dev/null | awk '/^svcb-/ {print $1}' | sort) |
  grep -v '^$' || true)
if [[ -n $left ]]; then
  echo "test.sh: svcb-* namespaces left behind by the tests:" >&2
  echo "$left" >&2
  exit 1
fi
phase "done"
