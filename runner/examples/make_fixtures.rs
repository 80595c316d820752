//! Regenerates the client and hostile spreadsheet fixtures under `fixtures/`.
//!
//! ```sh
//! cargo run -p runner --example make_fixtures
//! ```
//!
//! Writes, relative to the workspace root:
//! - `fixtures/clients/acme/invoices.csv`: Shift_JIS (CP932) invoices with CRLF lines,
//!   full-width spaces, an empty amount, a quoted line break and `00123`-style codes.
//! - `fixtures/clients/sakura/roster.xlsx`: staff roster, sheet `名簿`, a title above the
//!   header (header row 3), messy names, a duplicate row, real dates, an empty row, formulas
//!   with cached results (one `#DIV/0!`), a merged header, blank formatted cells far out.
//! - `fixtures/clients/sakura/departments.ods`: a hand-built OpenDocument spreadsheet.
//! - `fixtures/bad/*`: hostile files (see `fixtures/bad/README.md`).
//!
//! `fixtures/clients/sakura/departments.xls` comes from `make_departments_xls.py` next to
//! it (Rust has no xls writer). The outputs are committed; rerun after changing this file.

use encoding_rs::SHIFT_JIS;
use rust_xlsxwriter::{DocProperties, Format, Formula, Workbook, XlsxError};
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures");
    let clients = root.join("clients");
    let bad = root.join("bad");
    for dir in [clients.join("acme"), clients.join("sakura"), bad.clone()] {
        std::fs::create_dir_all(dir)?;
    }
    write(&clients.join("acme/invoices.csv"), &invoices_csv())?;
    let roster = roster_xlsx()?;
    write(&clients.join("sakura/roster.xlsx"), &roster)?;
    write(&clients.join("sakura/departments.ods"), &departments_ods()?)?;

    write(&bad.join("report.xlsx"), PDF)?;
    write(&bad.join("empty.csv"), b"")?;
    write(&bad.join("truncated.xlsx"), &roster[..roster.len() * 3 / 5])?;
    write(&bad.join("invalid_bytes.csv"), &invalid_bytes_csv())?;
    write(&bad.join("protected.xlsx"), &encrypted_cfb())?;
    write(&bad.join("export.xls"), HTML_EXPORT.as_bytes())?;
    Ok(())
}

fn write(path: &PathBuf, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)?;
    println!("wrote {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}

const INVOICES: &str = "\
請求書番号,取引先コード,取引先,金額,請求日,備考
INV-2026-1001,00123,株式会社アクメ,\"108,000\",2026/10/31,
INV-2026-1002,00456,有限会社　山田商店,54000,2026/10/31,10月分
INV-2026-1003,00789,　サクラ工業株式会社　,,2026/10/31,金額未定（確認中）
INV-2026-1004,01020,ミドリ物産㈱,12800,2026/10/31,
INV-2026-1005,00123,株式会社アクメ,\"￥3,300\",2026/10/31,送料
INV-2026-1006,02211,東京ロジスティクス株式会社,250000,2026/10/31,\"分割払い
1回目\"
INV-2026-1007,00456,有限会社　山田商店,７５００,2026/10/31,全角数字
INV-2026-1008,03005,髙橋建設株式会社,98000,2026/11/05,
INV-2026-1009,01020,ミドリ物産㈱,-2000,2026/11/05,返品　値引き
INV-2026-1010,04410,合同会社ＫＯＢＯ,45000,2026/11/05,
INV-2026-1011,00789,サクラ工業株式会社,\"1,234,567\",2026/11/05,至急～月末まで
INV-2026-1012,05001,株式会社はなまる,0,2026/11/05,無償対応
";

fn invoices_csv() -> Vec<u8> {
    let crlf = INVOICES.replace('\n', "\r\n");
    let (bytes, _, had_errors) = SHIFT_JIS.encode(&crlf);
    assert!(!had_errors, "fixture text must be CP932");
    bytes.into_owned()
}

fn invalid_bytes_csv() -> Vec<u8> {
    let mut bytes = SHIFT_JIS.encode("番号,名前\r\n1,山田\r\n").0.into_owned();
    // 0x82 starts a two-byte character; 0xFF can never follow it.
    bytes.extend_from_slice(b"2,\x82\xFF\r\n3,OK\r\n");
    bytes
}

fn roster_xlsx() -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    // A fixed creation time keeps the file identical from one run to the next.
    let created = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    book.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let ws = book.add_worksheet().set_name("名簿")?;
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy/mm/dd");
    let datetime = Format::new().set_num_format("yyyy/mm/dd hh:mm");
    let yen = Format::new().set_num_format("#,##0");
    ws.merge_range(0, 0, 0, 7, "さくら商事株式会社　社員名簿", &title)?;
    ws.write_string(1, 0, "2026年11月1日現在")?;
    let headers = ["社員番号", " 氏名 ", "部署", "入社日", "時給", "月給"];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *h, &bold)?;
    }
    ws.merge_range(2, 6, 2, 7, "連絡先", &bold)?;

    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    // id, name, department, start date, hourly wage, phone, mail
    type Person<'a> = (
        &'a str,
        &'a str,
        &'a str,
        chrono::NaiveDate,
        Option<f64>,
        &'a str,
        &'a str,
    );
    let people: [Person; 6] = [
        (
            "S001",
            "  山田　太郎 ",
            "営業部",
            day(2019, 4, 1),
            Some(1200.0),
            "03-1234-5678",
            "yamada@sakura.example",
        ),
        (
            "S002",
            "佐藤\u{3000}花子",
            "総務部",
            day(2020, 10, 1),
            Some(1350.0),
            "03-1234-5679",
            "sato@sakura.example",
        ),
        (
            "S003",
            "鈴木 一郎  ",
            "開発部",
            day(2021, 1, 15),
            Some(1500.0),
            "",
            "suzuki@sakura.example",
        ),
        (
            "S004",
            "田中 美咲",
            "営業部",
            day(2024, 7, 1),
            Some(1100.0),
            "03-1234-5680",
            "",
        ),
        (
            "S002",
            "佐藤\u{3000}花子",
            "総務部",
            day(2020, 10, 1),
            Some(1350.0),
            "03-1234-5679",
            "sato@sakura.example",
        ),
        ("S005", "高橋　健", "営業部", day(2026, 11, 5), None, "", ""),
    ];
    // Rows 4-6, an empty row 7, rows 8-10 (1-based, as Excel shows them).
    let rows = [3u32, 4, 5, 7, 8, 9];
    for (&r, p) in rows.iter().zip(&people) {
        ws.write_string(r, 0, p.0)?;
        ws.write_string(r, 1, p.1)?;
        ws.write_string(r, 2, p.2)?;
        ws.write_datetime_with_format(r, 3, p.3, &date)?;
        let excel_row = r + 1;
        match p.4 {
            Some(wage) => {
                ws.write_number(r, 4, wage)?;
                let monthly = format!("{}", wage * 160.0);
                ws.write_formula_with_format(
                    r,
                    5,
                    Formula::new(format!("=E{excel_row}*160")).set_result(monthly),
                    &yen,
                )?;
            }
            None => {
                ws.write_formula_with_format(
                    r,
                    5,
                    Formula::new(format!("=E{excel_row}*160")).set_result("0"),
                    &yen,
                )?;
            }
        }
        if !p.5.is_empty() {
            ws.write_string(r, 6, p.5)?;
        }
        if !p.6.is_empty() {
            ws.write_string(r, 7, p.6)?;
        }
    }
    // Row 11: a start time with a time of day, a fractional wage and a formula error.
    ws.write_string(10, 0, "S006")?;
    ws.write_string(10, 1, "伊藤 さくら")?;
    ws.write_string(10, 2, "開発部")?;
    let start = day(2025, 4, 1).and_hms_opt(9, 30, 0).unwrap();
    ws.write_datetime_with_format(10, 3, start, &datetime)?;
    ws.write_number(10, 4, 1500.5)?;
    ws.write_formula(10, 5, Formula::new("=E11/0").set_result("#DIV/0!"))?;
    // Formatted but empty cells: Excel keeps them, so the used range grows past the data.
    ws.write_blank(19, 0, &bold)?;
    ws.write_blank(5, 11, &bold)?;

    let notes = book.add_worksheet().set_name("メモ")?;
    notes.write_string(0, 0, "S002 は重複しています。")?;
    book.save_to_buffer()
}

fn departments_ods() -> zip::result::ZipResult<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored)?;
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")?;
    zip.start_file("META-INF/manifest.xml", stored)?;
    zip.write_all(ODS_MANIFEST.as_bytes())?;
    zip.start_file("content.xml", stored)?;
    zip.write_all(ods_content().as_bytes())?;
    zip.finish()?;
    Ok(out.into_inner())
}

const ODS_MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"#;

fn ods_content() -> String {
    let s = |v: &str| {
        format!(
            r#"<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>"#
        )
    };
    let n = |v: f64| {
        format!(
            r#"<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>"#
        )
    };
    let d = |v: &str| {
        format!(
            r#"<table:table-cell office:value-type="date" office:date-value="{v}"><text:p>{v}</text:p></table:table-cell>"#
        )
    };
    let row = |cells: Vec<String>| format!("<table:table-row>{}</table:table-row>", cells.concat());
    let rows = [
        row(vec![s("部署コード"), s("部署名"), s("設立日"), s("人数")]),
        row(vec![s("010"), s("営業部"), d("2001-04-01"), n(12.0)]),
        row(vec![s("020"), s("総務部"), d("2001-04-01"), n(4.0)]),
        r#"<table:table-row><table:table-cell table:number-columns-repeated="4"/></table:table-row>"#.to_string(),
        row(vec![s("030"), s("開発部"), d("2015-10-01T09:00:00"), n(7.5)]),
    ];
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet><table:table table:name="部署">{}</table:table></office:spreadsheet></office:body>
</office:document-content>
"#,
        rows.concat()
    )
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

const HTML_EXPORT: &str = "<html xmlns:x=\"urn:schemas-microsoft-com:office:excel\">\n\
<head><meta charset=\"UTF-8\"></head>\n<body><table>\n\
<tr><td>請求書番号</td><td>金額</td></tr>\n<tr><td>INV-1</td><td>1000</td></tr>\n\
</table></body></html>\n";

/// A Compound File (OLE2/CFB, version 3) whose directory holds `EncryptionInfo` and
/// `EncryptedPackage` streams: the container Excel writes for a password-protected xlsx.
/// The streams are 4096 bytes each (so they live in normal sectors) of dummy content.
fn encrypted_cfb() -> Vec<u8> {
    const SECTOR: usize = 512;
    const END: u32 = 0xFFFF_FFFE;
    const FREE: u32 = 0xFFFF_FFFF;
    const FAT_SECTOR: u32 = 0xFFFF_FFFD;
    let stream_sectors = 8u32; // 4096 bytes each
    let mut header = Vec::with_capacity(SECTOR);
    header.extend_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    header.extend_from_slice(&[0; 16]); // CLSID
    for v in [0x003Eu16, 0x0003, 0xFFFE, 9, 6] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    header.extend_from_slice(&[0; 6]);
    for v in [0u32, 1, 1, 0, 4096, END, 0, END, 0] {
        // dir sectors, FAT sectors, first dir sector, transaction, mini cutoff,
        // first mini FAT, mini FAT count, first DIFAT, DIFAT count
        header.extend_from_slice(&v.to_le_bytes());
    }
    header.extend_from_slice(&0u32.to_le_bytes()); // DIFAT[0]: the FAT is sector 0
    while header.len() < SECTOR {
        header.extend_from_slice(&FREE.to_le_bytes());
    }

    // FAT: sector 0 FAT, 1 directory, 2..=9 EncryptionInfo, 10..=17 EncryptedPackage.
    let mut fat = vec![FAT_SECTOR, END];
    for start in [2u32, 2 + stream_sectors] {
        for i in 0..stream_sectors {
            fat.push(if i + 1 == stream_sectors {
                END
            } else {
                start + i + 1
            });
        }
    }
    fat.resize(SECTOR / 4, FREE);

    let entry = |name: &str, kind: u8, child: u32, right: u32, start: u32, size: u32| {
        let mut e = vec![0u8; 128];
        let utf16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        e[..utf16.len()].copy_from_slice(&utf16);
        e[64..66].copy_from_slice(&((utf16.len() + 2) as u16).to_le_bytes());
        e[66] = kind;
        e[67] = 1; // black
        e[68..72].copy_from_slice(&FREE.to_le_bytes());
        e[72..76].copy_from_slice(&right.to_le_bytes());
        e[76..80].copy_from_slice(&child.to_le_bytes());
        e[116..120].copy_from_slice(&start.to_le_bytes());
        e[120..124].copy_from_slice(&size.to_le_bytes());
        e
    };
    let mut dir = Vec::with_capacity(SECTOR);
    dir.extend(entry("Root Entry", 5, 1, FREE, END, 0));
    dir.extend(entry("EncryptionInfo", 2, FREE, 2, 2, 4096));
    dir.extend(entry(
        "EncryptedPackage",
        2,
        FREE,
        FREE,
        2 + stream_sectors,
        4096,
    ));
    let mut unused = vec![0u8; 128];
    unused[68..80].fill(0xFF);
    dir.extend(unused);

    let mut info = Vec::with_capacity(4096);
    info.extend_from_slice(&[4, 0, 4, 0, 0x40, 0, 0, 0]); // agile encryption, version 4.4
    info.extend_from_slice(
        br#"<?xml version="1.0" encoding="UTF-8"?><encryption xmlns="http://schemas.microsoft.com/office/2006/encryption"/>"#,
    );
    info.resize(4096, 0);
    let mut package = Vec::with_capacity(4096);
    package.extend_from_slice(&4088u64.to_le_bytes());
    package.extend((0..4088u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));

    let mut out = header;
    out.extend(fat.iter().flat_map(|v| v.to_le_bytes()));
    out.extend(dir);
    out.extend(info);
    out.extend(package);
    out
}
