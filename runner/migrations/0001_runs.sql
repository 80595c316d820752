-- Run records: one row per run, with timings per step, results per row, and files.
CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    workflow         TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    workflow_hash    TEXT NOT NULL,
    workflow_file    TEXT NOT NULL,
    client           TEXT NOT NULL,
    trainee          TEXT NOT NULL,
    input_name       TEXT,
    input_hash       TEXT,
    status           TEXT NOT NULL,
    attempt          INTEGER NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    duration_ms      INTEGER,
    rows_total       INTEGER NOT NULL DEFAULT 0,
    rows_ok          INTEGER NOT NULL DEFAULT 0,
    rows_failed      INTEGER NOT NULL DEFAULT 0,
    rows_skipped     INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    error_step       TEXT,
    folder           TEXT NOT NULL
);
CREATE INDEX runs_by_created ON runs (created_at);
CREATE INDEX runs_by_input ON runs (client, workflow, input_hash);

CREATE TABLE run_steps (
    run_id    TEXT NOT NULL REFERENCES runs (id),
    seq       INTEGER NOT NULL,
    path      TEXT NOT NULL,
    label     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    line      INTEGER,
    calls     INTEGER NOT NULL,
    total_ms  REAL NOT NULL,
    max_ms    REAL NOT NULL,
    failures  INTEGER NOT NULL,
    PRIMARY KEY (run_id, path)
);

CREATE TABLE run_rows (
    run_id     TEXT NOT NULL REFERENCES runs (id),
    tbl        TEXT NOT NULL,
    row_no     INTEGER NOT NULL,
    source_row INTEGER NOT NULL,
    status     TEXT NOT NULL,
    message    TEXT,
    step       TEXT,
    PRIMARY KEY (run_id, tbl, row_no)
);

CREATE TABLE run_artifacts (
    run_id     TEXT NOT NULL REFERENCES runs (id),
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    path       TEXT NOT NULL,
    bytes      INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, path)
);
