//! Rough timing of kobo's spreadsheet I/O against raw calamine, csv and rust_xlsxwriter
//! on the same data (100,000 rows × 8 columns by default).
//!
//! ```sh
//! cargo run --release -p runner --example sheet_bench [rows]
//! ```

use calamine::{Reader, Xlsx, open_workbook};
use chrono::NaiveDate;
use runner::sheet::{CsvEncoding, OutputSheet, SheetSpec, read_table, write_csv, write_xlsx};
use runner::{Cell, Table};
use std::time::{Duration, Instant};

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let table = sample(rows);
    let xlsx = dir.path().join("bench.xlsx");
    let csv_path = dir.path().join("bench.csv");
    let sjis = dir.path().join("bench_sjis.csv");

    let ours = best(|| {
        write_xlsx(
            &xlsx,
            &[OutputSheet {
                name: "Data".into(),
                table: &table,
                formats: vec![],
            }],
        )
        .unwrap()
    });
    let raw = best(|| raw_xlsx_write(&table, &dir.path().join("raw.xlsx")));
    report("write xlsx", ours, raw);

    let ours = best(|| drop(read_table(&xlsx, &SheetSpec::default()).unwrap()));
    let raw = best(|| {
        let mut book: Xlsx<_> = open_workbook(&xlsx).unwrap();
        drop(book.worksheet_range("Data").unwrap());
    });
    report("read xlsx", ours, raw);

    let ours = best(|| write_csv(&csv_path, &table, CsvEncoding::Utf8).unwrap());
    let raw = best(|| raw_csv_write(&table, &dir.path().join("raw.csv")));
    report("write csv", ours, raw);
    write_csv(&sjis, &table, CsvEncoding::ShiftJis).unwrap();

    let ours = best(|| drop(read_table(&csv_path, &SheetSpec::default()).unwrap()));
    let raw = best(|| drop(raw_csv_read(&csv_path)));
    report("read csv (utf-8)", ours, raw);
    let cells = best(|| drop(raw_csv_cells(&csv_path)));
    report("  raw csv → Cell", cells, raw);
    let ours = best(|| drop(read_table(&sjis, &SheetSpec::default()).unwrap()));
    report("read csv (cp932)", ours, raw);
}

fn sample(rows: usize) -> Table {
    let mut t = Table::new(
        [
            "番号",
            "取引先",
            "金額",
            "単価",
            "請求日",
            "備考",
            "コード",
            "済",
        ]
        .map(String::from)
        .to_vec(),
    );
    let day = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
    for i in 0..rows {
        t.push_row(
            vec![
                Cell::Int(i as i64),
                Cell::Text(format!("株式会社サンプル{}", i % 97)),
                Cell::Int((i * 37 % 100_000) as i64),
                Cell::Float(i as f64 / 8.0),
                Cell::Date(day),
                Cell::Text("備考テキスト".into()),
                Cell::Text(format!("{:05}", i % 10_000)),
                Cell::Bool(i % 2 == 0),
            ],
            i + 2,
        );
    }
    t
}

fn raw_xlsx_write(table: &Table, path: &std::path::Path) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (c, name) in table.columns.iter().enumerate() {
        ws.write_string(0, c as u16, name).unwrap();
    }
    for (r, row) in table.rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            match cell {
                Cell::Text(s) => drop(ws.write_string(r, c, s)),
                Cell::Int(i) => drop(ws.write_number(r, c, *i as f64)),
                Cell::Float(f) => drop(ws.write_number(r, c, *f)),
                Cell::Bool(b) => drop(ws.write_boolean(r, c, *b)),
                Cell::Date(d) => drop(ws.write_datetime_with_format(r, c, d, &date)),
                _ => {}
            }
        }
    }
    book.save(path).unwrap();
}

fn raw_csv_write(table: &Table, path: &std::path::Path) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(&table.columns).unwrap();
    for row in &table.rows {
        w.write_record(row.iter().map(|c| c.to_string())).unwrap();
    }
    w.flush().unwrap();
}

fn raw_csv_read(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Raw csv into `Cell`s: what any reader producing a `Table` must at least do.
fn raw_csv_cells(path: &std::path::Path) -> Vec<Vec<Cell>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| {
            rec.unwrap()
                .iter()
                .map(|f| Cell::Text(f.to_owned()))
                .collect()
        })
        .collect()
}

fn best(mut f: impl FnMut()) -> Duration {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn report(what: &str, ours: Duration, raw: Duration) {
    println!(
        "{what:<18} kobo {:>8.1} ms   raw {:>8.1} ms   ratio {:.2}",
        ours.as_secs_f64() * 1e3,
        raw.as_secs_f64() * 1e3,
        ours.as_secs_f64() / raw.as_secs_f64()
    );
}
