-- The relay upcasts stored payloads before mapping them to the wire (ADR 0015), so the outbox
-- carries each event's version. Rows queued before this migration were all written as 1.0.
ALTER TABLE event_outbox ADD COLUMN IF NOT EXISTS event_version text NOT NULL DEFAULT '1.0';
ALTER TABLE event_outbox_failed ADD COLUMN IF NOT EXISTS event_version text NOT NULL DEFAULT '1.0';

CREATE OR REPLACE FUNCTION mediagw_outbox_capture() RETURNS trigger AS $$
BEGIN
    INSERT INTO event_outbox (aggregate_type, aggregate_id, sequence, event_type, event_version, payload)
    VALUES (NEW.aggregate_type, NEW.aggregate_id, NEW.sequence, NEW.event_type, NEW.event_version, NEW.payload);
    PERFORM pg_notify('mediagw_outbox', '');
    RETURN NULL;
END $$ LANGUAGE plpgsql;
