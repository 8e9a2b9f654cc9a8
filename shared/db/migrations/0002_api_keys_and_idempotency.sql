-- API keys (stored as SHA-256 hashes) and the responses kept for Idempotency-Key retries.

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    -- The first characters of the key, shown in listings so that a key can be recognised.
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE idempotency_keys (
    -- Whose key: the API key's id, or the hash of a key given in VCS_API_KEYS.
    client        text NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status        integer NOT NULL,
    response      jsonb NOT NULL,
    location      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Listing a campaign's calls page by page in insertion order (keyset pagination).
CREATE INDEX calls_in_order ON calls (campaign_id, seq);
-- (campaign_id, status, seq) already serves the claim's "pending, in order"; one index less
-- to write on every insert.
DROP INDEX calls_pending_in_order;
