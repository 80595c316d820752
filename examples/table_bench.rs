//! Table steps against the libraries underneath: the same read → filter → sort → write job
//! on one generated workbook, done by a kobo workflow (in-process, with its run records) and
//! by raw calamine + rust_xlsxwriter calls, side by side in one run.
//!
//! ```sh
//! cargo run --release --example table_bench [rows] [rounds]   # default 200000 rows, 3 rounds
//! ```
//!
//! The workbook has five columns (invoice number, client, amount, date, kind); the job keeps
//! the rows with an amount over 50,000 (about half), sorts them by amount, largest first, and
//! writes them to a new xlsx. `scripts/table-bench.sh` runs this and the same job in pandas
//! and polars (docs/benchmarks.md).
//!
//! With `KOBO_BENCH_KEEP=<dir>`, the generated workbook is written there (for the pandas and
//! polars scripts) and the bench stops.

use calamine::{Data, DataType as _, Reader as _, Xlsx, open_workbook};
use rust_xlsxwriter::{Format, Workbook};
use std::path::Path;
use std::time::Instant;

const WORKFLOW: &str = r#"
name: table-bench
client: bench
author: bench
inputs:
  invoices:
    columns: [請求書番号, 取引先, 金額, 請求日, 区分]
steps:
  - filter: { table: invoices, where: "row['金額'] > 50000" }
  - sort: { table: invoices, by: 金額, descending: true }
  - write: { file: out.xlsx, table: invoices }
"#;

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = args.first().copied().unwrap_or(200_000);
    let rounds = args.get(1).copied().unwrap_or(3);

    let dir = tempfile::tempdir().unwrap();
    let input = match std::env::var_os("KOBO_BENCH_KEEP") {
        Some(keep) => Path::new(&keep).join("invoices.xlsx"),
        None => dir.path().join("invoices.xlsx"),
    };
    let started = Instant::now();
    make_workbook(&input, rows);
    println!(
        "made {} ({rows} rows) in {:.2} s",
        input.display(),
        started.elapsed().as_secs_f64()
    );
    if std::env::var_os("KOBO_BENCH_KEEP").is_some() {
        return;
    }

    let home = dir.path().join("kobo-data");
    let records = runner::Records::open(&home.join("records.db"))
        .await
        .unwrap();
    let workflow = runner::Workflow::parse(Path::new("table-bench.yaml"), WORKFLOW).unwrap();

    println!("round  raw calamine+xlsxwriter  kobo workflow  ratio");
    let (mut raw_best, mut kobo_best) = (f64::MAX, f64::MAX);
    for round in 1..=rounds {
        let started = Instant::now();
        let kept = raw_job(&input, &dir.path().join("raw-out.xlsx"));
        let raw = started.elapsed().as_secs_f64();

        let mut opts = runner::RunOptions::new(&home);
        opts.inputs.insert("invoices".into(), input.clone());
        let started = Instant::now();
        let outcome = runner::execute(&workflow, &records, opts).await.unwrap();
        let kobo = started.elapsed().as_secs_f64();
        assert_eq!(
            outcome.status,
            runner::RunStatus::Succeeded,
            "{:?}",
            outcome.error
        );
        let written = read_count(&outcome.outputs[0]);
        assert_eq!(
            written, kept,
            "kobo and the raw job must keep the same rows"
        );

        if round == rounds {
            let detail = records.detail(&outcome.id.0).await.unwrap();
            let steps: Vec<String> = detail
                .steps
                .iter()
                .map(|s| format!("{} {:.2} s", s.kind, s.total_ms / 1000.0))
                .collect();
            println!("       kobo's steps: {}", steps.join(", "));
        }
        raw_best = raw_best.min(raw);
        kobo_best = kobo_best.min(kobo);
        println!(
            "{round:>5}  {raw:>22.2} s  {kobo:>11.2} s  {:>5.2}",
            kobo / raw
        );
    }
    println!(
        "best   {raw_best:>22.2} s  {kobo_best:>11.2} s  {:>5.2}",
        kobo_best / raw_best
    );
}

/// A workbook like a client's invoice export: text, numbers and dates, one header row.
fn make_workbook(path: &Path, rows: usize) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, name) in ["請求書番号", "取引先", "金額", "請求日", "区分"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    let clients = ["株式会社アクメ", "山田商事", "Tanaka Trading", "北海物産"];
    for i in 0..rows {
        let r = (i + 1) as u32;
        // A spread of amounts that does not follow the row order.
        let amount = ((i as u64 * 7919) % 100_000) as f64 + 0.5;
        sheet
            .write_string(r, 0, format!("INV-{i:07}"))
            .unwrap()
            .write_string(r, 1, clients[i % clients.len()])
            .unwrap()
            .write_number(r, 2, amount)
            .unwrap()
            .write_number_with_format(r, 3, 45000.0 + (i % 365) as f64, &date)
            .unwrap()
            .write_string(r, 4, if i % 3 == 0 { "返品" } else { "請求" })
            .unwrap();
    }
    book.save(path).unwrap();
}

/// The job with the libraries alone: read every row, keep amounts over 50,000, sort by
/// amount (largest first), write. Returns how many rows were kept.
fn raw_job(input: &Path, output: &Path) -> usize {
    let mut book: Xlsx<_> = open_workbook(input).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    let mut kept: Vec<Vec<Data>> = rows
        .filter(|r| r[2].as_f64().is_some_and(|a| a > 50_000.0))
        .map(|r| r.to_vec())
        .collect();
    kept.sort_by(|a, b| {
        let (a, b) = (a[2].as_f64().unwrap(), b[2].as_f64().unwrap());
        b.total_cmp(&a)
    });

    let mut out = Workbook::new();
    let sheet = out.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    for (i, row) in kept.iter().enumerate() {
        let r = (i + 1) as u32;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Data::Float(f) => {
                    sheet.write_number(r, c, *f).unwrap();
                }
                Data::Int(n) => {
                    sheet.write_number(r, c, *n as f64).unwrap();
                }
                Data::DateTime(d) => {
                    sheet
                        .write_number_with_format(r, c, d.as_f64(), &date)
                        .unwrap();
                }
                Data::Empty => {}
                other => {
                    sheet.write_string(r, c, other.to_string()).unwrap();
                }
            }
        }
    }
    out.save(output).unwrap();
    kept.len()
}

/// Data rows in the first sheet of a workbook.
fn read_count(path: &Path) -> usize {
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    let name = book.sheet_names()[0].clone();
    book.worksheet_range(&name).unwrap().height() - 1
}
