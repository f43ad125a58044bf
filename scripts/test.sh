#!/usr/bin/env bash
# The whole test suite: installs and builds when needed, then runs the unit tests (no root)
# and the integration tests (root: real namespaces, real iptables; they skip without root).
#
#   sudo scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

if command -v clang-format >/dev/null; then
  # Unformatted code fails the suite, so style never drifts between engineers.
  mapfile -t sources < <(git ls-files '*.cc' '*.h' 2>/dev/null || find harness drivers test -name '*.cc' -o -name '*.h')
  if ((${#sources[@]})); then
    clang-format --dry-run -Werror "${sources[@]}"
  fi
fi

ctest --test-dir build --output-on-failure -j1 --timeout 300
left=$(ip netns list 2>/dev/null | grep -c '^svcb-' || true)
if [[ ${left:-0} != 0 ]]; then
  echo "test.sh: $left svcb-* namespaces left behind by the tests" >&2
  ip netns list | grep '^svcb-' >&2
  exit 1
fi
