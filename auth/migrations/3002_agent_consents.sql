-- Consents a user gave an AI agent (OAuth client) to act for them through MCP, per scope.
-- Approved on the device page: a consent request is a device code whose device_id is
-- 'mcp-consent:<user id>' (the agent never sees its device code, only the user code).
CREATE TABLE IF NOT EXISTS auth.agent_consents (
    user_id    uuid NOT NULL,
    client_id  text NOT NULL,
    scope      text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    PRIMARY KEY (user_id, client_id, scope)
);
