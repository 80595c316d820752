-- Run records on PostgreSQL (`--records postgres://…`): the same tables as the SQLite
-- migrations 0001–0006, in one step. Integers are BIGINT and times are RFC 3339 text, as
-- on SQLite, so one set of queries serves both.

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
    attempt          BIGINT NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    duration_ms      BIGINT,
    rows_total       BIGINT NOT NULL DEFAULT 0,
    rows_ok          BIGINT NOT NULL DEFAULT 0,
    rows_failed      BIGINT NOT NULL DEFAULT 0,
    rows_skipped     BIGINT NOT NULL DEFAULT 0,
    error            TEXT,
    error_step       TEXT,
    folder           TEXT NOT NULL,
    worker           TEXT,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    rerun_of         TEXT,
    heartbeat_at     TEXT
);
CREATE INDEX runs_by_created ON runs (created_at);
CREATE INDEX runs_by_input ON runs (client, workflow, input_hash);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE run_steps (
    run_id    TEXT NOT NULL REFERENCES runs (id),
    seq       BIGINT NOT NULL,
    path      TEXT NOT NULL,
    label     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    line      BIGINT,
    calls     BIGINT NOT NULL,
    total_ms  DOUBLE PRECISION NOT NULL,
    max_ms    DOUBLE PRECISION NOT NULL,
    failures  BIGINT NOT NULL,
    PRIMARY KEY (run_id, path)
);

CREATE TABLE run_rows (
    run_id     TEXT NOT NULL REFERENCES runs (id),
    tbl        TEXT NOT NULL,
    row_no     BIGINT NOT NULL,
    source_row BIGINT NOT NULL,
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
    bytes      BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, path)
);

-- The files of a run (input, outputs, screenshots, log), for workers without a shared folder.
CREATE TABLE run_files (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    path    TEXT NOT NULL,
    sha256  TEXT NOT NULL,
    content BYTEA NOT NULL,
    PRIMARY KEY (run_id, path)
);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'trainee', 'client')),
    client        TEXT,
    password_hash TEXT NOT NULL,
    lang          TEXT,
    created_at    TEXT NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    CHECK ((role = 'client') = (client IS NOT NULL))
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE reviews (
    run_id     TEXT PRIMARY KEY REFERENCES runs (id),
    decision   TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reviewer   TEXT NOT NULL,
    comment    TEXT,
    decided_at TEXT NOT NULL
);

CREATE TABLE deliveries (
    run_id       TEXT NOT NULL REFERENCES runs (id),
    client       TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    source       TEXT NOT NULL,
    bytes        BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (client, file_name)
);
CREATE INDEX deliveries_by_run ON deliveries (run_id);

CREATE TABLE ledger (
    id          BIGSERIAL PRIMARY KEY,
    run_id      TEXT NOT NULL UNIQUE REFERENCES runs (id),
    trainee     TEXT NOT NULL,
    client      TEXT NOT NULL,
    workflow    TEXT NOT NULL,
    per_run     BIGINT NOT NULL,
    per_ok_row  BIGINT NOT NULL,
    ok_rows     BIGINT NOT NULL,
    amount_yen  BIGINT NOT NULL,
    month       TEXT NOT NULL,
    credited_at TEXT NOT NULL
);
CREATE INDEX ledger_by_trainee ON ledger (trainee, month);

CREATE TABLE audit (
    id     BIGSERIAL PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
CREATE FUNCTION kobo_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
FOR EACH ROW EXECUTE FUNCTION kobo_audit_append_only();
