-- Revoked access tokens (by jti) until they would have expired: the source of truth every API
-- instance loads its local deny list from, so a revocation holds while Redis (the fast path that
-- spreads it at once) is slow or down. Written in the transaction that revokes.
CREATE TABLE IF NOT EXISTS auth.revoked_access_tokens (
    jti        uuid        PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS revoked_access_tokens_expiry ON auth.revoked_access_tokens (expires_at);
