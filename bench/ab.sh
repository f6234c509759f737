#!/usr/bin/env bash
# Alternating A/B runs of one bench in two checkouts (old, new, old, new, ...), each run
# preceded by the load average, followed by the process's wall / user / sys seconds.
#   bench/ab.sh <old-checkout> <new-checkout> <rounds> <bench args...>
#   bench/ab.sh /tmp/bench-old . 5 bench/backtest.ts 3
set -euo pipefail
old=$1 new=$2 rounds=$3
shift 3
for ((i = 1; i <= rounds; i++)); do
  for side in old new; do
    dir=$old
    [[ $side == new ]] && dir=$new
    echo "== round $i $side load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd "$dir" && /usr/bin/time -f "process: wall %e s, user %U s, sys %S s" npx tsx "$@" 2>&1)
  done
done
