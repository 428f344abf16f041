#!/usr/bin/env bash
# The local demo: builds pd-proxy and pd-mock, starts 2 prefill and 4 decode engines (pd-mock), the proxy in
# front of them, streams one chat completion through the proxy with curl, shows /healthcheck, then stops all.
# Everything listens on 127.0.0.1, on ports the kernel reports free (scripts/free-ports.py) unless given.
# It fails (exit 1) when one of its processes dies or an answer does not come from its own engines (they serve
# a model name made up for this run), so a server that already holds a port cannot make it pass.
# Usage: scripts/demo.sh
# Environment: DEMO_PORT (the proxy's port), DEMO_ENGINE_PORT (the first of the engines' 6 consecutive ports)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# The build tree and flags of scripts/test.sh's main build, so that neither command rebuilds the other's work
# (the deployment_files test fails if the two configure lines differ).
cmake -S . -B build -G Ninja -DPD_PROXY_WERROR=ON -DPD_PROXY_PCH=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j "$(nproc)" --target pd-proxy pd-mock

free=$(scripts/free-ports.py 1 6)
proxy_port=${DEMO_PORT:-$(sed -n 1p <<<"$free")}
engine_port=${DEMO_ENGINE_PORT:-$(sed -n 2p <<<"$free")}
model="demo-model-$$-$RANDOM"  # only this run's engines serve it
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

fail() { echo "demo: FAILED: $*" >&2; exit 1; }
alive() { kill -0 "$1" 2>/dev/null; }
wait_for() {  # wait_for NAME PID URL [TEXT]: polls URL until it answers (with TEXT in its body), at most 10 s
  local name=$1 pid=$2 url=$3 text=${4:-} body
  for _ in $(seq 100); do
    alive "$pid" || fail "$name (pid $pid) exited; is its port taken? (see its error above)"
    if body=$(curl -sf --max-time 2 "$url" 2>/dev/null) && [[ $body == *"$text"* ]]; then return 0; fi
    sleep 0.1
  done
  fail "no answer${text:+ containing $text} from $name at $url within 10 s"
}

# Engines that answer like vLLM: ~40 us per prompt token to prefill, 20 ms per generated token.
prefill_ports=$(seq "$engine_port" "$((engine_port + 1))")
decode_ports=$(seq "$((engine_port + 2))" "$((engine_port + 5))")
build/pd-mock --host 127.0.0.1 --port "$engine_port" --ports-count 2 --decode-ms-per-token 20 --model "$model" &
prefill_pid=$!
pids+=("$prefill_pid")
build/pd-mock --host 127.0.0.1 --port "$((engine_port + 2))" --ports-count 4 --decode-ms-per-token 20 \
  --model "$model" &
decode_pid=$!
pids+=("$decode_pid")
for p in $prefill_ports; do wait_for "prefill pd-mock" "$prefill_pid" "http://127.0.0.1:$p/v1/models" "\"$model\""; done
for p in $decode_ports; do wait_for "decode pd-mock" "$decode_pid" "http://127.0.0.1:$p/v1/models" "\"$model\""; done

# The reference proxy's command line, pointed at the local engines.
build/pd-proxy --host 127.0.0.1 --port "$proxy_port" \
  --prefiller-hosts 127.0.0.1 --prefiller-hosts-num 2 --prefiller-ports "$engine_port" --prefiller-ports-inc 2 \
  --decoder-hosts 127.0.0.1 --decoder-hosts-num 4 --decoder-ports "$((engine_port + 2))" --decoder-ports-inc 4 &
proxy_pid=$!
pids+=("$proxy_pid")
wait_for "pd-proxy" "$proxy_pid" "http://127.0.0.1:$proxy_port/health"

stream=$(mktemp)
trap 'cleanup; rm -f "$stream"' EXIT
echo
echo "== streaming a chat completion through pd-proxy on port $proxy_port (prefill on one engine, decode streamed from another)"
curl -sS -f -N --max-time 30 "http://127.0.0.1:$proxy_port/v1/chat/completions" \
  -H 'Content-Type: application/json' \
  -d '{"model":"'"$model"'","messages":[{"role":"user","content":"Explain prefill-decode disaggregation."}],
       "max_tokens":12,"stream":true,"stream_options":{"include_usage":true}}' | tee "$stream" ||
  fail "the chat completion through pd-proxy failed"
grep -q "\"model\":\"$model\"" "$stream" || fail "the stream did not come from this demo's engines"
grep -q '^data: \[DONE\]' "$stream" || fail "the stream did not end with data: [DONE]"
echo "== /healthcheck"
curl -sS -f --max-time 5 "http://127.0.0.1:$proxy_port/healthcheck" || fail "/healthcheck failed"
echo
echo "== decode engine metrics (the KV was pulled from the prefiller, not recomputed)"
for p in $decode_ports; do
  curl -sS --max-time 5 "http://127.0.0.1:$p/metrics" | grep -E '^pd_mock_(decode_requests|local_prefills)_total' || true
done
for pid in "${pids[@]}"; do alive "$pid" || fail "process $pid of the demo exited early"; done
echo "demo: OK (proxy on 127.0.0.1:$proxy_port, engines on 127.0.0.1:$engine_port-$((engine_port + 5)), model $model)"
