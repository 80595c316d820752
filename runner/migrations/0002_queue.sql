-- The queue: which worker ran a run, a cancel request the worker polls, and reruns.
ALTER TABLE runs ADD COLUMN worker TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN rerun_of TEXT;
