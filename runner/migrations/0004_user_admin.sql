-- The admin manages users: a disabled user cannot log in, and their sessions are ended when
-- they are disabled (see `user::set_disabled`). Nobody is deleted, so the audit log and the
-- ledger keep pointing at real names.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
