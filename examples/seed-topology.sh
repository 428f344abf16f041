#!/usr/bin/env bash
# Rehearses the large-scale-EP guide's deployment on one machine: 4 "prefill nodes" (127.0.0.1-4, 2 engines
# each on ports 9000-9001) and 4 "decode nodes" (127.0.0.5-8, 16 engines each on ports 9000-9015), simulated
# by pd-mock, behind pd-proxy started with the guide's exact command line (loopback addresses instead of
# 192.0.0.x). Build first (cmake -S . -B build && cmake --build build).
# Usage: examples/seed-topology.sh [--check]
#   --check  sends 128 streamed requests, verifies every engine served, prints the spread, and exits.
#   Without it, the cluster runs until Ctrl-C; try: curl -N localhost:8000/v1/completions -d '{...}'
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${PD_BIN:-build}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

for n in 1 2 3 4; do
  "$bin/pd-mock" --host "127.0.0.$n" --port 9000 --ports-count 2 --decode-ms-per-token 10 &
  pids+=($!)
done
for n in 5 6 7 8; do
  "$bin/pd-mock" --host "127.0.0.$n" --port 9000 --ports-count 16 --decode-ms-per-token 10 &
  pids+=($!)
done

"$bin/pd-proxy" \
  --port 8000 \
  --host 0.0.0.0 \
  --prefiller-hosts \
    127.0.0.1 \
    127.0.0.2 \
    127.0.0.3 \
    127.0.0.4 \
  --prefiller-hosts-num \
    2 2 2 2 \
  --prefiller-ports \
    9000 9000 9000 9000 \
  --prefiller-ports-inc \
    2 2 2 2\
  --decoder-hosts \
    127.0.0.5 \
    127.0.0.6 \
    127.0.0.7 \
    127.0.0.8 \
  --decoder-hosts-num \
    16 16 16 16 \
  --decoder-ports  \
    9000 9000 9000 9000 \
  --decoder-ports-inc \
    16 16 16 16 \
  &
pids+=($!)

for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:8000/health && break; sleep 0.1; done
curl -sS http://127.0.0.1:8000/healthcheck; echo

if [ "${1:-}" != "--check" ]; then
  echo "cluster up: 8 prefill engines, 64 decode engines, proxy on :8000. Ctrl-C stops everything."
  wait
  exit 0
fi

for batch in 0 1 2 3; do
  clients=()
  for i in $(seq 32); do
    curl -sS -N http://127.0.0.1:8000/v1/completions -H 'Content-Type: application/json' \
      -d "{\"model\":\"mock-model\",\"prompt\":\"request $batch-$i\",\"max_tokens\":4,\"stream\":true}" \
      > /dev/null &
    clients+=($!)
  done
  wait "${clients[@]}"
done
served=0
for n in 5 6 7 8; do
  for p in $(seq 9000 9015); do
    count=$(curl -sS "http://127.0.0.$n:$p/metrics" | awk '/^pd_mock_decode_requests_total/ {print $2}')
    [ "${count:-0}" -gt 0 ] && served=$((served + 1))
  done
done
prefilled=0
for n in 1 2 3 4; do
  for p in 9000 9001; do
    count=$(curl -sS "http://127.0.0.$n:$p/metrics" | awk '/^pd_mock_prefill_requests_total/ {print $2}')
    [ "${count:-0}" -gt 0 ] && prefilled=$((prefilled + 1))
  done
done
echo "prefill engines used: $prefilled/8, decode engines used: $served/64"
[ "$prefilled" -eq 8 ] && [ "$served" -eq 64 ]
