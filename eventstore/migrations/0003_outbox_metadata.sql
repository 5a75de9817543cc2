-- The relay forwards each event's metadata (the W3C trace context of the command that wrote it)
-- as Kafka headers, so one trace spans request → commit → publish → projection. Events get their
-- commit time (export and republish keep it; rows written before this migration have none).
ALTER TABLE event_outbox ADD COLUMN IF NOT EXISTS metadata json NOT NULL DEFAULT '{}';
ALTER TABLE event_outbox_failed ADD COLUMN IF NOT EXISTS metadata json NOT NULL DEFAULT '{}';
ALTER TABLE events ADD COLUMN IF NOT EXISTS recorded_at timestamptz;
ALTER TABLE events ALTER COLUMN recorded_at SET DEFAULT clock_timestamp();
CREATE INDEX IF NOT EXISTS events_by_recorded_at ON events (recorded_at);

CREATE OR REPLACE FUNCTION mediagw_outbox_capture() RETURNS trigger AS $$
BEGIN
    INSERT INTO event_outbox (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata,
                              committed_at)
    VALUES (NEW.aggregate_type, NEW.aggregate_id, NEW.sequence, NEW.event_type, NEW.event_version, NEW.payload,
            NEW.metadata, COALESCE(NEW.recorded_at, clock_timestamp()));
    PERFORM pg_notify('mediagw_outbox', '');
    RETURN NULL;
END $$ LANGUAGE plpgsql;
