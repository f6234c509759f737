#!/usr/bin/env bash
# Wall and CPU (user + sys) time of one CLI call, the compiled build against the sources through
# tsx, alternating (tsx, dist, tsx, dist, ...) so a change in the machine's load hits both
# alike; medians of N. CPU time moves less than wall time with the load of a shared machine.
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
# "wall cpu" of one call, in ms
ms() {
  local t
  t=$(mktemp)
  /usr/bin/time -f '%e %U %S' -o "$t" "$@" >/dev/null 2>&1
  awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' "$t"
  rm -f "$t"
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
ms node bin/agent-trader.js "${args[@]}" >/dev/null; ms node --import tsx src/cli/main.ts "${args[@]}" >/dev/null # warm the file cache
echo "$(date -u +%FT%TZ) nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), node $(node -v), args: ${args[*]}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -a tsx_wall tsx_cpu dist_wall dist_cpu
for ((i = 0; i < runs; i++)); do
  read -r w c < <(ms node --import tsx src/cli/main.ts "${args[@]}")
  tsx_wall+=("$w") tsx_cpu+=("$c")
  read -r w c < <(ms node bin/agent-trader.js "${args[@]}")
  dist_wall+=("$w") dist_cpu+=("$c")
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tsx   wall median $(median "${tsx_wall[@]}") ms (runs ${tsx_wall[*]}), cpu median $(median "${tsx_cpu[@]}") ms"
echo "dist  wall median $(median "${dist_wall[@]}") ms (runs ${dist_wall[*]}), cpu median $(median "${dist_cpu[@]}") ms"
