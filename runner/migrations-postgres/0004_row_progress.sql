-- Row-level progress: each `for_each` row's outcome is kept the moment the row ends, so that a
-- retry, a resumed run or a `kobo rerun` goes on from the first row not yet done and never
-- enters a row into a client's system twice.
--
-- `place` names the row in its run: `contacts#1@7` is sheet row 7 of the first `for_each`
-- over `contacts` (nested loops join their places with `/`). `state` is `touched` while a
-- row that has clicked or submitted something is not yet finished (after a crash: in doubt),
-- then `ok`, `failed`, `skipped` or `in_doubt`. `effects` (JSON) is what the row left behind:
-- its cells, the variables it set and the rows it appended, replayed when it is carried over.
CREATE TABLE run_row_progress (
    run_id       TEXT NOT NULL REFERENCES runs (id),
    place        TEXT NOT NULL,
    tbl          TEXT NOT NULL,
    source_row   BIGINT NOT NULL,
    state        TEXT NOT NULL,
    message      TEXT,
    step         TEXT,
    row_key      TEXT,
    effects      TEXT,
    attempt      BIGINT NOT NULL,
    from_run     TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (run_id, place)
);

-- Keys (`for_each … key:`) of rows entered successfully, per client and workflow: a later run
-- skips a row whose key is here, unless started with `--again`.
CREATE TABLE entered_keys (
    client     TEXT NOT NULL,
    workflow   TEXT NOT NULL,
    row_key    TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    PRIMARY KEY (client, workflow, row_key)
);

ALTER TABLE runs ADD COLUMN rows_in_doubt BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_rows ADD COLUMN carried_from TEXT;
ALTER TABLE run_rows ADD COLUMN row_key TEXT;
-- A rerun's choice of rows (`failed`, `in-doubt`, `all`) and a run started with `--again`
-- (rows whose key was entered before are entered again).
ALTER TABLE runs ADD COLUMN rerun_rows TEXT;
ALTER TABLE runs ADD COLUMN again BIGINT NOT NULL DEFAULT 0;
