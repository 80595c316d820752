-- Login attempts, so that password guessing is slowed down for every dashboard process that
-- shares these records, and across restarts (see `login_limit`). A row is written before the
-- password is checked and deleted when the user logs in; rows older than the window are
-- pruned as new ones come. `user_name` is the name as typed (lowercased), known or not, so
-- an unknown name is treated like a known one. `address` is the client's address (an IPv6
-- address by its /64 network), or NULL when it cannot be known.
CREATE TABLE login_attempts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name TEXT NOT NULL,
    address   TEXT,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX login_attempts_user ON login_attempts (user_name, at_ms);
CREATE INDEX login_attempts_address ON login_attempts (address, at_ms);
