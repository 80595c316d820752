-- `kobo test` results, by workflow version (the hash of its file): a reviewer sees whether
-- the workflow of a run passed its own test cases at the version that ran.
CREATE TABLE workflow_tests (
    workflow TEXT NOT NULL,
    workflow_hash TEXT NOT NULL,
    cases BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    failed_cases TEXT NOT NULL,
    tested_at TEXT NOT NULL,
    PRIMARY KEY (workflow, workflow_hash)
);
