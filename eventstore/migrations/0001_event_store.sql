-- The event store (postgres-es's own `events`/`snapshots` shape, `db/init.sql` of that crate) and
-- the transactional outbox. IF NOT EXISTS: databases created before versioned migrations upgrade
-- in place.
CREATE TABLE IF NOT EXISTS events (
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- Transactional outbox: filled by a trigger in the transaction that commits the event, drained by
-- the relay, which deletes rows only after the broker acknowledged them. Rows that commit late
-- (a lower id committing after a higher one) are simply picked up by a later pass: no gaps.
CREATE TABLE IF NOT EXISTS event_outbox (
    id             bigserial   PRIMARY KEY,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL,
    event_type     text        NOT NULL,
    payload        json        NOT NULL,
    committed_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Outbox rows the relay could not map to a wire record: kept for an operator, never dropped.
CREATE TABLE IF NOT EXISTS event_outbox_failed (
    LIKE event_outbox,
    error     text        NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION mediagw_outbox_capture() RETURNS trigger AS $$
BEGIN
    INSERT INTO event_outbox (aggregate_type, aggregate_id, sequence, event_type, payload)
    VALUES (NEW.aggregate_type, NEW.aggregate_id, NEW.sequence, NEW.event_type, NEW.payload);
    PERFORM pg_notify('mediagw_outbox', '');
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER events_to_outbox AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION mediagw_outbox_capture();
