#!/usr/bin/env bash
# Wall time of one CLI call, the compiled build against the sources through tsx, alternating
# (tsx, dist, tsx, dist, ...) so a change in the machine's load hits both alike; median of N.
#   bench/cli-startup.sh [runs=5] [cli args...]      (default args: --help)
#   bench/cli-startup.sh 5 config check config/default.json
# "dist" is what the bin runs (`node bin/agent-trader.js`, dist/ built first if not current);
# "tsx" is `node --import tsx src/cli/main.ts`, the start-up the bin had before the build (and
# its fallback now).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(--help)
node -e 'import("./bin/dist.js").then((m) => process.exit(m.distIsCurrent(".") ? 0 : 1))' || npm run --silent build
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
ms node bin/agent-trader.js "${args[@]}" >/dev/null; ms node --import tsx src/cli/main.ts "${args[@]}" >/dev/null # warm the file cache
echo "$(date -u +%FT%TZ) nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), node $(node -v), args: ${args[*]}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
tsx=() dist=()
for ((i = 0; i < runs; i++)); do
  tsx+=("$(ms node --import tsx src/cli/main.ts "${args[@]}")")
  dist+=("$(ms node bin/agent-trader.js "${args[@]}")")
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tsx   median $(median "${tsx[@]}") ms (runs ${tsx[*]})"
echo "dist  median $(median "${dist[@]}") ms (runs ${dist[*]})"
