#!/usr/bin/env bash
# Browser start benchmark (not a test, not part of scripts/test): time to the first step of
# a browser run for kobo without and with a browser started ahead, raw fantoccini reusing
# one session, and Playwright with a new context per run, all doing the same drills on the
# practice portal (examples/warm_browser_bench.rs). Installs the Playwright side
# (scripts/bench-node, playwright-core driving /usr/bin/chromium; no browser download).
# ROUNDS=10 by default; PROFILE=release (default) or debug.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-10}
profile=${PROFILE:-release}
flag=(); [ "$profile" = release ] && flag=(--release)
if [ ! -d scripts/bench-node/node_modules/playwright-core ]; then
  (cd scripts/bench-node && npm ci --no-audit --no-fund)
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; $(chromium --version 2>/dev/null)"
cargo run -q "${flag[@]}" --example warm_browser_bench -- "$rounds"
