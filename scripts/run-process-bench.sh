#!/usr/bin/env bash
# Per-run cost of running each run in a process of its own (not a test): the same N quick
# runs (one `log` step on a one-row CSV) through `kobo serve --workers 1`, once with each run
# in its own process (the default) and once `--in-process`; prints the seconds for all N.
# JOBS=40 by default; PROFILE=release (default) or debug.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-40}
profile=${PROFILE:-release}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" --bin kobo
kobo="$PWD/target/$profile/kobo"
for mode in child in-process; do
  home=$(mktemp -d); wf=$(mktemp -d)
  printf 'name: quick\nclient: t\nauthor: olena\ninputs: { data: {} }\nsteps:\n  - log: "{{ run.input }}"\n' > "$wf/quick.yaml"
  mkdir -p "$home/inbox/t/quick"
  extra=(); [ "$mode" = in-process ] && extra=(--in-process)
  KOBO_HOME="$home" KOBO_LOG=error "$kobo" serve --workflows "$wf" --workers 1 --settle-ms 100 \
    --no-dashboard "${extra[@]}" 2>/dev/null &
  serve=$!
  sleep 1
  for i in $(seq "$jobs"); do printf 'n\n%s\n' "$i" > "$home/f$i.csv"; mv "$home/f$i.csv" "$home/inbox/t/quick/"; done
  start=$(date +%s.%N)
  while [ "$(KOBO_HOME="$home" "$kobo" runs -n 1000 | grep -c succeeded)" -lt "$jobs" ]; do sleep 0.1; done
  end=$(date +%s.%N)
  kill "$serve"; wait "$serve" 2>/dev/null || true
  rm -rf "$home" "$wf"
  python3 -c "print(f'$mode: $jobs runs in {$end-$start:.2f} s, {($end-$start)/$jobs*1000:.0f} ms a run')"
done
