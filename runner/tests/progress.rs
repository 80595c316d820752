//! Row progress in the records, on both stores (the embedded SQLite file and a PostgreSQL
//! schema of its own): rows carried over by a rerun with what they left behind, keys that
//! skip rows an earlier run entered, `--again`, a row left touched by a crash coming back in
//! doubt, and a person marking it done.

#[path = "support/pg.rs"]
mod pg;

use runner::progress::{self, RowEffects, RowEntry, RowState};
use runner::record::{RecordsLocation, RunRecord};
use runner::run::{RowStatus, RunId, RunStatus};
use runner::run_folder::RunFolder;
use runner::{Records, RunOptions, Workflow};
use std::path::{Path, PathBuf};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Acme's 12 invoices, one without an amount: each row is "entered" (appended to `done`)
/// under its invoice number.
const KEYED: &str = r#"name: keyed
client: acme
author: olena
inputs: { invoices: {} }
steps:
  - new_table: { name: done, columns: [番号] }
  - for_each: invoices
    key: "{{ row['請求書番号'] }}"
    on_error: mark_row_failed
    steps:
      - if: "row['金額'] == ''"
        then: [ { fail: "no amount" } ]
      - append: { table: done, values: { 番号: "{{ row['請求書番号'] }}" } }
  - write: { file: done.csv, table: done }
"#;

struct Home {
    dir: tempfile::TempDir,
    records: Records,
    w: Workflow,
    _schema: Option<pg::PgSchema>,
}

impl Home {
    async fn sqlite() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::open(&dir.path().join("records.db")).await.unwrap();
        Home::with(dir, records, None)
    }

    async fn postgres() -> Home {
        let schema = pg::PgSchema::new().await;
        let records = Records::connect(&RecordsLocation::Postgres(schema.url()))
            .await
            .unwrap();
        Home::with(tempfile::tempdir().unwrap(), records, Some(schema))
    }

    fn with(dir: tempfile::TempDir, records: Records, schema: Option<pg::PgSchema>) -> Home {
        let w = Workflow::parse(Path::new("keyed.yaml"), KEYED).unwrap();
        Home {
            dir,
            records,
            w,
            _schema: schema,
        }
    }

    fn options(&self) -> RunOptions {
        let mut opts = RunOptions::new(self.dir.path());
        opts.inputs.insert(
            "invoices".into(),
            repo("fixtures/clients/acme/invoices.csv"),
        );
        opts
    }

    /// A run recorded as queued (as `kobo rerun` and the inbox make them), then run.
    async fn run_queued(&self, edit: impl FnOnce(&mut RunRecord)) -> RunId {
        let id = RunId::generate();
        let folder = RunFolder::create(self.dir.path(), &id).unwrap();
        let mut record = RunRecord::new(&id, &self.w, None, RunStatus::Queued, &folder.relative);
        edit(&mut record);
        self.records.insert(&record).await.unwrap();
        let mut opts = self.options();
        opts.run_id = Some(id.clone());
        runner::execute(&self.w, &self.records, opts).await.unwrap();
        id
    }

    async fn run(&self, again: bool) -> RunId {
        let mut opts = self.options();
        opts.again = again;
        runner::execute(&self.w, &self.records, opts)
            .await
            .unwrap()
            .id
    }

    /// The invoice numbers the run "entered" (its `done.csv`).
    async fn entered(&self, id: &RunId) -> Vec<String> {
        let r = self.records.get(id).await.unwrap().unwrap();
        let text =
            std::fs::read_to_string(self.dir.path().join(&r.folder).join("outputs/done.csv"))
                .unwrap();
        text.trim_start_matches('\u{feff}')
            .lines()
            .skip(1)
            .map(str::to_string)
            .collect()
    }
}

async fn keys_skip_rows_entered_before_and_again_enters_them(home: Home) {
    let first = home.run(false).await;
    let d = home.records.detail(&first.0).await.unwrap();
    assert_eq!((d.run.rows.ok, d.run.rows.failed), (11, 1));
    assert_eq!(home.entered(&first).await.len(), 11);

    // The same file again: every row entered before is skipped and says by which run.
    let second = home.run(false).await;
    let d = home.records.detail(&second.0).await.unwrap();
    assert_eq!(
        (d.run.rows.skipped, d.run.rows.failed),
        (11, 1),
        "{:#?}",
        d.rows
    );
    assert!(home.entered(&second).await.is_empty());
    let skipped = d
        .rows
        .iter()
        .find(|r| r.status == RowStatus::Skipped)
        .unwrap();
    let why = skipped.message.as_deref().unwrap();
    assert!(
        why.contains(&format!("already entered by run {first}")),
        "{why}"
    );
    assert!(skipped.key.is_some());

    // `--again`: entered again, on purpose.
    let third = home.run(true).await;
    assert_eq!(home.entered(&third).await.len(), 11);
}

async fn a_rerun_carries_done_rows_over_with_what_they_appended(home: Home) {
    let first = home.run(false).await;
    let rerun = home
        .run_queued(|r| {
            r.rerun_of = Some(first.0.clone());
            r.rerun_rows = Some("failed".into());
        })
        .await;
    let d = home.records.detail(&rerun.0).await.unwrap();
    assert_eq!((d.run.rows.ok, d.run.rows.failed), (11, 1), "{:#?}", d.rows);
    let origin = format!("run {first} (attempt 1)");
    let carried = d
        .rows
        .iter()
        .filter(|r| r.carried_from.as_deref() == Some(origin.as_str()))
        .count();
    assert_eq!(carried, 11, "{:#?}", d.rows);
    // The failed row ran again (and failed again): it is not carried.
    let failed = d
        .rows
        .iter()
        .find(|r| r.status == RowStatus::Failed)
        .unwrap();
    assert_eq!(failed.carried_from, None);
    // What the carried rows appended is in the output, as if they had run.
    assert_eq!(home.entered(&rerun).await, home.entered(&first).await);
}

async fn a_touched_row_comes_back_in_doubt_and_a_person_marks_it_done(home: Home) {
    // A worker died in row 1 after its click: the row is kept as touched, nothing else.
    let id = RunId::generate();
    let folder = RunFolder::create(home.dir.path(), &id).unwrap();
    let record = RunRecord::new(&id, &home.w, None, RunStatus::Queued, &folder.relative);
    home.records.insert(&record).await.unwrap();
    let touched = RowEntry {
        place: progress::place(None, "invoices", 1, 2),
        table: "invoices".into(),
        source_row: 2,
        state: RowState::Touched,
        message: None,
        step: Some("#2.2 click (line 9)".into()),
        key: Some("INV-2026-1001".into()),
        effects: RowEffects::default(),
        attempt: 1,
        from_run: None,
    };
    progress::save(&home.records, &id, "acme", "keyed", &[touched])
        .await
        .unwrap();
    let mut opts = home.options();
    opts.run_id = Some(id.clone());
    runner::execute(&home.w, &home.records, opts).await.unwrap();

    let d = home.records.detail(&id.0).await.unwrap();
    assert_eq!(d.rows[0].status, RowStatus::InDoubt, "{:#?}", d.rows);
    assert!(d.rows[0].message.as_deref().unwrap().contains("#2.2 click"));
    assert_eq!(d.run.rows.in_doubt, 1);
    assert_eq!(
        home.entered(&id).await.len(),
        10,
        "the row in doubt is not done again"
    );

    // Only a row in doubt can be marked done.
    let err = progress::mark_done(&home.records, &id, "invoices", 2, "kenji")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not in doubt"), "{err}");
    progress::mark_done(&home.records, &id, "invoices", 1, "kenji")
        .await
        .unwrap();
    let d = home.records.detail(&id.0).await.unwrap();
    assert_eq!(d.rows[0].status, RowStatus::Ok);
    assert_eq!((d.run.rows.ok, d.run.rows.in_doubt), (11, 0));
    // Its key counts as entered: the next run skips that row.
    let key = d.rows[0]
        .key
        .clone()
        .expect("the key kept with the touched row");
    assert!(
        progress::entered(&home.records, "acme", "keyed", &key)
            .await
            .unwrap()
            .is_some()
    );
}

async fn rows_carried_from_an_approved_run_are_not_paid_again(home: Home) {
    std::fs::write(
        home.dir.path().join("rates.yaml"),
        "rates:\n  - { client: acme, workflow: keyed, per_run: 100, per_ok_row: 20 }\n",
    )
    .unwrap();
    let kenji = runner::User {
        name: "kenji".into(),
        role: runner::Role::Reviewer,
        client: None,
        lang: None,
        disabled: false,
    };
    // The workflow's author: an approval credits a known trainee only.
    runner::user::add(
        home.records.pool(),
        "olena",
        runner::Role::Trainee,
        None,
        "olena-password",
    )
    .await
    .unwrap();
    let first = home.run(false).await;
    let paid = runner::review::approve(&home.records, home.dir.path(), &first, &kenji, None)
        .await
        .unwrap();
    assert_eq!(paid.credit.amount_yen, 100 + 11 * 20);
    // The rerun keeps the 11 rows (paid with the first run) and does the failed one again.
    let rerun = home
        .run_queued(|r| {
            r.rerun_of = Some(first.0.clone());
            r.rerun_rows = Some("failed".into());
        })
        .await;
    let paid = runner::review::approve(&home.records, home.dir.path(), &rerun, &kenji, None)
        .await
        .unwrap();
    assert_eq!(paid.credit.ok_rows, 0);
    assert_eq!(
        paid.credit.amount_yen, 100,
        "only the run itself, not the rows again"
    );

    // The other order: a rerun approved first; its original can then not be approved too.
    let third = home.run(true).await;
    let rerun = home
        .run_queued(|r| {
            r.rerun_of = Some(third.0.clone());
            r.rerun_rows = Some("failed".into());
        })
        .await;
    runner::review::approve(&home.records, home.dir.path(), &rerun, &kenji, None)
        .await
        .unwrap();
    let err = runner::review::approve(&home.records, home.dir.path(), &third, &kenji, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
}

/// Each test above on SQLite records and on PostgreSQL records.
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Home::sqlite().await).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Home::postgres().await).await
            })*
        }
    };
}

on_both_stores!(
    keys_skip_rows_entered_before_and_again_enters_them,
    a_rerun_carries_done_rows_over_with_what_they_appended,
    a_touched_row_comes_back_in_doubt_and_a_person_marks_it_done,
    rows_carried_from_an_approved_run_are_not_paid_again,
);
