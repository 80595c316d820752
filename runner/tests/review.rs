//! Review, delivery and payout on real runs of `workflows/invoice-report.yaml`, each test
//! on both record stores: the embedded SQLite file and a PostgreSQL schema of its own.

#[path = "support/pg.rs"]
mod pg;

use runner::record::RecordsLocation;
use runner::review::{self, ReviewError, ReviewState, RunFilter};
use runner::run::RunId;
use runner::{Records, Role, RunOptions, User, Workflow, audit, delivery, payout, user};
use std::path::{Path, PathBuf};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

struct Home {
    dir: tempfile::TempDir,
    records: Records,
    _schema: Option<pg::PgSchema>,
}

impl Home {
    async fn sqlite() -> Home {
        let dir = Home::dir();
        let records = Records::open(&dir.path().join("records.db")).await.unwrap();
        Home {
            dir,
            records,
            _schema: None,
        }
    }

    async fn postgres() -> Home {
        let schema = pg::PgSchema::new().await;
        let records = Records::connect(&RecordsLocation::Postgres(schema.url()))
            .await
            .unwrap();
        Home {
            dir: Home::dir(),
            records,
            _schema: Some(schema),
        }
    }

    fn dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rates.yaml"),
            "rates:\n  - client: acme\n    workflow: invoice-report\n    per_run: 500\n    per_ok_row: 20\n",
        )
        .unwrap();
        dir
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Run the invoice report on Acme's sample: 10 rows ok, 1 failed, 1 skipped. Its author
    /// `olena` is a trainee (added with the first run), so it can be approved.
    async fn run_invoices(&self) -> RunId {
        match user::add(
            self.records.pool(),
            "olena",
            Role::Trainee,
            None,
            "olena password 1",
        )
        .await
        {
            Ok(_) | Err(user::UserError::Exists(_)) => {}
            Err(e) => panic!("{e}"),
        }
        let w = Workflow::load(&repo("workflows/invoice-report.yaml")).unwrap();
        let mut opts = RunOptions::new(self.path());
        opts.inputs.insert(
            "invoices".into(),
            repo("fixtures/clients/acme/invoices.csv"),
        );
        runner::execute(&w, &self.records, opts).await.unwrap().id
    }

    fn outbox(&self) -> Vec<String> {
        let dir = runner::data_dir::DataDir::new(self.path()).client_outbox("acme");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

fn person(name: &str, role: Role) -> User {
    User {
        name: name.into(),
        role,
        client: None,
        lang: None,
        disabled: false,
    }
}

async fn approving_delivers_and_credits_once(home: Home) {
    let id = home.run_invoices().await;
    let awaiting = review::list(
        &home.records,
        &RunFilter {
            awaiting_only: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(awaiting.len(), 1);
    assert_eq!(awaiting[0].state, ReviewState::Awaiting);

    let kenji = person("kenji", Role::Reviewer);
    let approval = review::approve(&home.records, home.path(), &id, &kenji, Some("looks good"))
        .await
        .unwrap();
    assert_eq!(approval.credit.amount_yen, 500 + 10 * 20);
    let names = home.outbox();
    assert_eq!(names.len(), 1, "{names:?}");
    let short = &id.0;
    // `<delivery date in Japan>_<workflow>_<run>_<output name>`; the output's own name
    // carries the run machine's `today`, which is another day around midnight in Japan.
    let (delivered_on, rest) = names[0].split_at(10);
    assert_eq!(
        delivered_on,
        chrono::Utc::now()
            .with_timezone(&runner::payout::jst())
            .format("%Y-%m-%d")
            .to_string(),
        "{}",
        names[0]
    );
    assert_eq!(
        rest,
        format!(
            "_invoice-report_{short}_{}",
            approval.deliveries[0].source.rsplit('/').next().unwrap()
        ),
        "{}",
        names[0]
    );

    let again = review::approve(&home.records, home.path(), &id, &kenji, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            again,
            ReviewError::AlreadyReviewed {
                state: ReviewState::Approved,
                ..
            }
        ),
        "{again}"
    );
    let reject = review::reject(&home.records, home.path(), &id, &kenji, "no")
        .await
        .unwrap_err();
    assert!(matches!(reject, ReviewError::AlreadyReviewed { .. }));
    assert_eq!(home.outbox().len(), 1);
    assert_eq!(
        payout::ledger(home.records.pool(), Some("olena"), None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        delivery::for_client(home.records.pool(), "acme")
            .await
            .unwrap()
            .len(),
        1
    );
    let log = audit::recent(home.records.pool(), 10).await.unwrap();
    assert_eq!(
        (log[0].actor.as_str(), log[0].action.as_str()),
        ("kenji", "approve")
    );
}

async fn parallel_approvals_deliver_and_credit_once(home: Home) {
    let id = home.run_invoices().await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let records = home.records.clone();
        let path = home.path().to_path_buf();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            review::approve(
                &records,
                &path,
                &id,
                &person(&format!("reviewer{i}"), Role::Reviewer),
                None,
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(ReviewError::AlreadyReviewed { .. }) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(home.outbox().len(), 1);
    assert_eq!(
        payout::ledger(home.records.pool(), None, None)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn who_may_review_and_what_rejecting_does(home: Home) {
    let id = home.run_invoices().await;
    let own = review::approve(
        &home.records,
        home.path(),
        &id,
        &person("olena", Role::Reviewer),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(own, ReviewError::OwnRun(_)));
    let trainee = review::approve(
        &home.records,
        home.path(),
        &id,
        &person("taras", Role::Trainee),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(trainee, ReviewError::NotAReviewer));
    let kenji = person("kenji", Role::Reviewer);
    let empty = review::reject(&home.records, home.path(), &id, &kenji, "  ")
        .await
        .unwrap_err();
    assert!(matches!(empty, ReviewError::CommentRequired));

    review::reject(
        &home.records,
        home.path(),
        &id,
        &kenji,
        "Рядок 4: немає суми",
    )
    .await
    .unwrap();
    assert!(home.outbox().is_empty());
    assert!(
        payout::ledger(home.records.pool(), None, None)
            .await
            .unwrap()
            .is_empty()
    );
    let mine = review::list(
        &home.records,
        &RunFilter {
            trainee: Some("olena".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(mine[0].state, ReviewState::Rejected);
    assert_eq!(
        mine[0].review.as_ref().unwrap().comment.as_deref(),
        Some("Рядок 4: немає суми")
    );
}

async fn no_rate_no_approval_and_changed_outputs_are_not_delivered(home: Home) {
    let id = home.run_invoices().await;
    std::fs::write(home.path().join("rates.yaml"), "rates: []\n").unwrap();
    let kenji = person("kenji", Role::Reviewer);
    let err = review::approve(&home.records, home.path(), &id, &kenji, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ReviewError::NoRate { .. }), "{err}");

    std::fs::write(
        home.path().join("rates.yaml"),
        "rates:\n  - { client: acme, per_run: 300 }\n",
    )
    .unwrap();
    let detail = home.records.detail(&id.0).await.unwrap();
    let output = detail
        .artifacts
        .iter()
        .find(|a| a.kind == "output")
        .unwrap();
    // Same size, other bytes: only the content check can tell.
    let tampered = vec![b'x'; output.bytes as usize];
    std::fs::write(
        home.path().join(&detail.run.folder).join(&output.path),
        &tampered,
    )
    .unwrap();
    if home.records.backend() == runner::record::Backend::Postgres {
        // There the records hold the run's files and are what approval reads: change them.
        let done = sqlx::query(
            "UPDATE run_files SET content = $1, sha256 = 'changed' WHERE run_id = $2 AND path = $3",
        )
        .bind(tampered)
        .bind(&id.0)
        .bind(&output.path)
        .execute(home.records.pool())
        .await
        .unwrap();
        assert_eq!(done.rows_affected(), 1);
    }
    let err = review::approve(&home.records, home.path(), &id, &kenji, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ReviewError::Delivery(_)), "{err}");
    // Nothing happened: the run still awaits review, nothing delivered or credited.
    assert_eq!(review::get(home.records.pool(), &id.0).await.unwrap(), None);
    assert!(home.outbox().is_empty());
    assert!(
        payout::ledger(home.records.pool(), None, None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn users_log_in_and_the_audit_log_is_append_only(home: Home) {
    let pool = home.records.pool();
    user::add(pool, "kenji", Role::Reviewer, None, "correct horse battery")
        .await
        .unwrap();
    user::add(
        pool,
        "sato",
        Role::Client,
        Some("acme"),
        "correct horse battery",
    )
    .await
    .unwrap();
    assert!(matches!(
        user::add(pool, "kenji", Role::Admin, None, "another long one").await,
        Err(user::UserError::Exists(_))
    ));
    assert!(matches!(
        user::add(pool, "x", Role::Client, None, "another long one").await,
        Err(user::UserError::ClientRequired)
    ));
    assert!(matches!(
        user::add(pool, "y", Role::Trainee, None, "short").await,
        Err(user::UserError::WeakPassword)
    ));
    assert_eq!(
        user::verify(pool, "kenji", "correct horse battery")
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Reviewer
    );
    assert_eq!(
        user::verify(pool, "kenji", "wrong password!")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        user::verify(pool, "nobody", "correct horse battery")
            .await
            .unwrap(),
        None
    );

    audit::append(pool, "kenji", "login", "kenji", None)
        .await
        .unwrap();
    assert!(
        sqlx::query("UPDATE audit SET actor = 'x'")
            .execute(pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM audit")
            .execute(pool)
            .await
            .is_err()
    );
    if home.records.backend() == runner::record::Backend::Postgres {
        // TRUNCATE fires no row trigger; a statement trigger refuses it.
        let e = sqlx::query("TRUNCATE audit")
            .execute(pool)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
    }
    assert_eq!(audit::recent(pool, 10).await.unwrap().len(), 1);
}

/// The admin's changes to users: roles, disabling (which ends sessions), passwords, and never
/// leaving the dashboard without an active admin. Each change is in the audit log.
async fn the_admin_manages_users_but_never_removes_the_last_admin(home: Home) {
    let pool = home.records.pool();
    let boss = user::add(pool, "boss", Role::Admin, None, "boss password 1")
        .await
        .unwrap();
    let olena = user::add(pool, "olena", Role::Trainee, None, "olena password 1")
        .await
        .unwrap();
    assert!(matches!(
        user::set_role(pool, "boss", "boss", Role::Reviewer, None).await,
        Err(user::UserError::LastAdmin(n)) if n == "boss"
    ));
    assert!(matches!(
        user::set_disabled(pool, "boss", "boss", true).await,
        Err(user::UserError::LastAdmin(_))
    ));
    assert!(matches!(
        user::set_role(pool, "boss", "olena", Role::Client, None).await,
        Err(user::UserError::ClientRequired)
    ));
    assert!(matches!(
        user::set_disabled(pool, "boss", "nobody", true).await,
        Err(user::UserError::NoSuchUser(_))
    ));
    let changed = user::set_role(pool, "boss", "olena", Role::Client, Some("acme"))
        .await
        .unwrap();
    assert_eq!(
        (changed.role, changed.client.as_deref()),
        (Role::Client, Some("acme"))
    );

    let (token, _) = runner::session::create(pool, &olena).await.unwrap();
    assert!(
        runner::session::lookup(pool, &token)
            .await
            .unwrap()
            .is_some()
    );
    user::set_disabled(pool, "boss", "olena", true)
        .await
        .unwrap();
    assert!(
        runner::session::lookup(pool, &token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        user::verify(pool, "olena", "olena password 1").await,
        Err(user::UserError::Disabled(_))
    ));
    assert_eq!(
        user::verify(pool, "olena", "a wrong password")
            .await
            .unwrap(),
        None
    );
    user::set_disabled(pool, "boss", "olena", false)
        .await
        .unwrap();
    user::set_password(pool, "boss", "olena", "a new password")
        .await
        .unwrap();
    assert!(
        user::verify(pool, "olena", "olena password 1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        user::verify(pool, "olena", "a new password")
            .await
            .unwrap()
            .is_some()
    );
    let (token, _) = runner::session::create(pool, &boss).await.unwrap();
    user::set_password(pool, "boss", "boss", "another password")
        .await
        .unwrap();
    assert!(
        runner::session::lookup(pool, &token)
            .await
            .unwrap()
            .is_none()
    );

    let actions: Vec<String> = audit::recent(pool, 10)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|a| format!("{} {} {}", a.actor, a.action, a.target))
        .collect();
    assert_eq!(
        actions,
        [
            "boss user.role olena",
            "boss user.disable olena",
            "boss user.enable olena",
            "boss user.password olena",
            "boss user.password boss",
        ]
    );
}

/// Once a run is approved or rejected, what kobo keeps of its files does not change: the
/// records refuse new, changed or removed files and artifacts for it, `run_files::send`
/// refuses it, and its output files are read-only. A run not yet reviewed is not frozen.
async fn a_reviewed_runs_outputs_do_not_change(home: Home) {
    let approved = home.run_invoices().await;
    let rejected = home.run_invoices().await;
    let open = home.run_invoices().await;
    let kenji = person("kenji", Role::Reviewer);
    review::approve(&home.records, home.path(), &approved, &kenji, None)
        .await
        .unwrap();
    review::reject(&home.records, home.path(), &rejected, &kenji, "row 4")
        .await
        .unwrap();
    let pool = home.records.pool();
    let changes = [
        "INSERT INTO run_artifacts (run_id, kind, name, path, bytes, sha256, created_at)
         VALUES ($1, 'output', 'x.csv', 'outputs/x.csv', 1, 'abc', '2026-11-25T00:00:00Z')",
        "UPDATE run_artifacts SET sha256 = 'changed' WHERE run_id = $1 AND kind = 'output'",
        "DELETE FROM run_artifacts WHERE run_id = $1",
        "INSERT INTO run_files (run_id, path, sha256, content) VALUES ($1, 'outputs/x.csv', 'abc', 'x')",
        "UPDATE run_files SET sha256 = 'changed' WHERE run_id = $1",
        "DELETE FROM run_files WHERE run_id = $1",
    ];
    for id in [&approved, &rejected] {
        let before = home.records.detail(&id.0).await.unwrap().artifacts;
        for sql in changes {
            let r = sqlx::query(sql).bind(&id.0).execute(pool).await;
            let changed = r.as_ref().map(|d| d.rows_affected()).unwrap_or(0);
            // An UPDATE or DELETE with no row to touch (SQLite keeps no run_files) changes
            // nothing either; every statement that would change a row is refused.
            assert_eq!(changed, 0, "{sql} changed reviewed run {id}");
            let postgres = home.records.backend() == runner::record::Backend::Postgres;
            if postgres || sql.starts_with("INSERT") || sql.contains("run_artifacts") {
                let e = r.unwrap_err().to_string();
                assert!(e.contains("was reviewed"), "{sql}: {e}");
            }
        }
        assert_eq!(home.records.detail(&id.0).await.unwrap().artifacts, before);
        let run = home.records.find(&id.0).await.unwrap();
        for a in before.iter().filter(|a| a.kind == "output") {
            let meta = std::fs::metadata(home.path().join(&run.folder).join(&a.path)).unwrap();
            assert!(meta.permissions().readonly(), "{} is writable", a.path);
        }
        if home.records.backend() == runner::record::Backend::Postgres {
            let e = runner::run_files::send(&home.records, home.path(), id, &run.folder)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("kobo rerun"), "{e}");
        }
    }
    // The run nobody reviewed yet is not frozen.
    let done = sqlx::query("UPDATE run_artifacts SET sha256 = sha256 WHERE run_id = $1")
        .bind(&open.0)
        .execute(pool)
        .await
        .unwrap();
    assert!(done.rows_affected() > 0);
}

/// What an approval left: (reviews, deliveries, ledger rows) for the run, and the outbox.
async fn approval_state(home: &Home, id: &RunId) -> (bool, Vec<String>, usize, Vec<String>) {
    let pool = home.records.pool();
    let reviewed = review::get(pool, &id.0).await.unwrap().is_some();
    let mut delivered: Vec<String> = delivery::for_run(pool, &id.0)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.file_name)
        .collect();
    delivered.sort();
    let credited = payout::ledger(pool, Some("olena"), None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.run_id == id.0)
        .count();
    (reviewed, delivered, credited, home.outbox())
}

/// An approval whose caller stops waiting part-way (a dashboard request dropped when the
/// browser goes away), with its output already copied to the outbox, still ends as one
/// whole approval: decision, delivery, credit and the file, nothing missing, nothing more.
async fn an_approval_whose_caller_goes_away_still_finishes(home: Home) {
    let id = home.run_invoices().await;
    let kenji = person("kenji", Role::Reviewer);
    let hold = runner::fault::Hold::new("approve", &id.0);
    tokio::select! {
        r = review::approve(&home.records, home.path(), &id, &kenji, None) => {
            panic!("the approval did not stop at the held point: {r:?}")
        }
        _ = hold.reached() => {}
    }
    // The caller is gone; the output is in the outbox, the approval not committed.
    assert_eq!(home.outbox().len(), 1, "{:?}", home.outbox());
    // A recovery meanwhile (another kobo starting) leaves an approval under way alone.
    let removed = runner::pending_delivery::recover(home.path(), &home.records)
        .await
        .unwrap();
    assert!(removed.is_empty(), "{removed:?}");
    assert_eq!(home.outbox().len(), 1);

    hold.release();
    let note = runner::data_dir::DataDir::new(home.path())
        .pending_deliveries()
        .join(&id.0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while note.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (reviewed, delivered, credited, outbox) = approval_state(&home, &id).await;
    assert!(reviewed, "the approval was lost when its caller went away");
    assert_eq!(delivered.len(), 1);
    assert_eq!(credited, 1);
    assert_eq!(
        outbox, delivered,
        "the outbox holds exactly what was delivered"
    );
    assert!(!note.exists(), "the note of the approval remains");
}

/// Recovery at start removes half-written deliveries (`.part-…` temporary files a process
/// killed while writing into an outbox left) and keeps every delivered file.
async fn recovery_removes_half_written_deliveries(home: Home) {
    let id = home.run_invoices().await;
    let kenji = person("kenji", Role::Reviewer);
    review::approve(&home.records, home.path(), &id, &kenji, None)
        .await
        .unwrap();
    let delivered = home.outbox();
    assert_eq!(delivered.len(), 1);
    let outbox = runner::data_dir::DataDir::new(home.path()).client_outbox("acme");
    std::fs::write(outbox.join(".part-a1B2c3"), "half a file").unwrap();
    let other = runner::data_dir::DataDir::new(home.path()).client_outbox("sakura");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join(".part-x9Y8z7"), "").unwrap();

    let removed = runner::pending_delivery::recover(home.path(), &home.records)
        .await
        .unwrap();
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert_eq!(home.outbox(), delivered);
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);
}

/// Failed logins are counted in the records: five for a name or twenty from an address
/// lock it for fifteen minutes, even when the attempts come all at once; a login clears the
/// name's count.
async fn failed_logins_lock_a_name_and_an_address(home: Home) {
    use runner::login_limit::{self, Locked};
    let pool = home.records.pool();
    let now = chrono::Utc::now();
    // A burst: every attempt is counted before any password is checked, so only five go on.
    let tries = (0..12).map(|_| {
        let pool = pool.clone();
        async move { login_limit::begin(&pool, "Olena", Some("203.0.113.7"), now).await }
    });
    let went_on = futures_join(tries)
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    assert_eq!(went_on, login_limit::USER_LIMIT);
    let refused = login_limit::begin(pool, "olena", None, now).await.unwrap();
    let lockout = refused.unwrap_err();
    assert_eq!(lockout.locked, Locked::User("olena".into()));
    assert_eq!(lockout.minutes_left(now), 15);
    // Other names from the address still try, until it has twenty failures.
    for i in 0..15 {
        let name = format!("guess{i}");
        login_limit::begin(pool, &name, Some("203.0.113.7"), now)
            .await
            .unwrap()
            .unwrap();
        login_limit::failed(pool, &name, Some("203.0.113.7"), now)
            .await
            .unwrap();
    }
    let refused = login_limit::begin(pool, "taras", Some("203.0.113.7"), now)
        .await
        .unwrap();
    assert_eq!(
        refused.unwrap_err().locked,
        Locked::Address("203.0.113.7".into())
    );
    login_limit::begin(pool, "taras", Some("198.51.100.2"), now)
        .await
        .unwrap()
        .unwrap();
    let audited: Vec<String> = audit::recent(pool, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "login.lockout")
        .map(|e| e.target)
        .collect();
    assert_eq!(audited, ["203.0.113.7"]);
    // Fifteen minutes later the name may try again; a login forgets its failures.
    let later = now + chrono::Duration::minutes(15);
    login_limit::begin(pool, "olena", None, later)
        .await
        .unwrap()
        .unwrap();
    login_limit::succeeded(pool, "olena").await.unwrap();
    for _ in 0..login_limit::USER_LIMIT {
        login_limit::begin(pool, "olena", None, later)
            .await
            .unwrap()
            .unwrap();
    }
}

/// All the futures, run at once.
async fn futures_join<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// A trainee's filter values are those of her own runs only.
async fn filter_values_of_one_trainee_are_her_own(home: Home) {
    home.run_invoices().await;
    let pool = home.records.pool();
    let every = review::filter_values(pool, None).await.unwrap();
    assert_eq!(every.1, ["invoice-report"]);
    assert_eq!(every.2, ["olena"]);
    assert_eq!(
        review::filter_values(pool, Some("olena")).await.unwrap(),
        every
    );
    let none = review::filter_values(pool, Some("taras")).await.unwrap();
    assert!(
        none.0.is_empty() && none.1.is_empty() && none.2.is_empty(),
        "{none:?}"
    );
}

/// Give a recorded run another author (as a workflow with that `author:` would have).
async fn set_author(home: &Home, id: RunId, author: &str) -> RunId {
    sqlx::query("UPDATE runs SET trainee = $1 WHERE id = $2")
        .bind(author)
        .bind(&id.0)
        .execute(home.records.pool())
        .await
        .unwrap();
    id
}

/// An approval credits a known trainee, found without case; a run whose author is no
/// trainee is refused, credits nothing, stays awaiting review and is marked in the list.
async fn only_runs_of_known_trainees_are_approved(home: Home) {
    let kenji = person("kenji", Role::Reviewer);
    let pool = home.records.pool();
    let ghost = set_author(&home, home.run_invoices().await, "ghost").await;
    let reviewer = set_author(&home, home.run_invoices().await, "kenji").await;
    let old_style = set_author(&home, home.run_invoices().await, "Olena").await;
    user::add(pool, "kenji", Role::Reviewer, None, "kenji password 1")
        .await
        .unwrap();
    let err = review::approve(
        &home.records,
        home.path(),
        &ghost,
        &person("boss", Role::Admin),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ReviewError::UnknownAuthor { author } if author == "ghost"),
        "{err}"
    );
    let said = err.to_string();
    assert!(
        said.contains("stays awaiting review, held for the admin")
            && said.contains("kobo user add --name ghost --role trainee")
            && said.contains("fixes `author:` in the workflow"),
        "{said}"
    );
    let err = review::approve(
        &home.records,
        home.path(),
        &reviewer,
        &person("boss", Role::Admin),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ReviewError::AuthorNotATrainee { author, role: Role::Reviewer } if author == "kenji"),
        "{err}"
    );
    assert!(home.outbox().is_empty());
    assert!(payout::ledger(pool, None, None).await.unwrap().is_empty());
    let listed = review::list(
        &home.records,
        &RunFilter {
            awaiting_only: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let held: Vec<&str> = listed
        .iter()
        .filter(|s| !s.author_known)
        .map(|s| s.run.trainee.as_str())
        .collect();
    assert_eq!(listed.len(), 3);
    assert_eq!(held, ["ghost", "kenji"]);
    // `Olena` is the user `olena`: approved, and credited to her ledger.
    let approval = review::approve(&home.records, home.path(), &old_style, &kenji, None)
        .await
        .unwrap();
    assert_eq!(approval.credit.trainee, "olena");
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
    approving_delivers_and_credits_once,
    parallel_approvals_deliver_and_credit_once,
    who_may_review_and_what_rejecting_does,
    no_rate_no_approval_and_changed_outputs_are_not_delivered,
    users_log_in_and_the_audit_log_is_append_only,
    the_admin_manages_users_but_never_removes_the_last_admin,
    a_reviewed_runs_outputs_do_not_change,
    an_approval_whose_caller_goes_away_still_finishes,
    recovery_removes_half_written_deliveries,
    failed_logins_lock_a_name_and_an_address,
    filter_values_of_one_trainee_are_her_own,
    only_runs_of_known_trainees_are_approved,
);
