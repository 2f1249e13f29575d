#!/usr/bin/env bash
# Gateway throughput on loopback, in one run: `omnichannel serve` on its embedded defaults
# (every provider on demo settings, in-memory stores, events to stdout, here /dev/null)
# against a bare axum handler (crates/axum/examples/bare.rs) on the same machine.
#
# Load: wrk (installed with apt-get when missing) posting signed ~1 KiB TikTok `im_receive_msg`
# webhooks to /webhooks/tiktok/demo (signature verification on, demo secret, fresh timestamp):
#   - unique:  every request a new message id (verify + parse + normalize + dedup insert + sink);
#   - replay:  one request over and over (verify + parse + dedup hit: a provider's redelivery).
# Reported per target and mode: requests/s, p50 and p99 latency (wrk, microseconds), and the
# server's CPU time per request (/proc/<pid>/stat); then the default gateway's peak RSS (VmHWM
# of /proc/<pid>/status) after all its runs.
#
# usage: benches/gateway.sh            (DURATION=5 CONNECTIONS=32 THREADS=1 UNIQUE=DURATION*100000)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
# Enough distinct requests for 100,000 per second over the run (a unique run that wraps fails).
UNIQUE=${UNIQUE:-$((DURATION * 100000))}
GW_ADDR=${GW_ADDR:-127.0.0.1:18080}
QUIET_ADDR=${QUIET_ADDR:-127.0.0.1:18081}
BARE_ADDR=${BARE_ADDR:-127.0.0.1:18090}
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  apt-get install -y wrk >/dev/null
fi

echo "building (release)" >&2
(cd "$ROOT" && cargo build --release -q -p omnichannel-cli --bin omnichannel \
  && cargo build --release -q -p omnichannel-axum --example bare)

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  exit 1
}

# The gateway as `omnichannel serve` runs by default (an `info` access-log line per request on
# stderr, here a file), and a second one with `RUST_LOG=warn` (no per-request log line).
"$TARGET/release/omnichannel" serve --listen "$GW_ADDR" >/dev/null 2>"$WORK/gateway.log" &
GW_PID=$!
PIDS+=("$GW_PID")
RUST_LOG=warn "$TARGET/release/omnichannel" serve --listen "$QUIET_ADDR" >/dev/null 2>"$WORK/quiet.log" &
QUIET_PID=$!
PIDS+=("$QUIET_PID")
"$TARGET/release/examples/bare" "$BARE_ADDR" 2>/dev/null &
BARE_PID=$!
PIDS+=("$BARE_PID")
wait_port "$GW_ADDR"
wait_port "$QUIET_ADDR"
wait_port "$BARE_ADDR"

# CPU time (user + system, clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # target, address, requests file, mode, server pid
  local out before after
  before=$(cpu_ticks "$5")
  out=$(GW_REQUESTS="$3" GW_PATH=/webhooks/tiktok/demo GW_THREADS="$THREADS" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$ROOT/benches/gateway.lua" "http://$2" 2>&1)
  after=$(cpu_ticks "$5")
  local line
  line=$(grep '^RESULT' <<<"$out" || { echo "$out" >&2; exit 1; })
  # A figure only counts when every request was answered 2xx over a sound connection, and in
  # unique mode the gateway got none twice (a refused or deduplicated request costs less).
  if ! grep -q ' non2xx=0 socket_errors=0 ' <<<"$line" \
    || { [ "$4" = unique ] && [ "$1" != bare ] && ! grep -q ' wrapped=0' <<<"$line"; }; then
    echo "$1 $4: not a valid run: $line" >&2
    exit 1
  fi
  # The server's own CPU per request: what it costs, whatever share of the two vCPUs the load
  # generator takes.
  local requests cpu_us
  requests=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
  cpu_us=$(awk -v a="$after" -v b="$before" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.2f", (a - b) / hz / n * 1e6; else print "nan" }')
  printf '%-13s %-7s %s server_cpu_us_per_req=%s\n' "$1" "$4" "${line#RESULT }" "$cpu_us"
}

python3 "$ROOT/benches/gateway_requests.py" 1 "$WORK/replay.tsv" >&2
echo "target        mode    result"
run bare "$BARE_ADDR" "$WORK/replay.tsv" replay "$BARE_PID"
run gateway "$GW_ADDR" "$WORK/replay.tsv" replay "$GW_PID"
run gateway-warn "$QUIET_ADDR" "$WORK/replay.tsv" replay "$QUIET_PID"
# Fresh ids (and a fresh timestamp) for each unique run, so that none is a redelivery while
# `wrapped` is 0 (raise UNIQUE if it is not).
python3 "$ROOT/benches/gateway_requests.py" "$UNIQUE" "$WORK/unique.tsv" >&2
run bare "$BARE_ADDR" "$WORK/unique.tsv" unique "$BARE_PID"
run gateway "$GW_ADDR" "$WORK/unique.tsv" unique "$GW_PID"
python3 "$ROOT/benches/gateway_requests.py" "$UNIQUE" "$WORK/unique.tsv" >&2
run gateway-warn "$QUIET_ADDR" "$WORK/unique.tsv" unique "$QUIET_PID"

grep -E '^(VmHWM|VmRSS)' "/proc/$GW_PID/status" | tr -s ' \t' ' ' | sed 's/^/gateway /'
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(free -m | awk '/^Mem:/ {print $2}') MiB"
echo "rustc processes running during the run: $(pgrep -c rustc || true)"
