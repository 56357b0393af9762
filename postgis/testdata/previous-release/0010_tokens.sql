-- API tokens. The secret is shown once at creation and stored only as its
-- SHA-256 hash; the prefix (public, not secret) finds the row so the hash
-- can be compared in constant time.
CREATE TABLE lastmile.api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CHECK (name <> ''),
    prefix       text NOT NULL UNIQUE,
    hash         bytea NOT NULL CHECK (length(hash) = 32),
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
