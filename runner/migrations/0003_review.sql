-- Review, delivery, payout, users and the audit log (issue 5: the review dashboard).

-- People who log in to the dashboard. A trainee's name is the `author` of their workflows;
-- a client user belongs to exactly one client.
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'trainee', 'client')),
    client        TEXT,
    password_hash TEXT NOT NULL,
    lang          TEXT,
    created_at    TEXT NOT NULL,
    CHECK ((role = 'client') = (client IS NOT NULL))
);

-- Dashboard sessions: only a hash of the cookie's token is kept.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- At most one decision per run (the primary key): a reviewed run is frozen.
CREATE TABLE reviews (
    run_id     TEXT PRIMARY KEY REFERENCES runs (id),
    decision   TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reviewer   TEXT NOT NULL,
    comment    TEXT,
    decided_at TEXT NOT NULL
);

-- Files copied to a client's outbox when a run was approved.
CREATE TABLE deliveries (
    run_id       TEXT NOT NULL REFERENCES runs (id),
    client       TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    source       TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (client, file_name)
);
CREATE INDEX deliveries_by_run ON deliveries (run_id);

-- The trainees' payout ledger: one credit per approved run (UNIQUE run_id), in yen.
CREATE TABLE ledger (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL UNIQUE REFERENCES runs (id),
    trainee     TEXT NOT NULL,
    client      TEXT NOT NULL,
    workflow    TEXT NOT NULL,
    per_run     INTEGER NOT NULL,
    per_ok_row  INTEGER NOT NULL,
    ok_rows     INTEGER NOT NULL,
    amount_yen  INTEGER NOT NULL,
    month       TEXT NOT NULL,
    credited_at TEXT NOT NULL
);
CREATE INDEX ledger_by_trainee ON ledger (trainee, month);

-- Who did what, when. Append-only: the triggers refuse any change or deletion.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
