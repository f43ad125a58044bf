#!/usr/bin/env bash
# Runs the smoke scenario end to end (installing and building first when needed) and prints
# where the report is.
#
#   scripts/smoke.sh (as root) [extra `svcbench run` options, e.g. --set sweep.services=[1000]]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
exec build/svcbench run scenarios/smoke.yaml "$@"
