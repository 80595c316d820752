#!/usr/bin/env bash
# Queue overhead benchmark (not a test): kobo runs vs raw apalis jobs, 1/2/4 workers, for
# SQLite queue + SQLite records, Redis queue + SQLite records and Redis queue + PostgreSQL
# records. Starts its own redis-server on a free loopback port. JOBS=100 by default.
# PostgreSQL: BENCH_POSTGRES (default: the loopback server postgres://postgres@127.0.0.1:5432/test,
# used only if it answers); the bench makes a schema of its own there and drops it at the end.
# BENCH_POSTGRES= (empty) skips those rows. PROFILE=release for a release build (default debug).
set -euo pipefail
command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install redis-server" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >/dev/null &
redis=$!
trap 'kill $redis; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
postgres=${BENCH_POSTGRES-postgres://postgres@127.0.0.1:5432/test}
if [ -n "$postgres" ] && command -v pg_isready >/dev/null && ! pg_isready -q -d "$postgres"; then
  echo "PostgreSQL at $postgres does not answer: the PostgreSQL rows are skipped" >&2
  postgres=""
fi
release=()
[ "${PROFILE:-debug}" = release ] && release=(--release)
REDIS_URL="redis://127.0.0.1:$port/" BENCH_POSTGRES="$postgres" KOBO_LOG=error \
  cargo run -q "${release[@]}" -p runner --example queue_bench
