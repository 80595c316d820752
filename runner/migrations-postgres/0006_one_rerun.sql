-- One rerun per run (with row progress): two reruns of one run would both enter its failed
-- rows into the client's portal. A double click on "Run again" makes one rerun, not two.
CREATE UNIQUE INDEX runs_one_rerun ON runs (rerun_of) WHERE rerun_of IS NOT NULL AND rerun_rows IS NOT NULL;

-- Where each row's progress is kept, so marking a row in doubt done finds exactly that row.
ALTER TABLE run_rows ADD COLUMN place TEXT;
