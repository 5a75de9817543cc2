-- Auth state (schema `auth`): signing keys, users, clients, browser sessions, authorization codes,
-- device codes, refresh tokens. `IF NOT EXISTS` throughout: databases created before versioned
-- migrations already have these tables and adopt this version as they are.
CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE IF NOT EXISTS auth.signing_keys (
    kid         text        PRIMARY KEY,
    private_der bytea       NOT NULL,
    n           text        NOT NULL,
    e           text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    active_from timestamptz NOT NULL,
    retired_at  timestamptz
);

CREATE TABLE IF NOT EXISTS auth.users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    display_name  text,
    roles         text[]      NOT NULL DEFAULT '{user}',
    tier          text        NOT NULL DEFAULT 'free',
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS auth.clients (
    client_id     text        PRIMARY KEY,
    name          text        NOT NULL,
    secret_hash   bytea,
    redirect_uris text[]      NOT NULL,
    grant_types   text[]      NOT NULL,
    scopes        text        NOT NULL,
    first_party   boolean     NOT NULL DEFAULT false,
    created_by    uuid,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS auth.sessions (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES auth.users (id),
    csrf       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS auth.authorization_codes (
    code_hash      bytea       PRIMARY KEY,
    client_id      text        NOT NULL,
    user_id        uuid        NOT NULL,
    redirect_uri   text        NOT NULL,
    scope          text        NOT NULL,
    code_challenge text        NOT NULL,
    device_id      text,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    family_id      uuid
);

CREATE TABLE IF NOT EXISTS auth.device_codes (
    device_code_hash bytea       PRIMARY KEY,
    user_code        text        NOT NULL UNIQUE,
    client_id        text        NOT NULL,
    scope            text        NOT NULL,
    device_id        text        NOT NULL,
    expires_at       timestamptz NOT NULL,
    interval_s       integer     NOT NULL,
    last_poll_at     timestamptz,
    status           text        NOT NULL DEFAULT 'pending',
    user_id          uuid
);

CREATE TABLE IF NOT EXISTS auth.refresh_tokens (
    token_hash bytea       PRIMARY KEY,
    family_id  uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    client_id  text        NOT NULL,
    scope      text        NOT NULL,
    device_id  text,
    access_jti uuid        NOT NULL,
    access_exp timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON auth.refresh_tokens (family_id);
