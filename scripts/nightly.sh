#!/usr/bin/env bash
# The nightly perf job: run scenarios/nightly.yaml, record the run in the SQLite history,
# compare it with the last good run of the same scenario, write a Markdown verdict, and exit
# non-zero on a regression. Run as root (svcbench run creates network namespaces).
#
#   scripts/nightly.sh [--set KEY=VALUE ...]     arguments go to `svcbench run`
#
# Environment (all optional):
#   SVCBENCH        binary (default build/svcbench; scripts/setup.sh builds it when missing)
#   SCENARIO        scenario file (default scenarios/nightly.yaml)
#   RESULTS         results directory (default results)
#   HISTORY         SQLite history (default $RESULTS/history.sqlite)
#   BASELINE_RUNS   earlier good runs pooled into the baseline (default 1: the last good run)
#   THRESHOLD       compare --threshold (default 5%)
#   ALPHA           compare --alpha (default 0.05)
#
# Writes <run>/verdict.md, <run>/verdict.json and <run>/recommend.md, prints the verdict, and
# ends with one line: "nightly: <verdict>: <run directory>".
# Exit: 0 no regression (or the first run: it becomes the baseline); 1 regression; 2 bad
# scenario or usage; 3 environment; 4 the run finished partially (compared anyway, and a
# regression still exits 1). A regressed run is recorded as such and never becomes a baseline.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 3
SVCBENCH=${SVCBENCH:-build/svcbench}
SCENARIO=${SCENARIO:-scenarios/nightly.yaml}
RESULTS=${RESULTS:-results}
HISTORY=${HISTORY:-$RESULTS/history.sqlite}
BASELINE_RUNS=${BASELINE_RUNS:-1}
THRESHOLD=${THRESHOLD:-5%}
ALPHA=${ALPHA:-0.05}

if [[ ! -x $SVCBENCH ]]; then
  scripts/setup.sh || exit 3
fi

name=$(basename "$SCENARIO" .yaml)
run_dir="$RESULTS/$(date -u +%Y%m%dT%H%M%SZ)-$name"
mkdir -p "$RESULTS"

run_rc=0
"$SVCBENCH" run "$SCENARIO" --out "$run_dir" --history "$HISTORY" "$@" || run_rc=$?
if [[ ! -f $run_dir/result.json ]]; then
  echo "nightly: run failed (exit $run_rc) before writing a result" >&2
  exit "$run_rc"
fi

cmp_rc=0
"$SVCBENCH" compare "$run_dir" --against history --history "$HISTORY" \
  --last "$BASELINE_RUNS" --record-verdict --threshold "$THRESHOLD" --alpha "$ALPHA" \
  --markdown "$run_dir/verdict.md" --json "$run_dir/verdict.json" >/dev/null || cmp_rc=$?
# Informational: which sizes each backend holds under the default SLOs.
"$SVCBENCH" recommend "$run_dir" >"$run_dir/recommend.md" 2>&1 || true

if [[ -f $run_dir/verdict.md ]]; then
  cat "$run_dir/verdict.md"
fi
case $cmp_rc in
  0) verdict=ok ;;
  1) verdict=regression ;;
  *) verdict="compare failed (exit $cmp_rc)" ;;
esac
if ((cmp_rc == 0 && run_rc != 0)); then
  verdict="ok, but the run exited $run_rc"
fi
echo "nightly: $verdict: $run_dir"
if ((cmp_rc != 0)); then
  exit "$cmp_rc"
fi
exit "$run_rc"
