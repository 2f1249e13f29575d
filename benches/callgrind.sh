#!/usr/bin/env bash
# Instruction counts of the inbound benchmark (benches/inbound.rs) under callgrind: for every
# provider and body size, the instructions per call of the full inbound path and of its floor,
# and their ratio (and, for Salesforce, its bound and trees: see benches/inbound.rs). Counts are stable
# on a busy machine, unlike times.
#
# Under valgrind the CPU reports no SHA extensions, so SHA-1/SHA-256 run in software: the MAC
# weighs more than on the real CPU and the ratios come out lower (closer to 1) than Criterion's
# for the providers that sign bodies. Use them as a cross-check of where instructions go.
#
# usage: benches/callgrind.sh [N]   (N iterations per measurement, default 500)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-500}
cd "$ROOT"
BIN=$(cargo bench --bench inbound --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "inbound" and m.get("executable"):
        print(m["executable"])')
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
count() { # case, floor|full|bound|trees
  INBOUND_PROFILE="$1:$2:$N" valgrind --tool=callgrind --toggle-collect='inbound::run_n' \
    --callgrind-out-file="$OUT/cg.out" "$BIN" >/dev/null 2>&1
  awk -v n="$N" '/^summary:/ {printf "%.0f", $2 / n}' "$OUT/cg.out"
}
printf '%-18s %12s %12s %7s %12s %7s %12s %7s\n' case floor_instr full_instr ratio \
  bound_instr bound trees_instr trees
# A case's line in the list ends with the extra measurements it has (`bound`, `trees`).
INBOUND_PROFILE=list "$BIN" | while read -r name _ _ extras; do
  floor=$(count "$name" floor)
  full=$(count "$name" full)
  line=$(printf '%-18s %12s %12s %7.2f' "$name" "$floor" "$full" "$(echo "$full / $floor" | bc -l)")
  for extra in ${extras:-}; do
    n=$(count "$name" "$extra")
    line+=$(printf ' %12s %7.2f' "$n" "$(echo "$n / $floor" | bc -l)")
  done
  echo "$line"
done
