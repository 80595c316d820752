-- The people's loop (issue 15): an e-mail address per user for notices, when a client last
-- looked at her deliveries (for the count of new ones), each client's language (the words of
-- her deliveries and e-mails), and which notices were sent (so each is sent once).
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN seen_at TEXT;
CREATE TABLE client_settings (
    client     TEXT PRIMARY KEY,
    lang       TEXT NOT NULL CHECK (lang IN ('en', 'ja', 'uk')),
    updated_at TEXT NOT NULL
);
CREATE TABLE notices_sent (
    run_id  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (run_id, kind)
);

-- What happened before notices existed is not announced.
INSERT INTO notices_sent (run_id, kind, sent_at) SELECT id, 'awaiting', created_at FROM runs;
INSERT INTO notices_sent (run_id, kind, sent_at)
    SELECT run_id, 'rejected', decided_at FROM reviews WHERE decision = 'rejected';
INSERT INTO notices_sent (run_id, kind, sent_at)
    SELECT run_id, 'delivered', MIN(delivered_at) FROM deliveries GROUP BY run_id;
