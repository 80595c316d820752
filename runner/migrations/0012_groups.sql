-- Learning groups: trainees learn in small groups with a senior trainee, who gives a first
-- review of the juniors' runs before bridge staff decide (see `runner::group`).
CREATE TABLE learning_groups (
    name TEXT PRIMARY KEY,
    senior TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- A trainee is in one group at most.
CREATE TABLE group_members (
    trainee TEXT PRIMARY KEY,
    group_name TEXT NOT NULL REFERENCES learning_groups (name)
);

-- The senior's first review of a junior's run: advice, not a decision (nothing is delivered
-- or paid by it). The latest one counts until bridge staff decide.
CREATE TABLE first_reviews (
    run_id TEXT PRIMARY KEY,
    senior TEXT NOT NULL,
    verdict TEXT NOT NULL,
    comment TEXT,
    at TEXT NOT NULL
);
