"""The table benchmark's job (examples/table_bench.rs) in pandas and in polars.

Reads the generated workbook, keeps the rows with an amount over 50,000, sorts them by
amount (largest first) and writes an xlsx, timing each library the same way as the Rust
bench (best of N rounds, whole job). Run through scripts/table-bench.sh.
"""

import sys
import time


def pandas_job(src, dst):
    import pandas as pd

    df = pd.read_excel(src, engine="openpyxl")
    kept = df[df["金額"] > 50000].sort_values("金額", ascending=False, kind="stable")
    kept.to_excel(dst, index=False, engine="xlsxwriter")
    return len(kept)


def polars_job(src, dst):
    import polars as pl

    df = pl.read_excel(src)
    kept = df.filter(pl.col("金額") > 50000).sort("金額", descending=True, maintain_order=True)
    kept.write_excel(dst)
    return kept.height


def main():
    src, out_dir, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for name, job in [("polars", polars_job), ("pandas", pandas_job)]:
        best = None
        for _ in range(rounds):
            started = time.perf_counter()
            kept = job(src, f"{out_dir}/{name}-out.xlsx")
            took = time.perf_counter() - started
            best = took if best is None else min(best, took)
        print(f"{name:<8} best of {rounds}: {best:6.2f} s  ({kept} rows kept)")


if __name__ == "__main__":
    main()
