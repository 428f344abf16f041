# Helpers shared by the bench/ scripts (sourced, not run).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || shuf -i 20000-60000 -n 1; }
# Polls URL until it answers, for at most 10 s.
wait_for() { for _ in $(seq 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer: $1" >&2; return 1; }
ticks=$(getconf CLK_TCK)
# CPU (user + system) of the given processes, in clock ticks.
cpu_ticks() { local sum=0; for p in "$@"; do [ -r "/proc/$p/stat" ] && sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $sum; }
# Peak resident memory of the given processes, in KiB.
peak_rss_kb() { local sum=0; for p in "$@"; do [ -r "/proc/$p/status" ] && sum=$((sum + $(awk '/VmHWM/ {print $2}' "/proc/$p/status"))); done; echo $sum; }
