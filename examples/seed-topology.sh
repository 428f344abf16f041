#!/usr/bin/env bash
# Rehearses the large-scale-EP guide's deployment on one machine: 4 "prefill nodes" (127.0.0.1-4, 2 engines
# each) and 4 "decode nodes" (127.0.0.5-8, 16 engines each), simulated by pd-mock, behind pd-proxy started
# with the guide's command line (loopback addresses instead of 192.0.0.x, the proxy on 127.0.0.1 instead of
# 0.0.0.0, and ports that are free here instead of 8000 and 9000). Build first (cmake -S . -B build &&
# cmake --build build).
# Usage: examples/seed-topology.sh [--check]
#   --check  sends 128 streamed requests, verifies every engine served, prints the spread, and exits.
#   Without it, the cluster runs until Ctrl-C; try: curl -N 127.0.0.1:$SEED_PORT/v1/completions -d '{...}'
# Environment: SEED_PORT (the proxy's port), SEED_ENGINE_PORT (each node's first engine port; a node uses up to
#   16 from there), PD_BIN (the directory of pd-proxy and pd-mock, default build). Unset ports are ones the
#   kernel reports free on every 127.0.0.1-8 (scripts/free-ports.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${PD_BIN:-build}
hosts=()
for n in 1 2 3 4 5 6 7 8; do hosts+=(--host "127.0.0.$n"); done
free=$(scripts/free-ports.py "${hosts[@]}" 1 16)
proxy_port=${SEED_PORT:-$(sed -n 1p <<<"$free")}
engine_port=${SEED_ENGINE_PORT:-$(sed -n 2p <<<"$free")}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

for n in 1 2 3 4; do
  "$bin/pd-mock" --host "127.0.0.$n" --port "$engine_port" --ports-count 2 --decode-ms-per-token 10 &
  pids+=($!)
done
for n in 5 6 7 8; do
  "$bin/pd-mock" --host "127.0.0.$n" --port "$engine_port" --ports-count 16 --decode-ms-per-token 10 &
  pids+=($!)
done

"$bin/pd-proxy" \
  --port "$proxy_port" \
  --host 127.0.0.1 \
  --prefiller-hosts \
    127.0.0.1 \
    127.0.0.2 \
    127.0.0.3 \
    127.0.0.4 \
  --prefiller-hosts-num \
    2 2 2 2 \
  --prefiller-ports \
    "$engine_port" "$engine_port" "$engine_port" "$engine_port" \
  --prefiller-ports-inc \
    2 2 2 2 \
  --decoder-hosts \
    127.0.0.5 \
    127.0.0.6 \
    127.0.0.7 \
    127.0.0.8 \
  --decoder-hosts-num \
    16 16 16 16 \
  --decoder-ports  \
    "$engine_port" "$engine_port" "$engine_port" "$engine_port" \
  --decoder-ports-inc \
    16 16 16 16 \
  &
pids+=($!)

# Every engine answers and every process still runs (a taken port makes its process exit), at most 10 s each.
up() {  # up URL: polls URL until it answers while all processes live
  for _ in $(seq 100); do
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { echo "seed-topology: process $pid exited (port taken?)" >&2; exit 1; }
    done
    curl -sf -o /dev/null --max-time 2 "$1" && return 0
    sleep 0.1
  done
  echo "seed-topology: no answer from $1 within 10 s" >&2; exit 1
}
for n in 1 2 3 4; do up "http://127.0.0.$n:$((engine_port + 1))/health"; done
for n in 5 6 7 8; do up "http://127.0.0.$n:$((engine_port + 15))/health"; done
up "http://127.0.0.1:$proxy_port/health"
curl -sS "http://127.0.0.1:$proxy_port/healthcheck"; echo

if [ "${1:-}" != "--check" ]; then
  echo "cluster up: 8 prefill engines, 64 decode engines, proxy on 127.0.0.1:$proxy_port. Ctrl-C stops everything."
  wait
  exit 0
fi

for batch in 0 1 2 3; do
  clients=()
  for i in $(seq 32); do
    curl -sS -N "http://127.0.0.1:$proxy_port/v1/completions" -H 'Content-Type: application/json' \
      -d "{\"model\":\"mock-model\",\"prompt\":\"request $batch-$i\",\"max_tokens\":4,\"stream\":true}" \
      > /dev/null &
    clients+=($!)
  done
  wait "${clients[@]}"
done
served=0
for n in 5 6 7 8; do
  for p in $(seq "$engine_port" "$((engine_port + 15))"); do
    count=$(curl -sS "http://127.0.0.$n:$p/metrics" | awk '/^pd_mock_decode_requests_total/ {print $2}')
    [ "${count:-0}" -gt 0 ] && served=$((served + 1))
  done
done
prefilled=0
for n in 1 2 3 4; do
  for p in "$engine_port" "$((engine_port + 1))"; do
    count=$(curl -sS "http://127.0.0.$n:$p/metrics" | awk '/^pd_mock_prefill_requests_total/ {print $2}')
    [ "${count:-0}" -gt 0 ] && prefilled=$((prefilled + 1))
  done
done
echo "prefill engines used: $prefilled/8, decode engines used: $served/64"
[ "$prefilled" -eq 8 ] && [ "$served" -eq 64 ]
