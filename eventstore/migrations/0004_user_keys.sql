-- Crypto-shredding (ADR 0024): every record about a user travels on Kafka sealed with that user's
-- own key, under a random pseudonym (`subject`) instead of the user id. Erasing a user deletes this
-- row, which makes every record ever published about them unreadable, in every topic, DLQ and
-- backup, without rewriting the log.
CREATE TABLE IF NOT EXISTS user_keys (
    user_id    text        PRIMARY KEY,
    subject    uuid        NOT NULL UNIQUE,
    key        bytea       NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- What an erasure leaves behind: the pseudonym and when, never who.
CREATE TABLE IF NOT EXISTS user_erasures (
    subject    uuid        PRIMARY KEY,
    erased_at  timestamptz NOT NULL DEFAULT now(),
    counts     jsonb       NOT NULL
);
