-- Write-side tables of the command service: who owns an external id, the entity-resolution index,
-- review queue and decisions, and the connectors' run log. Not rebuilt by replay, so versioned.

-- Write-side identity index: which title owns an external id (or, for records without any,
-- a natural key). Kept by the command side itself so resolution never waits on a projection.
CREATE TABLE IF NOT EXISTS title_identity (
    id_type    text NOT NULL,
    id_value   text NOT NULL,
    content_id uuid NOT NULL,
    PRIMARY KEY (id_type, id_value)
);
CREATE INDEX IF NOT EXISTS title_identity_content ON title_identity (content_id);

-- Entity-resolution index: one fingerprint per live title, found through blocking keys.
CREATE TABLE IF NOT EXISTS title_fingerprint (
    content_id  uuid PRIMARY KEY,
    fingerprint jsonb NOT NULL
);
-- Blocking keys as 64-bit hashes (`Fingerprint::blocking_hashes`), with the title's year. No index
-- by title on purpose (bulk imports write ~6 rows per title): a retired title's rows stay and
-- lead to no fingerprint, so lookups skip them.
CREATE TABLE IF NOT EXISTS title_match_key (
    hash       bigint  NOT NULL,
    year       integer NOT NULL,
    content_id uuid    NOT NULL,
    PRIMARY KEY (hash, year, content_id)
);
-- Grey-zone matches waiting for a person.
CREATE TABLE IF NOT EXISTS resolution_review (
    id           uuid PRIMARY KEY,
    content_id   uuid NOT NULL,
    candidate_id uuid NOT NULL,
    confidence   real NOT NULL,
    reasons      text[] NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz,
    UNIQUE (content_id, candidate_id)
);
CREATE INDEX IF NOT EXISTS resolution_review_pending ON resolution_review (created_at) WHERE status = 'pending';
-- Every decision with its reasons (merged automatically, queued, accepted, rejected).
CREATE TABLE IF NOT EXISTS resolution_decision (
    id           bigserial PRIMARY KEY,
    content_id   uuid NOT NULL,
    candidate_id uuid NOT NULL,
    decision     text NOT NULL,
    confidence   real NOT NULL,
    reasons      text[] NOT NULL,
    decided_at   timestamptz NOT NULL DEFAULT now()
);

-- Connector job runs (schedules resume from the last finished run).
CREATE TABLE IF NOT EXISTS connector_runs (
    id          bigserial PRIMARY KEY,
    provider    text NOT NULL,
    job         text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    report      jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS connector_runs_last ON connector_runs (provider, job, finished_at DESC);
