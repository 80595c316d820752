#!/usr/bin/env bash
# Table steps against the libraries underneath and against pandas and polars, on one
# generated workbook: read → filter → sort → write (see examples/table_bench.rs).
#   scripts/table-bench.sh [rows] [rounds]     # default 200000 rows, 3 rounds
# Needs python3 with pandas, openpyxl, xlsxwriter, polars and fastexcel for the second half:
#   python3 -m pip install pandas openpyxl xlsxwriter polars fastexcel
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-200000}"
rounds="${2:-3}"
cargo build --release --example table_bench -q
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
target/release/examples/table_bench "$rows" "$rounds"
KOBO_BENCH_KEEP="$work" target/release/examples/table_bench "$rows" > /dev/null
if python3 -c 'import pandas, polars, openpyxl, xlsxwriter, fastexcel' 2> /dev/null; then
  python3 scripts/table_bench.py "$work/invoices.xlsx" "$work" "$rounds"
else
  echo "pandas/polars not installed: python3 -m pip install pandas openpyxl xlsxwriter polars fastexcel"
fi
