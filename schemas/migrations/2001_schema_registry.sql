-- The embedded Confluent-compatible registry's storage (schemas by canonical form, subject
-- versions, compatibility levels).
CREATE SCHEMA IF NOT EXISTS schema_registry;
CREATE TABLE IF NOT EXISTS schema_registry.schemas (
    id          serial PRIMARY KEY,
    schema_type text NOT NULL DEFAULT 'AVRO',
    schema_text text NOT NULL,
    canonical   text NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS schema_registry.subject_versions (
    subject    text    NOT NULL,
    version    integer NOT NULL,
    schema_id  integer NOT NULL REFERENCES schema_registry.schemas(id),
    deleted    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, version)
);
CREATE TABLE IF NOT EXISTS schema_registry.config (
    subject       text PRIMARY KEY,
    compatibility text NOT NULL
);
