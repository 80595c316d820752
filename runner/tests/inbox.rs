//! The inbox on a real data directory, records and embedded queue: what it does with the
//! files a client drops, looked at scan by scan (no waiting for the watcher).

use runner::inbox::{Inbox, InboxSettings, REJECTED, Taken};
use runner::queue::{JobQueue, QueueLocation, QueueSettings};
use runner::{Records, RunStatus};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

struct Home {
    dir: tempfile::TempDir,
    records: Records,
    queue: JobQueue,
    inbox: Inbox,
}

impl Home {
    async fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::open(&dir.path().join("records.db")).await.unwrap();
        let queue = JobQueue::open(
            &QueueLocation::Sqlite(dir.path().join("queue.db")),
            QueueSettings::default(),
        )
        .await
        .unwrap();
        let mut settings = InboxSettings::new(dir.path(), &repo("workflows"));
        settings.settle = Duration::ZERO;
        std::fs::create_dir_all(dir.path().join("inbox/acme/invoice-report")).unwrap();
        Home {
            dir,
            records,
            queue,
            inbox: Inbox::new(settings),
        }
    }

    /// Acme's inbox folder for the invoice report.
    fn task(&self) -> PathBuf {
        self.dir.path().join("inbox/acme/invoice-report")
    }

    /// Drop a file and let the inbox take it: the first look sees it, the second takes it.
    async fn drop_and_take(&mut self, name: &str, content: &[u8]) -> Vec<Taken> {
        std::fs::write(self.task().join(name), content).unwrap();
        self.scan().await;
        self.scan().await
    }

    async fn scan(&mut self) -> Vec<Taken> {
        self.inbox.scan(&self.records, &mut self.queue).await.taken
    }
}

/// Every file in `dir` (not in sub-folders) with its content.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A reason note kobo writes beside a refused file never takes the place of a file already
/// there: not a client's file that happens to carry the note's name (a PDF the client saved
/// as `a.pdf.rejected.txt`, refused itself), not an earlier refusal's note. And notes are
/// never taken as new input.
#[tokio::test]
async fn a_reason_note_never_replaces_a_file_already_set_aside() {
    let mut h = Home::new().await;
    let pdf = b"%PDF-1.4 the client's own file".to_vec();
    let taken = h.drop_and_take("a.pdf.rejected.txt", &pdf).await;
    assert!(
        matches!(taken.as_slice(), [Taken::Rejected { .. }]),
        "{taken:?}"
    );
    let rejected = h.task().join(REJECTED);
    assert_eq!(
        std::fs::read(rejected.join("a.pdf.rejected.txt")).unwrap(),
        pdf
    );

    // Now `a.pdf` is refused too: its note must not be written over the client's file.
    let second = b"%PDF-1.7 another document".to_vec();
    let taken = h.drop_and_take("a.pdf", &second).await;
    let [Taken::Rejected { moved_to, .. }] = taken.as_slice() else {
        panic!("{taken:?}")
    };
    assert_eq!(
        std::fs::read(rejected.join("a.pdf.rejected.txt")).unwrap(),
        pdf,
        "the client's file was overwritten by a reason note"
    );
    assert_eq!(std::fs::read(moved_to).unwrap(), second);
    let note = PathBuf::from(format!("{}.rejected.txt", moved_to.display()));
    assert!(
        std::fs::read_to_string(&note)
            .unwrap()
            .contains("`a.pdf` is not a spreadsheet"),
        "{}",
        note.display()
    );

    // An earlier refusal's note stays too, when its file was moved away by hand.
    std::fs::write(rejected.join("b.pdf.rejected.txt"), "the earlier note").unwrap();
    let taken = h.drop_and_take("b.pdf", b"%PDF-1.7 b").await;
    let [Taken::Rejected { moved_to, .. }] = taken.as_slice() else {
        panic!("{taken:?}")
    };
    assert_eq!(
        std::fs::read_to_string(rejected.join("b.pdf.rejected.txt")).unwrap(),
        "the earlier note"
    );
    assert_eq!(std::fs::read(moved_to).unwrap(), b"%PDF-1.7 b");

    // Every file the client sent is kept, each with a note of its own.
    let kept: Vec<String> = files(&rejected).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        kept,
        [
            "a (1).pdf",
            "a (1).pdf.rejected.txt",
            "a.pdf.rejected.txt",
            "a.pdf.rejected.txt.rejected.txt",
            "b (1).pdf",
            "b (1).pdf.rejected.txt",
            "b.pdf.rejected.txt",
        ]
    );
    for sent in [&pdf, &second, &b"%PDF-1.7 b".to_vec()] {
        assert!(files(&rejected).iter().any(|(_, c)| c == sent));
    }
    // The notes are not new input: looking again takes nothing, and no run was made.
    assert!(h.scan().await.is_empty());
    assert!(h.scan().await.is_empty());
    assert!(files(&h.task()).is_empty());
    assert!(h.records.recent(10).await.unwrap().is_empty());
}

/// Two files with the same content (a duplicate is set aside with a note) where the names
/// the duplicate and its note would take are both in use already: nothing is replaced.
#[tokio::test]
async fn a_duplicate_set_aside_takes_a_free_name_for_itself_and_its_note() {
    let mut h = Home::new().await;
    let csv = std::fs::read(repo("fixtures/clients/acme/invoices.csv")).unwrap();
    let taken = h.drop_and_take("invoices.csv", &csv).await;
    assert!(
        matches!(taken.as_slice(), [Taken::Queued { .. }]),
        "{taken:?}"
    );
    let duplicates = h.task().join(runner::inbox::DUPLICATES);
    std::fs::create_dir_all(&duplicates).unwrap();
    std::fs::write(
        duplicates.join("invoices.csv.duplicate.txt"),
        "a file of the client's",
    )
    .unwrap();
    let taken = h.drop_and_take("invoices.csv", &csv).await;
    let [Taken::Duplicate { moved_to, .. }] = taken.as_slice() else {
        panic!("{taken:?}")
    };
    assert_eq!(std::fs::read(moved_to).unwrap(), csv);
    assert_eq!(
        std::fs::read_to_string(duplicates.join("invoices.csv.duplicate.txt")).unwrap(),
        "a file of the client's"
    );
    let runs = h.records.recent(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Queued);
}
