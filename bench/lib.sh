# Helpers shared by the bench/ scripts (sourced, not run).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || shuf -i 20000-60000 -n 1; }
# Polls URL until it answers, for at most 10 s.
wait_for() { for _ in $(seq 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer: $1" >&2; return 1; }
ticks=$(getconf CLK_TCK)
# CPU (user + system) of the given processes, in clock ticks.
cpu_ticks() { local sum=0; for p in "$@"; do [ -r "/proc/$p/stat" ] && sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $sum; }
# CPU time of the given processes (all their threads), in nanoseconds, from the scheduler's own runtime
# (/proc/PID/task/*/schedstat). Exact, unlike cpu_ticks: the kernel samples utime/stime at each tick, so a
# process that runs in bursts shorter than a tick is charged ±sqrt(ticks) at random.
cpu_ns() { local sum=0 t; for p in "$@"; do for t in /proc/"$p"/task/*/schedstat; do [ -r "$t" ] && sum=$((sum + $(cut -d' ' -f1 "$t" 2>/dev/null || echo 0))); done; done; echo $sum; }
# Peak resident memory of the given processes, in KiB.
peak_rss_kb() { local sum=0; for p in "$@"; do [ -r "/proc/$p/status" ] && sum=$((sum + $(awk '/VmHWM/ {print $2}' "/proc/$p/status"))); done; echo $sum; }

# Starts a prefill and a decode backend on the given ports (their pids are appended to the caller's `pids`):
#   mock   pd-mock engines answering as fast as they can (decode: one token per DECODE_DELAY_MS if not 0)
#   nginx  a static nginx serving, for every request, the bytes pd-mock gave for BODY (prefill JSON; decode
#          SSE with a Content-Length): the cheapest possible backends
# Usage: start_backends mock|nginx PREFILL_PORT DECODE_PORT BODY DECODE_DELAY_MS WORK_DIR
start_backends() {
  local kind=$1 prefill_port=$2 decode_port=$3 body=$4 decode_delay=$5 work=$6 mock_pid
  local mock_flags=(--kv-timeout 0.5 --kv-blocks 4194304 --no-kv-side-channel --max-num-seqs 100000)
  case "$kind" in
    mock)
      build/pd-mock --port "$prefill_port" --no-delay "${mock_flags[@]}" & pids+=($!)
      if [ "$decode_delay" = 0 ]; then
        build/pd-mock --port "$decode_port" --no-delay "${mock_flags[@]}" & pids+=($!)
      else
        build/pd-mock --port "$decode_port" --prefill-us-per-token 0 --decode-ms-per-token "$decode_delay" \
          --decode-ms-per-seq 0 "${mock_flags[@]}" & pids+=($!)
      fi ;;
    nginx)
      # Record pd-mock's answers for this workload once, then serve them statically.
      build/pd-mock --port "$prefill_port" --no-delay --created 1700000000 "${mock_flags[@]}" > /dev/null & mock_pid=$!
      wait_for "http://127.0.0.1:$prefill_port/health"
      curl -sf "http://127.0.0.1:$prefill_port/v1/completions" -H 'Content-Type: application/json' -d \
        '{"model":"mock-model","prompt":"Say something about caches.","max_tokens":1,"stream":false,"kv_transfer_params":{"do_remote_decode":true}}' \
        > "$work/prefill.body"
      curl -sf "http://127.0.0.1:$prefill_port/v1/completions" -H 'Content-Type: application/json' -d "$body" > "$work/decode.body"
      kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true
      nginx_string() { python3 -c 'import sys; s=open(sys.argv[1]).read(); print(s.replace("\\","\\\\").replace("\x27","\\\x27").replace("\n","\\n"))' "$1"; }
      mkdir -p "$work/backends"
      cat > "$work/backends.conf" <<NGINX
worker_processes 1;
pid $work/backends.pid;
error_log $work/backends/error.log warn;
events { worker_connections 16384; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $work/backends/body; proxy_temp_path $work/backends/proxy;
  fastcgi_temp_path $work/backends/fcgi; uwsgi_temp_path $work/backends/uwsgi; scgi_temp_path $work/backends/scgi;
  server {
    listen 127.0.0.1:$prefill_port;
    location = /health { return 200; }
    location / { default_type application/json; return 200 '$(nginx_string "$work/prefill.body")'; }
  }
  server {
    listen 127.0.0.1:$decode_port;
    location = /health { return 200; }
    location / { default_type text/event-stream; return 200 '$(nginx_string "$work/decode.body")'; }
  }
}
NGINX
      nginx -c "$work/backends.conf" -g 'daemon off;' & pids+=($!) ;;
    *) echo "unknown backends $kind (mock or nginx)" >&2; return 2 ;;
  esac
}
