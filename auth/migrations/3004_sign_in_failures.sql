-- Consecutive failed sign-ins per account (keyed by a hash of the normalised e-mail, so unknown
-- addresses are throttled alike and the table names nobody): from the fifth failure on the account
-- backs off exponentially, whatever address the guesses come from. A success clears it.
CREATE TABLE IF NOT EXISTS auth.sign_in_failures (
    account         bytea       PRIMARY KEY,
    failures        integer     NOT NULL,
    locked_until    timestamptz,
    last_failure_at timestamptz NOT NULL DEFAULT now()
);
