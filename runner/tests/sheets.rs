//! Spreadsheet input and output as a trainee's workflow meets it: client files in every
//! format and encoding, hostile files, and the xlsx/CSV files kobo writes back.
//!
//! Client fixtures live in `fixtures/clients/` and `fixtures/bad/` (regenerate them with
//! `cargo run -p runner --example make_fixtures`); other inputs are made on the fly.

use calamine::{Data, Reader, Xlsx, open_workbook};
use chrono::NaiveDate;
use encoding_rs::SHIFT_JIS;
use runner::sheet::{
    ColumnFormat, CsvEncoding, HeaderRow, MergedCells, OutputSheet, SheetRef, SheetSpec, read,
    read_table, sheet_names, write_csv, write_xlsx,
};
use runner::{Cell, Table};
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
}

fn spec(sheet: SheetRef, header_row: usize, range: Option<&str>) -> SheetSpec {
    SheetSpec {
        sheet,
        header_row: HeaderRow::Row(header_row),
        range: range.map(str::to_string),
        ..SheetSpec::default()
    }
}

fn name(s: &str) -> SheetRef {
    SheetRef::Name(s.into())
}

fn text(s: &str) -> Cell {
    Cell::Text(s.into())
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn column<'t>(table: &'t Table, name: &str) -> Vec<&'t Cell> {
    let i = table
        .column_index(name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", table.columns));
    table.rows.iter().map(|r| &r[i]).collect()
}

fn read_err(path: &Path, spec: &SheetSpec) -> String {
    match read_table(path, spec) {
        Ok(t) => panic!("expected an error reading {}, got {t:?}", path.display()),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------- CSV

#[test]
fn acme_invoices_in_shift_jis() {
    let path = fixture("clients/acme/invoices.csv");
    let table = read_table(&path, &SheetSpec::default()).unwrap();
    assert_eq!(
        table.columns,
        [
            "請求書番号",
            "取引先コード",
            "取引先",
            "金額",
            "請求日",
            "備考"
        ]
    );
    assert_eq!(table.len(), 12);
    // Codes keep their leading zeros: CSV values stay text.
    assert_eq!(table.rows[0][1], text("00123"));
    assert_eq!(table.rows[1][2], text("有限会社\u{3000}山田商店"));
    assert_eq!(table.rows[2][2], text("\u{3000}サクラ工業株式会社\u{3000}"));
    // The empty amount is empty; the others read as numbers when asked.
    let amounts: Vec<Option<f64>> = column(&table, "金額").iter().map(|c| c.as_f64()).collect();
    assert_eq!(amounts[0], Some(108_000.0));
    assert_eq!(table.rows[2][3], Cell::Empty);
    assert_eq!(amounts[4], Some(3_300.0));
    assert_eq!(amounts[6], Some(7_500.0), "full-width digits");
    assert_eq!(amounts[10], Some(1_234_567.0));
    assert_eq!(table.rows[0][4], text("2026/10/31"));
    // A quoted line break stays inside its cell, and the rows after it keep Excel's numbers.
    assert_eq!(table.rows[5][5], text("分割払い\r\n1回目"));
    assert_eq!(table.source_rows, (2..=13).collect::<Vec<_>>());
    assert_eq!(table.rows[10][5], text("至急～月末まで"));
    assert_eq!(sheet_names(&path).unwrap(), ["invoices"]);
}

const SAMPLE: &str = "番号,氏名,金額\n001,山田　太郎,\"1,000\"\n002,髙橋 健,\n";

fn sample_table() -> Table {
    let mut t = Table::new(vec!["番号".into(), "氏名".into(), "金額".into()]);
    t.push_row(vec![text("001"), text("山田　太郎"), text("1,000")], 2);
    t.push_row(vec![text("002"), text("髙橋 健"), Cell::Empty], 3);
    t
}

#[test]
fn every_csv_encoding_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let utf16 = |big_endian: bool| -> Vec<u8> {
        let mut out = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in SAMPLE.encode_utf16() {
            out.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("utf8.csv", SAMPLE.as_bytes().to_vec()),
        (
            "bom.csv",
            [b"\xEF\xBB\xBF".as_slice(), SAMPLE.as_bytes()].concat(),
        ),
        ("utf16le.csv", utf16(false)),
        ("utf16be.csv", utf16(true)),
        // Some export tools write UTF-16 without the byte order mark.
        ("utf16le-no-bom.csv", utf16(false)[2..].to_vec()),
        ("utf16be-no-bom.csv", utf16(true)[2..].to_vec()),
        ("cp932.csv", SHIFT_JIS.encode(SAMPLE).0.into_owned()),
        (
            "crlf.csv",
            SHIFT_JIS
                .encode(&SAMPLE.replace('\n', "\r\n"))
                .0
                .into_owned(),
        ),
    ];
    for (file, bytes) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        let table =
            read_table(&path, &SheetSpec::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(table, sample_table(), "{file}");
    }
}

#[test]
fn shift_jis_found_late_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.csv");
    let mut content = String::from("code,name\n");
    for i in 0..500 {
        content.push_str(&format!("{i:05},ascii\n"));
    }
    content.push_str("00500,山田　太郎\n");
    std::fs::write(&path, SHIFT_JIS.encode(&content).0).unwrap();
    let t = read_table(&path, &SheetSpec::default()).unwrap();
    assert_eq!(t.len(), 501);
    assert_eq!(t.rows[500], [text("00500"), text("山田　太郎")]);
    assert_eq!(t.source_rows[500], 502);
}

#[test]
fn tabs_semicolons_ragged_rows_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("staff.tsv");
    std::fs::write(&tsv, "code\tname, with comma\n7\tA, B\n").unwrap();
    let t = read_table(&tsv, &SheetSpec::default()).unwrap();
    assert_eq!(t.columns, ["code", "name, with comma"]);
    assert_eq!(t.rows, [[text("7"), text("A, B")]]);

    // A tab-separated file named .csv: the first line decides.
    let tabbed = dir.path().join("tabbed.csv");
    std::fs::write(&tabbed, "a\tb\tc\n1\t2,5\t3\n").unwrap();
    assert_eq!(
        read_table(&tabbed, &SheetSpec::default()).unwrap().rows[0][1],
        text("2,5")
    );

    let semi = dir.path().join("eu.csv");
    std::fs::write(&semi, "a;b\n1,5;2\n").unwrap();
    assert_eq!(
        read_table(&semi, &SheetSpec::default()).unwrap().rows[0][0],
        text("1,5")
    );

    // Short rows are padded, empty trailing columns dropped, blank lines skipped but
    // counted, so source rows match what Excel shows.
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(
        &ragged,
        "a,b,c,,\n1\n\n2,\"x\ny\",3,,\n ,\u{3000},,\n4,,,,\n\n\n",
    )
    .unwrap();
    let t = read_table(&ragged, &SheetSpec::default()).unwrap();
    assert_eq!(t.columns, ["a", "b", "c"]);
    assert_eq!(
        t.rows,
        [
            vec![text("1"), Cell::Empty, Cell::Empty],
            vec![text("2"), text("x\ny"), text("3")],
            vec![text("4"), Cell::Empty, Cell::Empty],
        ]
    );
    assert_eq!(t.source_rows, [2, 4, 6]);
}

#[test]
fn csv_headers_are_trimmed_named_and_made_unique() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dups.csv");
    std::fs::write(&path, " 名前\u{3000},名前,,名前,x\n1,2,3,4,5\n").unwrap();
    let t = read_table(&path, &SheetSpec::default()).unwrap();
    assert_eq!(t.columns, ["名前", "名前 (2)", "Column C", "名前 (3)", "x"]);
}

#[test]
fn csv_with_header_row_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.csv");
    std::fs::write(
        &path,
        "月次報告\n\n,code,amount,note\n,A1,10,x\n,A2,20,y\n,A3,30,z\n",
    )
    .unwrap();
    let t = read_table(&path, &spec(SheetRef::Index(1), 3, Some("B3:C5"))).unwrap();
    assert_eq!(t.columns, ["code", "amount"]);
    assert_eq!(t.rows, [[text("A1"), text("10")], [text("A2"), text("20")]]);
    assert_eq!(t.source_rows, [4, 5]);
}

#[test]
fn csv_with_undecodable_bytes_says_where() {
    let path = fixture("bad/invalid_bytes.csv");
    assert_eq!(
        read_err(&path, &SheetSpec::default()),
        format!(
            "`{}` cannot be read as text: the bytes at line 3 (byte 21) are not valid Shift_JIS \
             (CP932). The file may be damaged or use another encoding; ask the client to export \
             it again as CSV in UTF-8 or Shift_JIS",
            path.display()
        )
    );
}

// ---------------------------------------------------------------- workbooks

fn roster() -> Table {
    read_table(
        &fixture("clients/sakura/roster.xlsx"),
        &spec(name("名簿"), 3, None),
    )
    .unwrap()
}

#[test]
fn sakura_roster_xlsx_with_title_rows() {
    let t = roster();
    assert_eq!(
        t.columns,
        [
            "社員番号",
            "氏名",
            "部署",
            "入社日",
            "時給",
            "月給",
            "連絡先",
            "連絡先 (2)"
        ],
        "merged header G3:H3 names both columns; blank formatted column L is dropped"
    );
    // Row 7 is empty and skipped; the formatted blank row 20 is dropped.
    assert_eq!(t.source_rows, [4, 5, 6, 8, 9, 10, 11]);
    assert_eq!(
        t.rows[0][1],
        text("  山田　太郎 "),
        "names are kept as the client wrote them"
    );
    assert_eq!(t.rows[1], t.rows[4], "the duplicate row is read as it is");
    assert_eq!(t.rows[0][3], Cell::Date(date(2019, 4, 1)));
    assert_eq!(t.rows[5][3], Cell::Date(date(2026, 11, 5)));
    assert_eq!(
        t.rows[6][3],
        Cell::DateTime(date(2025, 4, 1).and_hms_opt(9, 30, 0).unwrap())
    );
    assert_eq!(t.rows[0][4], Cell::Int(1200), "whole numbers are Int");
    assert_eq!(t.rows[6][4], Cell::Float(1500.5));
    assert_eq!(t.rows[5][4], Cell::Empty);
    // Formulas come back as their cached results, errors as errors.
    assert_eq!(t.rows[0][5], Cell::Int(192_000));
    assert_eq!(t.rows[5][5], Cell::Int(0));
    assert_eq!(t.rows[6][5], Cell::Error("#DIV/0!".into()));
    assert_eq!(t.rows[2][6], Cell::Empty);
    assert_eq!(t.rows[0][7], text("yamada@sakura.example"));
}

#[test]
fn sheets_by_position_and_loose_name() {
    let path = fixture("clients/sakura/roster.xlsx");
    assert_eq!(sheet_names(&path).unwrap(), ["名簿", "メモ"]);
    let memo = read_table(&path, &spec(SheetRef::Index(2), 1, None)).unwrap();
    assert_eq!(memo.columns, ["S002 は重複しています。"]);
    assert!(memo.is_empty());
    let by_index = read_table(&path, &spec(SheetRef::Index(1), 3, None)).unwrap();
    assert_eq!(by_index, roster());
    let loose = read_table(&path, &spec(name(" 名簿 "), 3, None)).unwrap();
    assert_eq!(loose, roster());
}

#[test]
fn ranges_pick_part_of_a_sheet() {
    let path = fixture("clients/sakura/roster.xlsx");
    let t = read_table(&path, &spec(name("名簿"), 3, Some("B3:D6"))).unwrap();
    assert_eq!(t.columns, ["氏名", "部署", "入社日"]);
    assert_eq!(t.source_rows, [4, 5, 6]);
    assert_eq!(t.rows[2][0], text("鈴木 一郎  "));

    // With a range, the default header row is the range's first row; `B3:D` is open-ended.
    let t = read_table(&path, &spec(name("名簿"), 1, Some("B3:D"))).unwrap();
    assert_eq!(t.columns, ["氏名", "部署", "入社日"]);
    assert_eq!(t.len(), 7);

    assert_eq!(
        read_err(&path, &spec(name("名簿"), 2, Some("A3:F"))),
        format!(
            "the header row 2 is outside the range `A3:F` (reading `{}`); start the range at the \
             header row, or choose a header row inside the range",
            path.display()
        )
    );
    assert_eq!(
        read_err(&path, &spec(name("名簿"), 3, Some("F3:B9"))),
        format!(
            "`F3:B9` is not a valid cell range (reading `{}`): column B comes before column F; \
             write it like `B2:F100`, or `B2:F` to read down to the last row",
            path.display()
        )
    );
}

#[test]
fn header_row_mistakes_are_explained() {
    let path = fixture("clients/sakura/roster.xlsx");
    assert_eq!(
        read_err(&path, &spec(name("名簿"), 7, None)),
        format!(
            "row 7 of sheet `名簿` in `{}` is empty, so it cannot hold the column names (the \
             first row with data is row 1); set `header_row` to the row with the column names",
            path.display()
        )
    );
    assert_eq!(
        read_err(&path, &spec(name("名簿"), 40, None)),
        format!(
            "sheet `名簿` in `{}` has data only down to row 11, but the header row is row 40; \
             set `header_row` to the row that holds the column names",
            path.display()
        )
    );
}

#[test]
fn missing_sheet_lists_the_sheets_that_exist() {
    let path = fixture("clients/sakura/roster.xlsx");
    assert_eq!(
        read_err(&path, &spec(name("名薄"), 1, None)),
        format!(
            "`{}` has no sheet named `名薄` (did you mean `名簿`?); its sheets are: `名簿`, `メモ`",
            path.display()
        )
    );
    assert_eq!(
        read_err(&path, &spec(name("Staff"), 1, None)),
        format!(
            "`{}` has no sheet named `Staff`; its sheets are: `名簿`, `メモ`",
            path.display()
        )
    );
    assert_eq!(
        read_err(&path, &spec(SheetRef::Index(3), 1, None)),
        format!(
            "`{}` has no sheet number 3: it has 2 sheets: `名簿`, `メモ`",
            path.display()
        )
    );
    let csv = fixture("clients/acme/invoices.csv");
    assert_eq!(
        read_err(&csv, &spec(name("Sheet1"), 1, None)),
        format!(
            "`{}` has no sheet named `Sheet1`; its sheets are: `invoices`",
            csv.display()
        )
    );
}

#[test]
fn sakura_departments_ods() {
    let path = fixture("clients/sakura/departments.ods");
    assert_eq!(sheet_names(&path).unwrap(), ["部署"]);
    let t = read_table(&path, &SheetSpec::default()).unwrap();
    assert_eq!(t.columns, ["部署コード", "部署名", "設立日", "人数"]);
    assert_eq!(t.source_rows, [2, 3, 5]);
    assert_eq!(
        t.rows[0],
        [
            text("010"),
            text("営業部"),
            Cell::Date(date(2001, 4, 1)),
            Cell::Int(12)
        ]
    );
    assert_eq!(
        t.rows[2][2],
        Cell::DateTime(date(2015, 10, 1).and_hms_opt(9, 0, 0).unwrap())
    );
    assert_eq!(t.rows[2][3], Cell::Float(7.5));
}

#[test]
fn sakura_departments_xls() {
    let path = fixture("clients/sakura/departments.xls");
    assert_eq!(sheet_names(&path).unwrap(), ["部署"]);
    let t = read_table(&path, &SheetSpec::default()).unwrap();
    assert_eq!(
        t.columns,
        [
            "部署コード",
            "部署名",
            "設立日",
            "人数",
            "連絡先",
            "連絡先 (2)"
        ]
    );
    assert_eq!(t.source_rows, [2, 3, 5]);
    assert_eq!(
        t.rows[0][..4],
        [
            text("010"),
            text("営業部"),
            Cell::Date(date(2001, 4, 1)),
            Cell::Int(12)
        ]
    );
    assert_eq!(t.rows[1][5], Cell::Empty);
    assert_eq!(t.rows[2][3], Cell::Float(7.5));
}

#[test]
fn misnamed_files_are_read_by_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let xlsx_as_csv = dir.path().join("roster.csv");
    std::fs::copy(fixture("clients/sakura/roster.xlsx"), &xlsx_as_csv).unwrap();
    assert_eq!(
        read_table(&xlsx_as_csv, &spec(name("名簿"), 3, None)).unwrap(),
        roster()
    );

    let csv_as_xlsx = dir.path().join("sample.xlsx");
    std::fs::write(&csv_as_xlsx, SAMPLE).unwrap();
    assert_eq!(
        read_table(&csv_as_xlsx, &SheetSpec::default()).unwrap(),
        sample_table()
    );
}

#[test]
fn a_macro_enabled_workbook_is_read_like_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    // The macros are not run or read, so any bytes stand in for the VBA project.
    let vba = dir.path().join("vbaProject.bin");
    std::fs::write(&vba, b"not a real VBA project").unwrap();
    let path = dir.path().join("請求書.xlsm");
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_vba_project(&vba).unwrap();
    let sheet = book.add_worksheet().set_name("請求").unwrap();
    sheet.write_row(0, 0, ["請求書番号", "金額"]).unwrap();
    sheet.write_string(1, 0, "INV-1").unwrap();
    sheet.write_number(1, 1, 1200).unwrap();
    book.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    assert!(
        zip.by_name("xl/vbaProject.bin").is_ok(),
        "a real xlsm layout"
    );

    let table = read_table(&path, &spec(name("請求"), 1, None)).unwrap();
    assert_eq!(table.columns, ["請求書番号", "金額"]);
    assert_eq!(table.rows, vec![vec![text("INV-1"), Cell::Int(1200)]]);
}

#[test]
fn an_empty_sheet_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blank.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().set_name("Data").unwrap();
    book.save(&path).unwrap();
    assert_eq!(
        read_err(&path, &SheetSpec::default()),
        format!(
            "sheet `Data` in `{}` is empty; check that you chose the right sheet",
            path.display()
        )
    );
}

// ---------------------------------------------------------------- hostile files

#[test]
fn files_that_are_not_spreadsheets() {
    let d = SheetSpec::default();
    let pdf = fixture("bad/report.xlsx");
    assert_eq!(
        read_err(&pdf, &d),
        format!(
            "`{}` is not a spreadsheet: it looks like a PDF document. Ask the client for the \
             Excel or CSV file",
            pdf.display()
        )
    );
    let html = fixture("bad/export.xls");
    assert_eq!(
        read_err(&html, &d),
        format!(
            "`{}` is not a spreadsheet: it looks like a web page (HTML) saved under a spreadsheet \
             name. Open it in Excel, choose File > Save As > Excel Workbook (.xlsx), and read \
             that copy",
            html.display()
        )
    );
    let empty = fixture("bad/empty.csv");
    assert_eq!(
        read_err(&empty, &d),
        format!(
            "`{}` is empty (0 bytes); ask the client to send the file again",
            empty.display()
        )
    );
    let truncated = fixture("bad/truncated.xlsx");
    assert_eq!(
        read_err(&truncated, &d),
        format!(
            "`{}` looks like an Excel workbook (xlsx) but cannot be opened (the file ends too \
             early); it may be damaged or only partly downloaded. Open it in Excel to check, or \
             ask the client to send it again",
            truncated.display()
        )
    );
    let missing = fixture("clients/acme/nope.csv");
    assert_eq!(
        read_err(&missing, &d),
        format!(
            "`{}` does not exist; check the folder and the file name",
            missing.display()
        )
    );
}

#[test]
fn password_protected_workbook() {
    let path = fixture("bad/protected.xlsx");
    let expected = format!(
        "`{}` is password-protected; ask the client for an unprotected copy",
        path.display()
    );
    assert_eq!(read_err(&path, &SheetSpec::default()), expected);
    assert_eq!(sheet_names(&path).unwrap_err().to_string(), expected);
}

// ---------------------------------------------------------------- writing xlsx

fn result_table() -> Table {
    let mut t = Table::new(
        [
            "請求書番号",
            "金額",
            "請求日",
            "受付",
            "支払期日",
            "単価",
            "済",
            "確認",
        ]
        .map(String::from)
        .to_vec(),
    );
    t.push_row(
        vec![
            text("00123"),
            text("108,000"),
            Cell::Date(date(2026, 10, 31)),
            Cell::DateTime(date(2026, 11, 1).and_hms_opt(9, 15, 0).unwrap()),
            text("2026/11/30"),
            Cell::Float(0.5),
            Cell::Bool(true),
            Cell::Error("#N/A".into()),
        ],
        2,
    );
    t.push_row(
        vec![
            text("00124"),
            Cell::Int(54_000),
            Cell::Empty,
            Cell::Empty,
            text("未定"),
            Cell::Int(3),
        ],
        3,
    );
    t
}

#[test]
fn written_xlsx_has_real_dates_numbers_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("結果.xlsx");
    let table = result_table();
    let summary = Table::new(vec!["件数".into()]);
    let formats = vec![
        ColumnFormat {
            column: "金額".into(),
            format: "#,##0".into(),
        },
        ColumnFormat {
            column: "支払期日".into(),
            format: "yyyy-mm-dd".into(),
        },
    ];
    write_xlsx(
        &path,
        &[
            OutputSheet {
                name: "請求".into(),
                table: &table,
                formats,
            },
            OutputSheet {
                name: "集計".into(),
                table: &summary,
                formats: vec![],
            },
        ],
    )
    .unwrap();

    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names(), ["請求", "集計"]);
    let range = book.worksheet_range("請求").unwrap();
    let row1: Vec<&Data> = (0..8).map(|c| range.get((1, c)).unwrap()).collect();
    assert_eq!(row1[0], &Data::String("00123".into()), "text stays text");
    assert_eq!(
        row1[1],
        &Data::Float(108_000.0),
        "number-formatted text becomes a number"
    );
    for c in [2, 3, 4] {
        assert!(
            matches!(row1[c], Data::DateTime(_)),
            "column {c} is a real date: {:?}",
            row1[c]
        );
    }
    assert_eq!(row1[6], &Data::Bool(true));
    assert_eq!(row1[7], &Data::String("#N/A".into()));
    assert_eq!(range.get((2, 4)), Some(&Data::String("未定".into())));

    // Reading it back gives the same cells, with the text date now a real date.
    let back = read_table(&path, &SheetSpec::default()).unwrap();
    assert_eq!(back.columns, table.columns);
    assert_eq!(back.rows[0][1], Cell::Int(108_000));
    assert_eq!(back.rows[0][2], Cell::Date(date(2026, 10, 31)));
    assert_eq!(back.rows[0][3], table.rows[0][3]);
    assert_eq!(back.rows[0][4], Cell::Date(date(2026, 11, 30)));
    assert_eq!(back.rows[1][..6], table.rows[1][..6]);
    let summary_back = read_table(&path, &spec(name("集計"), 1, None)).unwrap();
    assert_eq!(summary_back.columns, ["件数"]);

    // Header row frozen, number formats present.
    let sheet_xml = zip_entry(&path, "xl/worksheets/sheet1.xml");
    assert!(sheet_xml.contains(r#"ySplit="1""#) && sheet_xml.contains(r#"state="frozen""#));
    let styles = zip_entry(&path, "xl/styles.xml");
    assert!(
        styles.contains("yyyy-mm-dd hh:mm") && styles.contains("<b/>"),
        "{styles}"
    );

    // Atomic: nothing but the workbook is left in the folder.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["結果.xlsx"]);
}

fn zip_entry(path: &Path, name: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut entry = archive.by_name(name).unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut entry, &mut out).unwrap();
    out
}

#[test]
fn bad_output_sheets_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.xlsx");
    let table = sample_table();
    let sheet = |name: &str| OutputSheet {
        name: name.into(),
        table: &table,
        formats: vec![],
    };
    let err = |sheets: &[OutputSheet<'_>]| write_xlsx(&path, sheets).unwrap_err().to_string();
    let p = path.display();
    assert_eq!(
        err(&[sheet("2026/11")]),
        format!(
            "cannot write `{p}`: `2026/11` is not a valid Excel sheet name: it contains `/`, and \
             Excel does not allow any of [ ] : * ? / \\ in sheet names"
        )
    );
    assert_eq!(
        err(&[sheet(&"長".repeat(32))]),
        format!(
            "cannot write `{p}`: `{}` is not a valid Excel sheet name: it has 32 characters, and \
             Excel allows at most 31",
            "長".repeat(32)
        )
    );
    assert_eq!(
        err(&[sheet("Data"), sheet("data")]),
        format!(
            "cannot write `{p}`: two sheets are named `data` (Excel ignores upper and lower \
             case); give each sheet its own name"
        )
    );
    assert_eq!(
        err(&[]),
        format!("nothing to write to `{p}`: no sheets were given")
    );
    let with_format = OutputSheet {
        name: "結果".into(),
        table: &table,
        formats: vec![ColumnFormat {
            column: "合計".into(),
            format: "#,##0".into(),
        }],
    };
    assert_eq!(
        err(&[with_format]),
        format!(
            "cannot write `{p}`: sheet `結果` has a format for column `合計`, but there is no \
             such column; the columns are: `番号`, `氏名`, `金額`"
        )
    );
    assert!(!path.exists());
    let missing_folder = dir.path().join("no/such/folder/out.xlsx");
    let e = write_xlsx(&missing_folder, &[sheet("A")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
}

// ---------------------------------------------------------------- writing CSV

#[test]
fn written_csv_in_each_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let table = sample_table();
    let expected = "番号,氏名,金額\r\n001,山田　太郎,\"1,000\"\r\n002,髙橋 健,\r\n";

    let sjis = dir.path().join("sjis.csv");
    write_csv(&sjis, &table, CsvEncoding::ShiftJis).unwrap();
    let bytes = std::fs::read(&sjis).unwrap();
    let (decoded, had_errors) = SHIFT_JIS.decode_without_bom_handling(&bytes);
    assert!(!had_errors);
    assert_eq!(decoded, expected);
    assert_eq!(read_table(&sjis, &SheetSpec::default()).unwrap(), table);

    let bom = dir.path().join("bom.csv");
    write_csv(&bom, &table, CsvEncoding::default()).unwrap();
    assert_eq!(
        std::fs::read(&bom).unwrap(),
        [b"\xEF\xBB\xBF", expected.as_bytes()].concat()
    );

    let plain = dir.path().join("plain.csv");
    write_csv(&plain, &table, CsvEncoding::Utf8).unwrap();
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), expected);

    // Dates, numbers and the Mac wave dash (written as its CP932 look-alike).
    let mut t = Table::new(vec!["日付".into(), "数".into(), "備考".into()]);
    t.push_row(
        vec![
            Cell::Date(date(2026, 10, 31)),
            Cell::Float(1.5),
            text("10〜20"),
        ],
        2,
    );
    let path = dir.path().join("mixed.csv");
    write_csv(&path, &t, CsvEncoding::ShiftJis).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        SHIFT_JIS.decode_without_bom_handling(&bytes).0,
        "日付,数,備考\r\n2026-10-31,1.5,10～20\r\n"
    );
}

#[test]
fn characters_shift_jis_cannot_hold_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let mut t = sample_table();
    t.push_row(vec![text("003"), text("吉田 😀"), Cell::Int(5)], 4);
    assert_eq!(
        write_csv(&path, &t, CsvEncoding::ShiftJis)
            .unwrap_err()
            .to_string(),
        format!(
            "cannot write `{}` as Shift_JIS: the character `😀` (U+1F600) in row 4, column `氏名` \
             (cell B4) has no Shift_JIS code. Replace that character, or write the file as UTF-8 \
             (`encoding: utf8_bom`)",
            path.display()
        )
    );
    assert!(!path.exists(), "nothing half-written is left behind");
}

/// Found by `tests/fuzz.rs`: calamine panicked (an `assert_eq!` in its xls directory reader)
/// on this damaged copy of `departments.xls`: 373 bytes gone at offset 80, cut at 4969.
#[test]
fn a_damaged_xls_that_crashed_the_reader_is_an_error() {
    let mut bytes = std::fs::read(fixture("clients/sakura/departments.xls")).unwrap();
    bytes.drain(80..80 + 373);
    bytes.truncate(4969);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("departments.xls");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        read_err(&path, &SheetSpec::default()),
        format!(
            "`{}` looks like an old Excel workbook (xls) but cannot be opened (its inner structure \
             is broken: it refers to sector 167772159, but the file holds 9); it may be damaged or \
             only partly downloaded. Open it in Excel to check, or ask the client to send it again",
            path.display()
        )
    );
}

/// Found by `tests/fuzz.rs` (`KOBO_FUZZ_CASES=5000 KOBO_FUZZ_SEED=3`): a damaged Compound
/// File whose sector chain loops. calamine's cfb reader follows the loop until the stream's
/// declared length and asks for 4 GB, so the process aborted; `catch_unwind` cannot help.
/// kobo walks every chain of an xls first (runner/src/sheet/cfb.rs).
#[test]
fn a_looping_xls_is_an_error_not_an_abort() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-cyclic-fat.xls");
    assert_eq!(
        read_err(&path, &SheetSpec::default()),
        format!(
            "`{}` looks like an old Excel workbook (xls) but cannot be opened (its inner structure \
             is broken: a chain of its sectors loops back on itself); it may be damaged or only \
             partly downloaded. Open it in Excel to check, or ask the client to send it again",
            path.display()
        )
    );
}

/// The same check, on Sakura's real xls told that its workbook stream is far larger than the
/// file: any xls whose structure claims more data than it holds is refused before calamine.
#[test]
fn an_xls_claiming_more_than_it_holds_is_an_error() {
    let mut bytes = std::fs::read(fixture("clients/sakura/departments.xls")).unwrap();
    let name: Vec<u8> = "Workbook"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let entry = bytes
        .windows(name.len())
        .position(|w| w == name.as_slice())
        .expect("the directory entry of the Workbook stream");
    bytes[entry + 120..entry + 124].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("departments.xls");
    std::fs::write(&path, &bytes).unwrap();
    let message = read_err(&path, &SheetSpec::default());
    assert!(
        message.contains("cannot be opened (its inner structure is broken: a stream claims more data than the file holds)"),
        "{message}"
    );
}

// ---------------------------------------------------------------- fidelity (issue #14)

/// Run `yaml` on `input` and return the run's outcome and its log messages.
fn run_logged(yaml: &str, input: &Path) -> (runner::RunOutcome, Vec<String>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let home = tempfile::tempdir().unwrap();
        let records = runner::record::Records::open(&home.path().join("records.db"))
            .await
            .unwrap();
        let w =
            runner::Workflow::parse(Path::new("test.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"));
        let mut opts = runner::RunOptions::new(home.path());
        let first = w.file_inputs().next().unwrap().name.clone();
        opts.inputs.insert(first, input.to_path_buf());
        let out = runner::execute(&w, &records, opts).await.unwrap();
        let log = runner::run_folder::read_log(&out.folder.join("log.jsonl")).unwrap();
        (out, log.into_iter().map(|l| l.message).collect())
    })
}

/// Rewrite one part of a zip file (an xlsx or ods) with `change`.
fn patch_zip(path: &Path, part: &str, change: impl Fn(String) -> String) {
    use std::io::{Read, Write};
    let bytes = std::fs::read(path).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == part {
            data = change(String::from_utf8(data).unwrap()).into_bytes();
        }
        out.start_file(name, stored).unwrap();
        out.write_all(&data).unwrap();
    }
    std::fs::write(path, out.finish().unwrap().into_inner()).unwrap();
}

/// An OpenDocument spreadsheet with the given sheets (name, rows as `table:table-row`
/// XML), open on `active` when given.
fn ods(path: &Path, sheets: &[(&str, String)], active: Option<&str>) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("META-INF/manifest.xml", stored).unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
</manifest:manifest>"#)
        .unwrap();
    let tables: String = sheets
        .iter()
        .map(|(name, rows)| format!(r#"<table:table table:name="{name}">{rows}</table:table>"#))
        .collect();
    zip.start_file("content.xml", stored).unwrap();
    write!(
        zip,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"#
    )
    .unwrap();
    if let Some(active) = active {
        zip.start_file("settings.xml", stored).unwrap();
        write!(
            zip,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-settings xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0"><office:settings><config:config-item-set config:name="ooo:view-settings"><config:config-item-map-indexed config:name="Views"><config:config-item-map-entry><config:config-item config:name="ActiveTable" config:type="string">{active}</config:config-item></config:config-item-map-entry></config:config-item-map-indexed></config:config-item-set></office:settings></office:document-settings>"#
        )
        .unwrap();
    }
    std::fs::write(path, zip.finish().unwrap().into_inner()).unwrap();
}

/// One ODS row of text cells.
fn ods_row(cells: &[&str]) -> String {
    let cells: String = cells
        .iter()
        .map(|v| format!(r#"<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>"#))
        .collect();
    format!("<table:table-row>{cells}</table:table-row>")
}

/// A workbook whose first sheet is hidden, with `active` (0-based) open when saved.
fn workbook_with_hidden_sheet(path: &Path, active: Option<usize>) {
    let mut book = rust_xlsxwriter::Workbook::new();
    for (i, name) in ["Hidden", "Notes", "Data"].iter().enumerate() {
        let ws = book.add_worksheet();
        ws.set_name(*name).unwrap();
        ws.write_string(0, 0, "name").unwrap();
        ws.write_string(1, 0, format!("on {name}")).unwrap();
        if i == 0 {
            ws.set_hidden(true);
        }
        if active == Some(i) {
            ws.set_active(true);
        }
    }
    book.save(path).unwrap();
}

#[test]
fn no_sheet_reads_the_active_sheet_never_a_hidden_one() {
    let dir = tempfile::tempdir().unwrap();
    let active = dir.path().join("active.xlsx");
    workbook_with_hidden_sheet(&active, Some(2));
    let r = read(&active, &SheetSpec::default()).unwrap();
    assert_eq!(r.sheet.as_deref(), Some("Data"));
    assert_eq!(r.table.rows[0][0], text("on Data"));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    // rust_xlsxwriter will not hide the sheet a workbook opens on: hide it by hand, as Excel
    // does when the first sheet is hidden and no other was opened since.
    let first_visible = dir.path().join("hidden-first.xlsx");
    workbook_with_hidden_sheet(&first_visible, None);
    patch_zip(&first_visible, "xl/workbook.xml", |xml| {
        xml.replacen(
            "<sheet name=\"Hidden\"",
            "<sheet state=\"hidden\" name=\"Hidden\"",
            1,
        )
    });
    let r = read(&first_visible, &SheetSpec::default()).unwrap();
    assert_eq!(r.sheet.as_deref(), Some("Notes"));

    // Asking for the hidden sheet by number still reads it, with a warning.
    let r = read(&first_visible, &spec(SheetRef::Index(1), 1, None)).unwrap();
    assert_eq!(r.sheet.as_deref(), Some("Hidden"));
    assert!(
        r.warnings[0].starts_with("sheet `Hidden` is hidden in Excel"),
        "{:?}",
        r.warnings
    );

    // OpenDocument names the sheet it opens on.
    let path = dir.path().join("two.ods");
    let sheet = |v: &str| ods_row(&["name"]) + &ods_row(&[v]);
    ods(
        &path,
        &[("One", sheet("1")), ("Two", sheet("2"))],
        Some("Two"),
    );
    let r = read(&path, &SheetSpec::default()).unwrap();
    assert_eq!(r.sheet.as_deref(), Some("Two"));
    assert_eq!(r.table.rows[0][0], text("2"));

    // The run log says which sheet was read.
    let (out, log) = run_logged(
        "name: t\nclient: acme\nauthor: olena\ninputs: { people: {} }\nsteps:\n  - log: hi\n",
        &active,
    );
    assert_eq!(out.error, None);
    assert!(
        log.iter().any(|l| l
            == "read input `people` from the sheet `Data` of `active.xlsx`: 1 rows, columns: name"),
        "{log:?}"
    );
}

/// A sheet with area names merged down column A (A2:A4 and A5:A6) and a merged note (C5:D5).
fn workbook_with_merged_cells(path: &Path) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    let plain = rust_xlsxwriter::Format::new();
    for (c, h) in ["地区", "店舗", "売上", "メモ"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.merge_range(1, 0, 3, 0, "東京", &plain).unwrap();
    ws.merge_range(4, 0, 5, 0, "大阪", &plain).unwrap();
    for (r, shop) in ["新宿", "渋谷", "品川", "梅田", "難波"].iter().enumerate() {
        ws.write_string(r as u32 + 1, 1, *shop).unwrap();
        ws.write_number(r as u32 + 1, 2, 100.0 * (r + 1) as f64)
            .unwrap();
    }
    ws.merge_range(4, 2, 4, 3, "", &plain).unwrap();
    ws.write_number(4, 2, 400.0).unwrap();
    book.save(path).unwrap();
}

#[test]
fn merged_cells_warn_by_default_and_fill_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shops.xlsx");
    workbook_with_merged_cells(&path);

    let r = read(&path, &SheetSpec::default()).unwrap();
    assert_eq!(
        column(&r.table, "地区"),
        [
            &text("東京"),
            &Cell::Empty,
            &Cell::Empty,
            &text("大阪"),
            &Cell::Empty
        ]
    );
    assert_eq!(
        r.warnings,
        [
            "3 merged cell blocks are below the header (A2:A4, A5:A6, C5:D5): only the first cell \
          of a block holds the value, so the other cells read as empty. Add `merged: fill` to \
          the input to copy the value into every cell of the block"
        ]
    );

    let fill = SheetSpec {
        merged: MergedCells::Fill,
        ..SheetSpec::default()
    };
    let r = read(&path, &fill).unwrap();
    assert_eq!(
        column(&r.table, "地区"),
        [
            &text("東京"),
            &text("東京"),
            &text("東京"),
            &text("大阪"),
            &text("大阪")
        ]
    );
    assert_eq!(column(&r.table, "メモ")[3], &Cell::Int(400));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    // The option is part of the workflow language, on inputs and on `read`.
    let (out, log) = run_logged(
        "name: t\nclient: acme\nauthor: olena\ninputs: { shops: { merged: fill } }\nsteps:\n  - read: { input: shops, into: again, merged: warn }\n",
        &path,
    );
    assert_eq!(out.error, None);
    assert!(
        log.iter().any(|l| l.contains("merged cell blocks")),
        "{log:?}"
    );
    let bad = runner::Workflow::parse(
        Path::new("t.yaml"),
        "name: t\nclient: acme\nauthor: olena\ninputs: { shops: { merged: yes } }\nsteps:\n  - log: hi\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("`merged` cannot be `yes`"), "{bad}");
}

#[test]
fn header_row_none_names_columns_by_letter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, "001,山田,1200\n002,佐藤,800\n").unwrap();
    let none = SheetSpec {
        header_row: HeaderRow::None,
        ..SheetSpec::default()
    };
    let t = read_table(&path, &none).unwrap();
    assert_eq!(t.columns, ["A", "B", "C"]);
    assert_eq!(t.rows[0][0], text("001"));
    assert_eq!(t.source_rows, [1, 2]);
    let part = SheetSpec {
        range: Some("B2:C".into()),
        ..none.clone()
    };
    let t = read_table(&path, &part).unwrap();
    assert_eq!(t.columns, ["B", "C"]);
    assert_eq!(t.rows, [vec![text("佐藤"), text("800")]]);

    let xlsx = dir.path().join("export.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.write_number(0, 1, 7.0).unwrap();
    ws.write_string(1, 2, "x").unwrap();
    book.save(&xlsx).unwrap();
    // Columns keep their letters in the sheet, even an empty column A.
    let t = read_table(&xlsx, &none).unwrap();
    assert_eq!(t.columns, ["A", "B", "C"]);
    assert_eq!(
        t.rows,
        [
            vec![Cell::Empty, Cell::Int(7), Cell::Empty],
            vec![Cell::Empty, Cell::Empty, text("x")]
        ]
    );

    let w = runner::Workflow::parse(
        Path::new("t.yaml"),
        "name: t\nclient: acme\nauthor: olena\ninputs: { rows: { header_row: none } }\nsteps:\n  - read: { input: rows, header_row: 2, into: more }\n",
    )
    .unwrap();
    assert_eq!(w.inputs[0].spec.header_row, Some(HeaderRow::None));
    let bad = runner::Workflow::parse(
        Path::new("t.yaml"),
        "name: t\nclient: acme\nauthor: olena\ninputs: { rows: { header_row: nothing } }\nsteps:\n  - log: hi\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("`header_row` must be a row number (1 = the first row), or `none` when the file has no header row, but it is the text \"nothing\""),
        "{bad}"
    );
}

#[test]
fn a_header_that_looks_wrong_points_at_the_real_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    std::fs::write(
        &path,
        "売上一覧,,\n,,\n地区,店舗,売上\n東京,新宿,100\n大阪,梅田,200\n",
    )
    .unwrap();
    let r = read(&path, &SheetSpec::default()).unwrap();
    assert_eq!(r.table.columns, ["売上一覧", "Column B", "Column C"]);
    let hint = "Row 3 looks like the real header (`地区`, `店舗`, `売上`): set `header_row: 3`, \
                or `header_row: none` if the file has no header";
    assert_eq!(r.header_hint.as_deref(), Some(hint));
    assert_eq!(
        r.warnings,
        [format!(
            "the header row 1 looks wrong: 2 of its 3 columns have no name (`Column B`, `Column C`). {hint}"
        )]
    );
    // The right header row gives no warning.
    let r = read(&path, &spec(SheetRef::Active, 3, None)).unwrap();
    assert!(
        r.warnings.is_empty() && r.header_hint.is_none(),
        "{:?}",
        r.warnings
    );

    // A header of numbers (the file has none) is pointed out too.
    let numbers = dir.path().join("numbers.csv");
    std::fs::write(&numbers, "1,2,3\n4,5,6\n").unwrap();
    let r = read(&numbers, &SheetSpec::default()).unwrap();
    assert!(
        r.warnings[0].starts_with(
            "the header row 1 looks wrong: only 0 of its 3 cells look like column names"
        ),
        "{:?}",
        r.warnings
    );

    // The "no column" error of a run carries the hint.
    let (out, _) = run_logged(
        "name: t\nclient: acme\nauthor: olena\ninputs: { sales: { columns: [店舗] } }\nsteps:\n  - log: hi\n",
        &path,
    );
    let error = out.error.unwrap();
    assert!(
        error.ends_with(&format!(
            "Its columns are: 売上一覧, Column B, Column C. {hint}"
        )),
        "{error}"
    );
}

#[test]
fn control_characters_in_headers_are_removed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.csv");
    std::fs::write(
        &path,
        "名前\0,金額\x1b\n山田\x07,100\n佐藤,200\n鈴木,300\n高橋,400\n",
    )
    .unwrap();
    let r = read(&path, &SheetSpec::default()).unwrap();
    assert_eq!(r.table.columns, ["名前", "金額"]);
    assert_eq!(
        r.warnings,
        [
            "the column name in cell A1 holds control characters (NUL), which were removed: the column is named `名前`",
            "the column name in cell B1 holds control characters (U+001B), which were removed: the column is named `金額`",
            "1 cell holds control characters (U+0007) that Excel cannot show, the first in cell A2; check the file with the client before using those cells",
        ]
    );
}

#[test]
fn csv_numbers_dates_and_times_reach_excel_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "番号,金額,日付,時刻,所要,メモ\n\
         00123,\"1,200\",2026/10/31,9:05,37:15:20,A-1\n\
         00124,８００,2026/11/01 13:45:10,10:30,0:45:00.5,12\n",
    )
    .unwrap();
    let table = read_table(&csv, &SheetSpec::default()).unwrap();
    let out = dir.path().join("out.xlsx");
    let sheet = OutputSheet {
        name: "結果".into(),
        table: &table,
        formats: vec![],
    };
    write_xlsx(&out, &[sheet]).unwrap();

    let mut book: Xlsx<_> = open_workbook(&out).unwrap();
    let range = book.worksheet_range("結果").unwrap();
    let at = |r: u32, c: u32| range.get_value((r, c)).unwrap().clone();
    assert_eq!(at(1, 0), Data::String("00123".into()), "codes stay text");
    assert_eq!(at(1, 1), Data::Float(1200.0));
    assert_eq!(at(2, 1), Data::Float(800.0));
    assert!(matches!(at(1, 2), Data::DateTime(_)), "{:?}", at(1, 2));
    assert_eq!(
        at(1, 5),
        Data::String("A-1".into()),
        "mixed text stays text"
    );
    assert_eq!(at(2, 5), Data::String("12".into()));
    let styles = zip_entry(&out, "xl/styles.xml");
    for code in ["#,##0", "yyyy-mm-dd hh:mm:ss", "[h]:mm:ss", "[h]:mm:ss.000"] {
        assert!(
            styles.contains(&format!("formatCode=\"{code}\"")),
            "{code}: {styles}"
        );
    }
    // Read back, the values are the ones that went in.
    let back = read_table(&out, &SheetSpec::default()).unwrap();
    assert_eq!(column(&back, "金額"), [&Cell::Int(1200), &Cell::Int(800)]);
    assert_eq!(
        column(&back, "日付"),
        [
            &Cell::Date(date(2026, 10, 31)),
            &Cell::DateTime(date(2026, 11, 1).and_hms_opt(13, 45, 10).unwrap())
        ]
    );
    assert_eq!(column(&back, "時刻"), [&text("9:05"), &text("10:30")]);
    assert_eq!(
        column(&back, "所要"),
        [&text("37:15:20"), &text("0:45:00.5")]
    );
}

#[test]
fn ods_fractional_seconds_survive_a_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("times.ods");
    let rows = ods_row(&["開始", "所要"])
        + r#"<table:table-row><table:table-cell office:value-type="date" office:date-value="2026-10-31T09:30:15.25"><text:p>x</text:p></table:table-cell><table:table-cell office:value-type="time" office:time-value="PT01H02M03.5S"><text:p>x</text:p></table:table-cell></table:table-row>"#;
    ods(&path, &[("S", rows)], None);
    let table = read_table(&path, &SheetSpec::default()).unwrap();
    let start = date(2026, 10, 31)
        .and_hms_milli_opt(9, 30, 15, 250)
        .unwrap();
    assert_eq!(table.rows[0], [Cell::DateTime(start), text("1:02:03.5")]);
    let out = dir.path().join("out.xlsx");
    write_xlsx(
        &out,
        &[OutputSheet {
            name: "S".into(),
            table: &table,
            formats: vec![],
        }],
    )
    .unwrap();
    let back = read_table(&out, &SheetSpec::default()).unwrap();
    assert_eq!(back.rows, table.rows);
    assert!(zip_entry(&out, "xl/styles.xml").contains("yyyy-mm-dd hh:mm:ss.000"));
}

#[test]
fn calamine_warnings_become_warnings_of_the_read() {
    // As in `kobo`, whose tracing-subscriber installs this bridge for `log` records.
    let _ = tracing_log::LogTracer::init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.write_string(0, 0, "name").unwrap();
    ws.write_string(1, 0, "x").unwrap();
    book.save(&path).unwrap();
    patch_zip(&path, "xl/worksheets/sheet1.xml", |xml| {
        xml.replace(
            "<dimension ref=\"A1:A2\"/>",
            "<dimension ref=\"A1:A2000000\"/>",
        )
    });
    let r = read(&path, &SheetSpec::default()).unwrap();
    assert_eq!(r.table.rows, [vec![text("x")]]);
    assert_eq!(
        r.warnings,
        [
            "the file says a sheet is larger than Excel allows (xlsx has more than maximum number \
          of rows (1999999 > 1048576)); it may be damaged or made by another program. Open it \
          in Excel and check the last rows"
        ]
    );
}

#[test]
fn euc_jp_and_iso_2022_jp_are_detected_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let sample = "番号,氏名,住所\n001,山田　太郎,東京都新宿区西新宿二丁目\n002,髙橋 健,大阪府大阪市北区梅田\n";
    for (encoding, name) in [
        (encoding_rs::EUC_JP, "EUC-JP"),
        (encoding_rs::ISO_2022_JP, "ISO-2022-JP"),
        (SHIFT_JIS, "Shift_JIS (CP932)"),
    ] {
        let path = dir.path().join(format!("{name}.csv"));
        std::fs::write(&path, encoding.encode(sample).0).unwrap();
        let r = read(&path, &SheetSpec::default()).unwrap();
        assert_eq!(r.encoding, Some(name));
        assert_eq!(r.table.columns, ["番号", "氏名", "住所"], "{name}");
        assert_eq!(r.table.rows[1][2], text("大阪府大阪市北区梅田"), "{name}");
    }
    // The run log names the encoding.
    let path = dir.path().join("EUC-JP.csv");
    let (out, log) = run_logged(
        "name: t\nclient: acme\nauthor: olena\ninputs: { people: {} }\nsteps:\n  - log: hi\n",
        &path,
    );
    assert_eq!(out.error, None);
    assert!(
        log.iter()
            .any(|l| l
                .starts_with("read input `people` from the file `EUC-JP.csv` (EUC-JP): 2 rows")),
        "{log:?}"
    );
}
