-- The files of a run (input, outputs, screenshots, log), kept in the records for workers
-- without a shared folder. Used with PostgreSQL records; on the embedded default the run
-- folder holds them and this table stays empty.
CREATE TABLE run_files (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    path    TEXT NOT NULL,
    sha256  TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (run_id, path)
);
