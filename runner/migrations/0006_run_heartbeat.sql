-- A worker touches `heartbeat_at` of each run it is running every few seconds. A run still
-- `running` whose heartbeat stopped and whose job the queue no longer holds (a Redis without
-- persistence restarted) is queued again by `kobo serve`.
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
