#!/usr/bin/env bash
# Runs every fuzz target one after the other (one process, no workers: the machine is shared) and
# prints libFuzzer's final statistics of each. Usage, from the repository root or fuzz/:
#   fuzz/run_all.sh [seconds per provider target] [target ...]
# Stops each target at 10 million executions or after the time given (default 1800 s);
# header_parsers gets a tenth of it. Logs go to fuzz/artifacts/logs/<target>.log, crashes to
# fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-1800}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(header_parsers tiktok_receive front_receive signalwire_receive
           salesforce_receive_event rocketchat_receive rapidpro_receive)
fi
mkdir -p artifacts/logs
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none
for t in "${targets[@]}"; do
  limit="$secs"
  if [ "$t" = header_parsers ]; then limit=$(( secs / 10 + 1 )); fi
  start=$(date +%s)
  status=0
  # One process, its log straight to the target's file: several of these scripts (with
  # different targets) can run at once.
  cargo fuzz run -s none "$t" -- -runs=10000000 \
    -max_total_time="$limit" -print_final_stats=1 >"artifacts/logs/$t.log" 2>&1 || status=$?
  end=$(date +%s)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "artifacts/logs/$t.log" | tail -1 | grep -o '[0-9]*$' || echo '?')
  crash=$(grep -c -E 'ERROR: libFuzzer|panicked at' "artifacts/logs/$t.log" || true)
  echo "$t: executions=$runs seconds=$(( end - start )) crash_reports=$crash exit=$status"
done
