#!/usr/bin/env bash
# The peer side of bench/workloads.ts: backtrader on the same bars. Skipped with one line when
# backtrader is not installed (it is not on this machine: no PyPI).
#   bench/peer/run.sh [name...]
set -euo pipefail
if ! python3 -c 'import backtrader' 2>/dev/null; then
  echo "peer skipped: backtrader is not installed (python3 -c 'import backtrader' failed)"
  exit 0
fi
exec python3 "$(dirname "$0")/workloads.py" "$@"
