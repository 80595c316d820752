//! The `kobo` command: parses arguments and calls into the `runner` and `dashboard` crates.

mod cli_output;
mod demo;
mod serve;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use runner::data_dir::DataDir;
use runner::execute::default_home;
use runner::record::RecordsLocation;
use runner::{Records, RunOptions, RunStatus, Workflow};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};

/// Every allocation of this process is counted, so a run can be held to its memory limit
/// (`limits.yaml`): `kobo run-job`, the process `kobo serve` starts for each run, sets the
/// limit on itself and stops alone when a run needs more.
#[global_allocator]
static MEMORY: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// kobo runs RPA workflows on client spreadsheets and keeps a record of every run.
#[derive(Parser)]
#[command(name = "kobo", version, about, long_about = None)]
struct Cli {
    /// Data directory for run records, run folders and inboxes (default: KOBO_HOME, else
    /// `./kobo-data`).
    // Not `env = "KOBO_HOME"`: clap refuses an empty KOBO_HOME, which `default_home` treats as unset.
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    /// Where the run records live: `postgres://user@host:5432/db` when workers run on
    /// several machines; default: `records.db` in the data directory.
    #[arg(long, global = true, env = "KOBO_RECORDS")]
    records: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check workflow files (or every workflow in folders) and report every problem.
    Validate {
        /// Workflow files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run a workflow on an input file and record the run.
    Run {
        /// The workflow file.
        workflow: PathBuf,
        /// The input file. With several inputs: `--input name=path` for each. `run:<id>` reads
        /// the output of an earlier run (`run:<id>/<file>` when it wrote several).
        #[arg(long, short)]
        input: Vec<String>,
        /// A param value: `--param tax_rate=0.1` (repeatable).
        #[arg(long, short)]
        param: Vec<String>,
        /// File with secret values (`name: value` lines). Default: `<home>/secrets.yaml`.
        #[arg(long)]
        secrets: Option<PathBuf>,
        /// Print nothing but the final summary.
        #[arg(long, short)]
        quiet: bool,
        /// Enter rows again even when an earlier run entered their `key:` already.
        #[arg(long)]
        again: bool,
    },
    /// Run the workflows' test cases (`tests/<workflow>/<case>/case.yaml` beside each
    /// workflow) and show what differs, cell by cell. Browser workflows run against the
    /// practice portal, started here.
    Test {
        /// Workflow files or folders (default: `workflows`).
        paths: Vec<PathBuf>,
    },
    /// Run one queued job in this process (started by `kobo serve` and `kobo worker` for
    /// each run; reads the job on standard input).
    #[command(hide = true)]
    RunJob,
    /// List recent runs.
    Runs {
        /// How many runs to list.
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: i64,
    },
    /// Watch the client inboxes, queue a run for every file dropped there, and run them.
    ///
    /// Files dropped into `<home>/inbox/<client>/<workflow>/` become runs of the workflow
    /// in `--workflows` whose `client:` and `name:` match the folder names.
    Serve {
        /// Folder with the workflow files the inbox folders map to.
        #[arg(long, default_value = "workflows")]
        workflows: PathBuf,
        #[command(flatten)]
        queue: QueueArgs,
        /// Runs at the same time in this process (0: only watch and queue; `kobo worker`s run them).
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Reject inbox files larger than this many megabytes.
        #[arg(long, default_value_t = 50)]
        max_file_mb: u64,
        /// How long (ms) a file must stay unchanged in the inbox before it is taken.
        #[arg(long, default_value_t = 1000)]
        settle_ms: u64,
        /// Where the review dashboard listens (127.0.0.1 only, by default).
        #[arg(long, default_value = "127.0.0.1:8080")]
        dashboard: std::net::SocketAddr,
        /// Do not start the dashboard.
        #[arg(long)]
        no_dashboard: bool,
        /// Mark the dashboard's cookies Secure (when an https proxy serves it).
        #[arg(long)]
        secure_cookies: bool,
        /// The dashboard's proxy writes the browser's address in `X-Forwarded-For`: count
        /// failed logins per that address (otherwise, behind a proxy, only per user name).
        #[arg(long)]
        trust_forwarded_for: bool,
    },
    /// Try kobo: demo accounts and rates, a sample client file in the inbox, then `serve`
    /// with the dashboard, where the sample run waits for review.
    Demo {
        /// Where the dashboard listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        dashboard: std::net::SocketAddr,
    },
    /// Run queued jobs only (on a worker machine): `kobo worker --queue redis://host:6379/`.
    Worker {
        #[command(flatten)]
        queue: QueueArgs,
        /// Runs at the same time in this process.
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// Stop a run: a queued run is cancelled at once, a running one at its next step.
    Cancel {
        /// The run id (or its first 6+ characters).
        run_id: String,
    },
    /// Queue a new run of a run's workflow on the input that run kept.
    ///
    /// The workflow is the current file in `--workflows` with the same client and name
    /// (the trainee may have fixed it); if there is none, the copy the old run kept.
    Rerun {
        /// The run id (or its first 6+ characters).
        run_id: String,
        /// Folder with the workflow files.
        #[arg(long, default_value = "workflows")]
        workflows: PathBuf,
        /// The queue the new run goes to (default: the embedded queue in the data directory).
        #[arg(long, env = "KOBO_QUEUE")]
        queue: Option<String>,
        /// Which rows run again: `failed` (the default: failed rows and rows not reached),
        /// `in-doubt` (rows in doubt, once you checked the portal does not have them) or
        /// `all` (every row, even those already entered). The other rows are carried over.
        #[arg(long, default_value = "failed")]
        rows: runner::progress::RerunRows,
    },
    /// A row in doubt was entered after all (you checked the portal): mark it done, so no
    /// rerun enters it again.
    MarkDone {
        /// The run id (or its first 6+ characters).
        run_id: String,
        /// The row number, as `kobo show` lists it.
        row: usize,
        /// The table of the row, when the run has rows of several tables.
        #[arg(long)]
        table: Option<String>,
        /// Who checked (kept in the row's note). Default: the user running kobo.
        #[arg(long, env = "USER")]
        by: Option<String>,
    },
    /// Start the practice portal (a small web portal like the clients' ones) for trying
    /// browser workflows; sign in as `demo` / `kobo-demo-pass`.
    Portal {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8765")]
        listen: String,
    },
    /// Show one run: steps, per-row results, files and log.
    Show {
        /// The run id (or its first 6+ characters).
        run_id: String,
        /// Show every row, not only the first 50.
        #[arg(long)]
        all_rows: bool,
    },
    /// Manage dashboard users (`kobo user add --name kenji --role reviewer`).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Learning groups: trainees with a senior who gives a first review of their runs
    /// (`kobo group add lviv --senior olena`, `kobo group join lviv nadia iryna`).
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Serve the review dashboard (on 127.0.0.1:8080 unless `--listen` says otherwise).
    Dashboard {
        /// Address to listen on. Anything but loopback should sit behind an https proxy.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Mark cookies Secure (when an https proxy serves the dashboard).
        #[arg(long)]
        secure_cookies: bool,
        /// The proxy writes the browser's address in `X-Forwarded-For`: count failed logins
        /// per that address (otherwise, behind a proxy, only per user name).
        #[arg(long)]
        trust_forwarded_for: bool,
        /// Refuse uploaded files larger than this many megabytes (as `kobo serve --max-file-mb`).
        #[arg(long, default_value_t = 50)]
        max_file_mb: u64,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input (`--password-stdin`) or asked for.
    Add {
        #[arg(long)]
        name: String,
        /// admin, reviewer, trainee or client.
        #[arg(long)]
        role: runner::user::Role,
        /// The client a client user belongs to.
        #[arg(long)]
        client: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and their roles.
    List,
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Make a group with its senior (a trainee).
    Add {
        name: String,
        #[arg(long)]
        senior: String,
    },
    /// Put trainees in a group (a trainee is in one group at most).
    Join {
        group: String,
        trainees: Vec<String>,
    },
    /// Take trainees out of their group.
    Leave { trainees: Vec<String> },
    /// List the groups, their seniors and members.
    List,
}

/// Where the jobs are and how workers run them (`kobo serve`, `kobo worker`).
#[derive(clap::Args)]
pub(crate) struct QueueArgs {
    /// The job queue: `redis://host:6379/` to share it with worker machines; default: `<home>/queue.db`.
    #[arg(long, env = "KOBO_QUEUE")]
    pub queue: Option<String>,
    /// Stop every run after this many seconds (below the workflow's own `timeout_minutes`).
    #[arg(long)]
    pub run_timeout: Option<u64>,
    /// Seconds between worker heartbeats; a worker silent for 3 of them is taken for dead
    /// and its runs go to another worker.
    #[arg(long, default_value_t = 5)]
    pub heartbeat_secs: u64,
    /// Run jobs inside this process, not each in a process of its own (no memory limit per
    /// run; a run that crashes takes the service with it). For debugging.
    #[arg(long)]
    pub in_process: bool,
    /// Start each run's browser when the run needs it, instead of keeping one started
    /// ahead of the next run (fresh profile each run either way; saves the browser start,
    /// 0.5 to 1 s, per browser run, costs one idle Chromium per worker process).
    #[arg(long)]
    pub no_warm_browser: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The long-running commands say what they take and run; the others stay quiet.
    let default_filter = match cli.command {
        Command::Serve { .. } | Command::Worker { .. } | Command::Demo { .. } => {
            "warn,runner=info,kobo=info,runner::run_folder=off"
        }
        _ => "warn,runner::run_folder=off",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KOBO_LOG")
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The data directory and where its run records live (`--home`, `--records`).
pub(crate) struct Home {
    pub dir: PathBuf,
    /// `--records` as given: read when a command needs the records, so that a command
    /// that does not (`kobo validate`) is not stopped by it.
    records_arg: Option<String>,
}

impl Home {
    fn from_args(cli: &Cli) -> Home {
        Home {
            dir: cli.home.clone().unwrap_or_else(default_home),
            records_arg: cli.records.clone(),
        }
    }

    pub fn data(&self) -> DataDir {
        DataDir::new(&self.dir)
    }

    /// Where the records are: `--records`, or `records.db` in the data directory.
    pub fn records(&self) -> Result<RecordsLocation> {
        Ok(RecordsLocation::parse(
            self.records_arg.as_deref(),
            &self.dir,
        )?)
    }

    pub async fn open_records(&self) -> Result<Records> {
        check_writable(&self.dir)?;
        let location = self.records()?;
        match Records::connect(&location).await {
            Ok(records) => Ok(records),
            // Already says where and what to do.
            Err(e @ runner::record::StoreError::Unreachable { .. }) => Err(e.into()),
            Err(e) => Err(e).with_context(|| format!("opening the {}", location.describe())),
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let home = Home::from_args(&cli);
    match cli.command {
        Command::Validate { paths } => validate(&paths),
        Command::Run {
            workflow,
            input,
            param,
            secrets,
            quiet,
            again,
        } => run_workflow(&home, &workflow, &input, &param, secrets, quiet, again).await,
        Command::Test { paths } => bot_tests(&home, &paths).await,
        Command::RunJob => run_job(&home).await,
        Command::Runs { limit } => {
            let records = home.open_records().await?;
            let runs = records.recent(limit).await?;
            print!("{}", cli_output::runs_table(&runs));
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            workflows,
            queue,
            workers,
            max_file_mb,
            settle_ms,
            dashboard,
            no_dashboard,
            secure_cookies,
            trust_forwarded_for,
        } => {
            let dashboard = (!no_dashboard).then_some(serve::DashboardArgs {
                listen: dashboard,
                secure_cookies,
                trust_forwarded_for,
            });
            serve::serve(
                &home,
                &workflows,
                &queue,
                workers,
                max_file_mb,
                settle_ms,
                dashboard,
            )
            .await
        }
        Command::Demo { dashboard } => demo::demo(&home, dashboard).await,
        Command::Worker { queue, workers } => serve::worker(&home, &queue, workers).await,
        Command::Cancel { run_id } => serve::cancel(&home, &run_id).await,
        Command::Rerun {
            run_id,
            workflows,
            queue,
            rows,
        } => serve::rerun(&home, &run_id, &workflows, queue.as_deref(), rows).await,
        Command::MarkDone {
            run_id,
            row,
            table,
            by,
        } => mark_done(&home, &run_id, row, table, by).await,
        Command::Portal { listen } => {
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            println!(
                "practice portal on http://{} (user `demo`, password `kobo-demo-pass`); Ctrl-C stops it",
                listener.local_addr()?
            );
            portal::serve(listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { run_id, all_rows } => {
            let records = home.open_records().await?;
            let detail = records.detail(&run_id).await?;
            runner::run_files::fetch(&records, &home.dir, &detail.run.id, &detail.run.folder)
                .await?;
            let log =
                runner::run_folder::read_log(&home.dir.join(&detail.run.folder).join("log.jsonl"))
                    .unwrap_or_default();
            let tests = runner::bot_test::result_for(
                &records,
                &detail.run.workflow,
                &detail.run.workflow_hash,
            )
            .await?;
            print!(
                "{}",
                cli_output::run_detail(&detail, &log, &home.dir, all_rows, tests.as_ref())
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::User { command } => user_command(&home, command).await,
        Command::Group { command } => group_command(&home, command).await,
        Command::Dashboard {
            listen,
            secure_cookies,
            trust_forwarded_for,
            max_file_mb,
        } => {
            let records = home.open_records().await?;
            // Copies of an approval cut short by a crash are taken back first.
            runner::pending_delivery::recover(&home.dir, &records).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            println!(
                "kobo dashboard on http://{} (data: {}); Ctrl-C stops it",
                listener.local_addr()?,
                home.dir.display()
            );
            dashboard::warn_about_proxy(secure_cookies, trust_forwarded_for);
            let state = dashboard::AppState {
                home: home.dir.clone(),
                records,
                secure_cookies,
                trust_forwarded_for,
                max_upload_bytes: max_file_mb.saturating_mul(1024 * 1024),
                reruns: None,
            };
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            dashboard::serve(listener, state, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn user_command(home: &Home, command: UserCommand) -> Result<ExitCode> {
    let records = home.open_records().await?;
    match command {
        UserCommand::Add {
            name,
            role,
            client,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let user = runner::user::add(records.pool(), &name, role, client.as_deref(), &password)
                .await?;
            runner::audit::append(
                records.pool(),
                "cli",
                "user.add",
                &user.name,
                Some(role.as_str()),
            )
            .await?;
            println!(
                "added {} ({}{})",
                user.name,
                user.role,
                user.client.map(|c| format!(" of {c}")).unwrap_or_default()
            );
        }
        UserCommand::List => {
            for u in runner::user::list(records.pool()).await? {
                println!(
                    "{:<20} {:<9} {}{}",
                    u.name,
                    u.role.as_str(),
                    u.client.unwrap_or_default(),
                    if u.disabled { " (disabled)" } else { "" }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn group_command(home: &Home, command: GroupCommand) -> Result<ExitCode> {
    use runner::group;
    let records = home.open_records().await?;
    let pool = records.pool();
    match command {
        GroupCommand::Add { name, senior } => {
            group::create(pool, &name, &senior, "cli").await?;
            println!(
                "made the group {name} with senior {}",
                senior.to_lowercase()
            );
        }
        GroupCommand::Join { group: g, trainees } => {
            for t in &trainees {
                group::add_member(pool, &g, t, "cli").await?;
                println!("{} is in the group {g}", t.to_lowercase());
            }
        }
        GroupCommand::Leave { trainees } => {
            for t in &trainees {
                group::remove_member(pool, t, "cli").await?;
                println!("{} is in no group now", t.to_lowercase());
            }
        }
        GroupCommand::List => {
            let groups = group::list(pool).await?;
            if groups.is_empty() {
                println!("no groups yet: `kobo group add <name> --senior <trainee>`");
            }
            for g in groups {
                println!(
                    "{:<16} senior {:<16} members: {}",
                    g.name,
                    g.senior,
                    if g.members.is_empty() {
                        "none yet".into()
                    } else {
                        g.members.join(", ")
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The new user's password: the first line of standard input (piped, or typed at the prompt).
fn read_password(from_stdin: bool) -> Result<String> {
    use std::io::BufRead;
    let mut line = String::new();
    if !from_stdin {
        eprint!("password (at least 10 characters; it is shown as you type): ");
    }
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password given; pipe one in with `--password-stdin`");
    }
    Ok(password)
}

/// The data directory must exist (or be creatable) and take new files: say so in one
/// line naming it, not with SQLite's "No such file or directory" about `records.db`.
fn check_writable(home: &Path) -> Result<()> {
    let probe = home.join(format!(".kobo-write-check-{}", std::process::id()));
    let written = std::fs::create_dir_all(home).and_then(|()| std::fs::write(&probe, b""));
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| {
        anyhow::anyhow!(
            "kobo cannot write to its data directory `{}` ({e}); set KOBO_HOME (or --home) to a folder this user can write",
            home.display()
        )
    })
}

/// Every `.yaml`/`.yml` file under the given paths, sorted.
fn workflow_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir)
                    .with_context(|| format!("reading folder `{}`", dir.display()))?
                {
                    let path = entry?.path();
                    if path.is_dir() {
                        // `tests/` holds the workflows' test cases (`kobo test`), not workflows.
                        if path.file_name().is_some_and(|n| n != "tests") {
                            stack.push(path);
                        }
                    } else if matches!(
                        path.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml")
                    ) {
                        files.push(path);
                    }
                }
            }
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!("`{}` does not exist", p.display());
        }
    }
    files.sort();
    Ok(files)
}

fn validate(paths: &[PathBuf]) -> Result<ExitCode> {
    let files = workflow_files(paths)?;
    if files.is_empty() {
        bail!(
            "no workflow files (.yaml) found in {}",
            paths
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut problems = 0;
    for file in &files {
        match Workflow::load(file) {
            Ok(w) => println!("ok      {} ({} steps)", file.display(), w.steps.len()),
            Err(errors) => {
                let source = std::fs::read_to_string(file).unwrap_or_default();
                println!("FAILED  {} ({} problems)", file.display(), errors.0.len());
                for e in &errors.0 {
                    eprintln!("{}\n", e.render_with_source(&source));
                }
                problems += errors.0.len();
            }
        }
    }
    if problems > 0 {
        eprintln!(
            "{problems} problem(s) in {} file(s); fix them and run `kobo validate` again",
            files.len()
        );
        Ok(ExitCode::FAILURE)
    } else {
        println!("all {} workflow(s) are valid", files.len());
        Ok(ExitCode::SUCCESS)
    }
}

async fn run_workflow(
    home: &Home,
    file: &Path,
    inputs: &[String],
    params: &[String],
    secrets_file: Option<PathBuf>,
    quiet: bool,
    again: bool,
) -> Result<ExitCode> {
    let w = match Workflow::load(file) {
        Ok(w) => w,
        Err(errors) => {
            let source = std::fs::read_to_string(file).unwrap_or_default();
            for e in &errors.0 {
                eprintln!("{}\n", e.render_with_source(&source));
            }
            eprintln!(
                "the workflow has {} problem(s); nothing was run",
                errors.0.len()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let records = home.open_records().await?;
    let mut opts = RunOptions::new(&home.dir);
    opts.inputs = input_map(&w, &run_outputs(&records, &home.dir, inputs).await?)?;
    opts.params = pairs(params, "--param")?;
    opts.again = again;
    for name in opts.params.keys() {
        if !w.params.contains_key(name) {
            bail!(
                "`--param {name}=…`: the workflow has no param `{name}` (it has: {})",
                w.params.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let secrets_file = secrets_file.unwrap_or_else(|| home.data().secrets_file());
    opts.secrets = runner::secrets::Secrets::load(&w.secrets, &secrets_file)?;
    let ui = cli_output::RunDisplay::new(quiet);
    opts.progress = Some(ui.progress_fn());
    opts.echo = Some(ui.echo_fn());
    // Ctrl-C, or SIGTERM (`kill`, a service manager, a container stopping), stops the run at
    // its next step; it is recorded as cancelled and its browser closed.
    let cancel = tokio_util::sync::CancellationToken::new();
    opts.cancel = Some(cancel.clone());
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::spawn(async move {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        cancel.cancel();
    });
    let outcome = runner::execute(&w, &records, opts).await?;
    ui.finish();
    print!("{}", cli_output::outcome_summary(&outcome, &home.dir));
    Ok(if outcome.status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--input run:<id>` (or `name=run:<id>`): the output file of an earlier run, so that one
/// workflow's result feeds another without copying it by hand. `run:<id>/<file>` picks one of
/// several outputs. The id may be shortened, as for `kobo show`.
async fn run_outputs(records: &Records, home: &Path, inputs: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for arg in inputs {
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) if v.starts_with("run:") => (Some(n), v),
            _ => (None, arg.as_str()),
        };
        let Some(wanted) = value.strip_prefix("run:") else {
            out.push(arg.clone());
            continue;
        };
        let (id, file) = match wanted.split_once('/') {
            Some((id, file)) => (id, Some(file)),
            None => (wanted, None),
        };
        let run = records.find(id).await?;
        let outputs = records.outputs(&run.id).await?;
        let names: Vec<&str> = outputs.iter().map(|a| a.name.as_str()).collect();
        let chosen = match (file, outputs.as_slice()) {
            (Some(f), _) => outputs.iter().find(|a| a.name == f).with_context(|| {
                format!(
                    "run {} has no output `{f}`; its outputs are: {}",
                    run.id,
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                )
            })?,
            (None, [one]) => one,
            (None, []) => bail!(
                "run {} wrote no output file, so there is nothing to read from it (`kobo show {}` tells what happened)",
                run.id,
                run.id
            ),
            (None, _) => bail!(
                "run {} wrote {} files ({}); say which: `--input run:{}/{}`",
                run.id,
                names.len(),
                names.join(", "),
                run.id,
                names[0]
            ),
        };
        let path = home.join(&run.folder).join(&chosen.path);
        let path = path.to_string_lossy().to_string();
        out.push(match name {
            Some(n) => format!("{n}={path}"),
            None => path,
        });
    }
    Ok(out)
}

/// `--input path` for the only file input, or `--input name=path` for each.
fn input_map(w: &Workflow, inputs: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    let file_inputs: Vec<&str> = w.file_inputs().map(|i| i.name.as_str()).collect();
    if file_inputs.is_empty() && !inputs.is_empty() {
        bail!(
            "the workflow has no inputs, so it reads no file; remove `--input`, or add the input under `inputs:` in the workflow"
        );
    }
    let mut map: BTreeMap<String, PathBuf> = BTreeMap::new();
    for arg in inputs {
        let (name, path) = match arg.split_once('=') {
            Some((n, p)) if file_inputs.contains(&n) => (n.to_string(), PathBuf::from(p)),
            _ if file_inputs.len() == 1 => (file_inputs[0].to_string(), PathBuf::from(arg)),
            Some((n, _)) => bail!(
                "the workflow has no input `{n}`; its inputs are: {}",
                file_inputs.join(", ")
            ),
            None => bail!(
                "the workflow has several inputs ({}); give each as `--input name=path`",
                file_inputs.join(", ")
            ),
        };
        if !path.is_file() {
            bail!("the input file `{}` does not exist", path.display());
        }
        if let Some(first) = map.get(&name) {
            bail!(
                "`--input` gives two files for the input `{name}` (`{}` and `{}`); give one",
                first.display(),
                path.display()
            );
        }
        map.insert(name, path);
    }
    for name in &file_inputs {
        if !map.contains_key(*name) {
            bail!(
                "the workflow needs an input file for `{name}`: add `--input {}`",
                if file_inputs.len() == 1 {
                    "<file>".to_string()
                } else {
                    format!("{name}=<file>")
                }
            );
        }
    }
    Ok(map)
}

fn pairs(items: &[String], flag: &str) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
            None => bail!("`{flag} {p}` needs the form name=value"),
        })
        .collect()
}

/// `kobo mark-done`: a person checked the portal; the row in doubt was entered.
async fn mark_done(
    home: &Home,
    run_id: &str,
    row: usize,
    table: Option<String>,
    by: Option<String>,
) -> Result<ExitCode> {
    let records = home.open_records().await?;
    let detail = records.detail(run_id).await?;
    let table = match table {
        Some(t) => t,
        None => {
            let tables: std::collections::BTreeSet<&str> =
                detail.rows.iter().map(|r| r.table.as_str()).collect();
            match tables.into_iter().collect::<Vec<_>>().as_slice() {
                [one] => one.to_string(),
                [] => bail!("run {} has no rows (no `for_each`)", detail.run.id),
                many => bail!(
                    "run {} has rows of several tables ({}); say which with `--table`",
                    detail.run.id,
                    many.join(", ")
                ),
            }
        }
    };
    let who = by.unwrap_or_else(|| "someone on the command line".into());
    runner::progress::mark_done(&records, &detail.run.id, &table, row, &who).await?;
    println!(
        "row {row} of `{table}` in run {} is marked done (checked by {who}); a rerun carries it over and does not enter it again",
        detail.run.id
    );
    Ok(ExitCode::SUCCESS)
}

/// `kobo test`: every case of every workflow; exit 1 when one differs.
async fn bot_tests(home: &Home, paths: &[PathBuf]) -> Result<ExitCode> {
    use runner::bot_test::{TestEnv, TestRecord, cases_of, keep_result, run_case};
    let paths = if paths.is_empty() {
        vec![PathBuf::from("workflows")]
    } else {
        paths.to_vec()
    };
    let files = workflow_files(&paths)?;
    if files.is_empty() {
        bail!("no workflow files (.yaml) found to test");
    }
    // Browser workflows run against the practice portal, on a free port of this machine.
    let portal = portal::start()
        .await
        .context("starting the practice portal for browser workflows")?;
    let env = TestEnv {
        portal_url: Some(portal.url().to_string()),
        portal_login: Some((demo::PORTAL_USER.into(), demo::PORTAL_PASSWORD.into())),
    };
    // Each workflow version's result is kept, for the reviewers of its runs.
    let records = home.open_records().await?;
    let (mut passed, mut failed, mut untested) = (0, 0, Vec::new());
    for file in &files {
        let cases = cases_of(file);
        if cases.is_empty() {
            untested.push(file.clone());
            continue;
        }
        let mut result = Workflow::load(file).ok().map(|w| TestRecord {
            workflow: w.name,
            workflow_hash: w.hash,
            cases: cases.len() as u64,
            passed: 0,
            failed_cases: Vec::new(),
            tested_at: chrono::Utc::now(),
        });
        for case in cases {
            let case_name = case
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let passed_before = passed;
            let name = format!(
                "{} / {}",
                file.display(),
                case.file_name().unwrap_or_default().to_string_lossy()
            );
            let started = std::time::Instant::now();
            match run_case(file, &case, &env).await {
                Ok(diffs) if diffs.is_empty() => {
                    passed += 1;
                    println!("ok      {name} ({:.1} s)", started.elapsed().as_secs_f64());
                }
                Ok(diffs) => {
                    failed += 1;
                    println!("FAILED  {name}");
                    for d in diffs {
                        println!("          {d}");
                    }
                }
                Err(e) => {
                    failed += 1;
                    println!("FAILED  {name}\n          {e}");
                }
            }
            if let Some(r) = &mut result {
                if passed > passed_before {
                    r.passed += 1;
                } else {
                    r.failed_cases.push(case_name);
                }
            }
        }
        if let Some(r) = &result {
            keep_result(&records, r).await?;
        }
    }
    for file in &untested {
        let stem = file.file_stem().unwrap_or_default().to_string_lossy();
        println!(
            "no test {}: add one as `{}`",
            file.display(),
            file.parent()
                .unwrap_or(Path::new("."))
                .join("tests")
                .join(&*stem)
                .join("<case>/case.yaml")
                .display()
        );
    }
    if failed > 0 {
        println!(
            "{failed} of {} test cases differ from what they expect",
            passed + failed
        );
        Ok(ExitCode::FAILURE)
    } else {
        println!("all {passed} test cases give what they expect");
        Ok(ExitCode::SUCCESS)
    }
}

/// `kobo run-job`: one job from a worker, on standard input; the memory limit set first.
async fn run_job(home: &Home) -> Result<ExitCode> {
    match run_job_inner(home).await {
        Ok(code) => Ok(code),
        // kobo could not start the run (records out of reach, a broken job): not the run's
        // fault, so the worker puts the job back rather than failing the run.
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(runner::child_run::exit::RETRY))
        }
    }
}

async fn run_job_inner(home: &Home) -> Result<ExitCode> {
    use runner::child_run::{ChildJob, STEP_MARK, exit};
    use runner::worker::{JobError, WorkerSettings, run_job_here};
    runner::child_run::end_with_parent();
    let mut input = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)?;
    let job: ChildJob =
        serde_json::from_slice(&input).context("reading the job from the worker")?;
    let records = home.open_records().await?;
    let mut settings = WorkerSettings::new(1);
    settings.name = job.worker.clone();
    settings.run_timeout = job.run_timeout_secs.map(std::time::Duration::from_secs);
    // The step the run is in, for the worker to name if this process stops: told whenever
    // it changes.
    let last = std::sync::Mutex::new(String::new());
    settings.step_trace = Some(std::sync::Arc::new(move |step: &str| {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        if *last != step {
            step.clone_into(&mut last);
            eprintln!("{STEP_MARK}{step}");
        }
    }));
    let limit = job.memory_mb.saturating_mul(1024 * 1024) as usize;
    let _ = MEMORY.set_limit(MEMORY.allocated().saturating_add(limit));
    let mut term = signal(SignalKind::terminate())?;
    let offer = job
        .browser_ahead
        .clone()
        .map(runner::child_run::browser_offer);
    let run = run_job_here(&job.job, &home.dir, records, settings, offer);
    tokio::select! {
        ended = run => match ended {
            Ok(_) => Ok(ExitCode::SUCCESS),
            Err(JobError::Retry(e)) => {
                eprintln!("{e}");
                Ok(ExitCode::from(exit::RETRY))
            }
            Err(JobError::Abort(message)) => {
                eprintln!("{message}");
                Ok(ExitCode::from(exit::ABORT))
            }
        },
        // The service is stopping: the run (its browser closed as it is dropped) stays for
        // the next worker.
        _ = term.recv() => Ok(ExitCode::from(exit::STOPPED)),
    }
}
