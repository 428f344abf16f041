#!/usr/bin/env bash
# The local demo: builds pd-proxy and pd-mock, starts 2 prefill and 4 decode engines (pd-mock), the proxy in
# front of them, streams one chat completion through the proxy with curl, shows /healthcheck, then stops all.
# Usage: scripts/demo.sh        Environment: DEMO_PORT (proxy, default 8000), DEMO_ENGINE_PORT (default 9100)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j "$(nproc)" --target pd-proxy pd-mock

proxy_port=${DEMO_PORT:-8000}
engine_port=${DEMO_ENGINE_PORT:-9100}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_for() {  # wait_for URL: polls until it answers, at most 10 s
  for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; return 1
}

# Engines that answer like vLLM: ~40 us per prompt token to prefill, 20 ms per generated token.
build/pd-mock --host 127.0.0.1 --port "$engine_port" --ports-count 2 --decode-ms-per-token 20 &
pids+=($!)
build/pd-mock --host 127.0.0.1 --port "$((engine_port + 10))" --ports-count 4 --decode-ms-per-token 20 &
pids+=($!)
wait_for "http://127.0.0.1:$engine_port/health"
wait_for "http://127.0.0.1:$((engine_port + 10))/health"

# The reference proxy's command line, pointed at the local engines.
build/pd-proxy --host 127.0.0.1 --port "$proxy_port" \
  --prefiller-hosts 127.0.0.1 --prefiller-hosts-num 2 --prefiller-ports "$engine_port" --prefiller-ports-inc 2 \
  --decoder-hosts 127.0.0.1 --decoder-hosts-num 4 --decoder-ports "$((engine_port + 10))" --decoder-ports-inc 4 &
pids+=($!)
wait_for "http://127.0.0.1:$proxy_port/health"

echo
echo "== streaming a chat completion through pd-proxy (prefill on one engine, decode streamed from another)"
curl -sS -N "http://127.0.0.1:$proxy_port/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"mock-model","messages":[{"role":"user","content":"Explain prefill-decode disaggregation."}],
       "max_tokens":12,"stream":true,"stream_options":{"include_usage":true}}'
echo "== /healthcheck"
curl -sS "http://127.0.0.1:$proxy_port/healthcheck"
echo
echo "== decode engine metrics (the KV was pulled from the prefiller, not recomputed)"
for p in $(seq "$((engine_port + 10))" "$((engine_port + 13))"); do
  curl -sS "http://127.0.0.1:$p/metrics" | grep -E '^pd_mock_(decode_requests|local_prefills)_total' || true
done
