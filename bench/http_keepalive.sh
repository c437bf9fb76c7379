#!/usr/bin/env bash
# Keep-alive req/s and proxy CPU per request of an http listener (workers = 1):
# nginx as the backend, ringlb pinned to core 0, wrk and nginx to core 1.
#   bench/http_keepalive.sh build/ringlb [connections] [seconds]
set -euo pipefail
RINGLB=${1:?path to ringlb}; CONNS=${2:-50}; SECS=${3:-5}
DIR=$(mktemp -d); BPORT=19180; LPORT=19181
trap 'kill $LB_PID $NGX_PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
cat > "$DIR/nginx.conf" <<NGX
worker_processes 1; daemon off; pid $DIR/nginx.pid; error_log $DIR/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$BPORT; location / { return 200 "hello from nginx\n"; } } }
NGX
taskset -c 1 nginx -c "$DIR/nginx.conf" & NGX_PID=$!
cat > "$DIR/ringlb.toml" <<CFG
[global]
workers = 1
[pools.b]
backends = ["127.0.0.1:$BPORT"]
[listeners.web]
bind = "127.0.0.1:$LPORT"
mode = "http"
pool = "b"
CFG
taskset -c 0 "$RINGLB" run -c "$DIR/ringlb.toml" 2>"$DIR/ringlb.log" & LB_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$LPORT/" >/dev/null && break; sleep 0.05; done
cpu() { awk '{print $14 + $15}' "/proc/$LB_PID/stat"; }
before=$(cpu)
out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$LPORT/")
after=$(cpu)
echo "$out"
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
ticks=$(getconf CLK_TCK)
awk -v r="$reqs" -v c=$((after - before)) -v t="$ticks" \
  'BEGIN { printf "proxy CPU: %.2f s for %d requests = %.2f us/request\n", c / t, r, c / t / r * 1e6 }'
