//! Rough timing of kobo's spreadsheet I/O against raw calamine, csv and rust_xlsxwriter
//! on the same data (100,000 rows × 8 columns by default).
//!
//! ```sh
//! cargo run --release -p runner --example sheet_bench [rows] [peak_rows]
//! ```
//!
//! Each case runs 5 times; the report gives the median, the min–max spread and rows/s.
//! Then peak memory (`VmHWM`) for `peak_rows` rows (default 200,000; 0 skips it), each case
//! in a fresh process (this example re-run with `--peak <case>`).

use calamine::{Reader, Xlsx, open_workbook};
use chrono::NaiveDate;
use runner::sheet::{CsvEncoding, OutputSheet, SheetSpec, read_table, write_csv, write_xlsx};
use runner::{Cell, Table};
use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--peak") {
        return peak_child(&args[1], args[2].parse().unwrap(), Path::new(&args[3]));
    }
    let rows: usize = args.first().map_or(100_000, |s| s.parse().unwrap());
    let peak_rows: usize = args.get(1).map_or(200_000, |s| s.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let table = sample(rows);
    let xlsx = dir.path().join("bench.xlsx");
    let csv_path = dir.path().join("bench.csv");
    let sjis = dir.path().join("bench_sjis.csv");
    println!(
        "{rows} rows × {} columns, {RUNS} runs each: median (min–max), rows/s at the median",
        table.columns.len()
    );

    let ours = measure(|| {
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
    let raw = measure(|| raw_xlsx_write(&table, &dir.path().join("raw.xlsx")));
    report("write xlsx", rows, &ours, &raw);

    let ours = measure(|| drop(read_table(&xlsx, &SheetSpec::default()).unwrap()));
    let raw = measure(|| drop(raw_xlsx_read(&xlsx)));
    report("read xlsx", rows, &ours, &raw);

    let ours = measure(|| write_csv(&csv_path, &table, CsvEncoding::Utf8).unwrap());
    let raw = measure(|| raw_csv_write(&table, &dir.path().join("raw.csv")));
    report("write csv", rows, &ours, &raw);
    write_csv(&sjis, &table, CsvEncoding::ShiftJis).unwrap();

    let ours = measure(|| drop(read_table(&csv_path, &SheetSpec::default()).unwrap()));
    let raw = measure(|| drop(raw_csv_read(&csv_path)));
    report("read csv (utf-8)", rows, &ours, &raw);
    let cells = measure(|| drop(raw_csv_cells(&csv_path)));
    report("  raw csv → Cell", rows, &cells, &raw);
    let ours = measure(|| drop(read_table(&sjis, &SheetSpec::default()).unwrap()));
    report("read csv (cp932)", rows, &ours, &raw);

    if peak_rows > 0 {
        peak_memory(peak_rows);
    }
}

/// Peak memory (`VmHWM`) of one operation on `rows` rows, each case in a fresh process.
fn peak_memory(rows: usize) {
    let dir = tempfile::tempdir().unwrap();
    let table = sample(rows);
    let xlsx = dir.path().join("peak.xlsx");
    let csv_path = dir.path().join("peak.csv");
    let sjis = dir.path().join("peak_sjis.csv");
    let sheet = OutputSheet {
        name: "Data".into(),
        table: &table,
        formats: vec![],
    };
    write_xlsx(&xlsx, &[sheet]).unwrap();
    write_csv(&csv_path, &table, CsvEncoding::Utf8).unwrap();
    write_csv(&sjis, &table, CsvEncoding::ShiftJis).unwrap();
    drop(table);
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    println!(
        "\npeak memory (VmHWM), {rows} rows, one process per case \
         (xlsx {:.1} MB, csv {:.1} MB, cp932 csv {:.1} MB on disk)",
        size(&xlsx),
        size(&csv_path),
        size(&sjis)
    );
    let exe = std::env::current_exe().unwrap();
    let out = dir.path().join("out");
    let cases: [(&str, &Path); 12] = [
        ("empty process", &out),
        ("Table in memory only", &out),
        ("read xlsx kobo", &xlsx),
        ("read xlsx raw", &xlsx),
        ("read csv kobo", &csv_path),
        ("read csv raw", &csv_path),
        ("read cp932 csv kobo", &sjis),
        ("read cp932 csv raw", &sjis),
        ("write xlsx kobo", &out),
        ("write xlsx raw", &out),
        ("write csv kobo", &out),
        ("write csv raw", &out),
    ];
    for (case, path) in cases {
        let o = std::process::Command::new(&exe)
            .args(["--peak", case, &rows.to_string()])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        println!(
            "{case:<22} {:>8}",
            String::from_utf8_lossy(&o.stdout).trim()
        );
    }
}

/// One case of [`peak_memory`]; prints the process's peak resident memory.
fn peak_child(case: &str, rows: usize, path: &Path) {
    let spec = SheetSpec::default();
    match case {
        "empty process" => {}
        "Table in memory only" => drop(sample(rows)),
        "read xlsx kobo" | "read csv kobo" | "read cp932 csv kobo" => {
            assert_eq!(read_table(path, &spec).unwrap().rows.len(), rows)
        }
        "read xlsx raw" => assert_eq!(raw_xlsx_read(path).height(), rows + 1),
        "read csv raw" => assert_eq!(raw_csv_read(path).len(), rows + 1),
        "read cp932 csv raw" => {
            // What a hand-written reader does: decode the whole file, then parse it.
            let bytes = std::fs::read(path).unwrap();
            let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&bytes);
            let records: Vec<Vec<String>> = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(text.as_bytes())
                .records()
                .map(|r| r.unwrap().iter().map(str::to_owned).collect())
                .collect();
            assert_eq!(records.len(), rows + 1);
        }
        "write xlsx kobo" => {
            let table = sample(rows);
            let sheet = OutputSheet {
                name: "Data".into(),
                table: &table,
                formats: vec![],
            };
            write_xlsx(&path.with_extension("xlsx"), &[sheet]).unwrap();
        }
        "write xlsx raw" => raw_xlsx_write(&sample(rows), &path.with_extension("xlsx")),
        "write csv kobo" => write_csv(
            &path.with_extension("csv"),
            &sample(rows),
            CsvEncoding::Utf8,
        )
        .unwrap(),
        "write csv raw" => raw_csv_write(&sample(rows), &path.with_extension("csv")),
        other => panic!("unknown case {other}"),
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .parse::<f64>()
        .unwrap();
    println!("{:.0} MB", hwm / 1024.0);
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

fn raw_xlsx_write(table: &Table, path: &Path) {
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

fn raw_csv_write(table: &Table, path: &Path) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(&table.columns).unwrap();
    for row in &table.rows {
        w.write_record(row.iter().map(|c| c.to_string())).unwrap();
    }
    w.flush().unwrap();
}

fn raw_csv_read(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Raw csv into `Cell`s: what any reader producing a `Table` must at least do.
fn raw_csv_cells(path: &Path) -> Vec<Vec<Cell>> {
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

fn raw_xlsx_read(path: &Path) -> calamine::Range<calamine::Data> {
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    book.worksheet_range("Data").unwrap()
}

const RUNS: usize = 5;

fn measure(mut f: impl FnMut()) -> Vec<Duration> {
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect()
}

/// Median, min and max in milliseconds.
fn stats(times: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[0], ms[ms.len() - 1])
}

fn report(what: &str, rows: usize, ours: &[Duration], raw: &[Duration]) {
    let (o, omin, omax) = stats(ours);
    let (r, rmin, rmax) = stats(raw);
    let per_sec = |ms: f64| rows as f64 / (ms / 1e3) / 1e3;
    println!(
        "{what:<18} kobo {o:>7.1} ms ({omin:.1}–{omax:.1}) {:>6.0}k rows/s   \
         raw {r:>7.1} ms ({rmin:.1}–{rmax:.1}) {:>6.0}k rows/s   ratio {:.2}",
        per_sec(o),
        per_sec(r),
        o / r
    );
}
