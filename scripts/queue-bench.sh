#!/usr/bin/env bash
# Queue overhead benchmark (not a test): kobo runs vs raw apalis jobs, SQLite and Redis,
# 1/2/4 workers. Starts its own redis-server on a free loopback port. JOBS=100 by default.
set -euo pipefail
command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install redis-server" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >/dev/null &
redis=$!
trap 'kill $redis; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
REDIS_URL="redis://127.0.0.1:$port/" KOBO_LOG=error cargo run -q -p runner --example queue_bench
