-- API keys of feeds, staff and operators (services/common/auth.py). Only a hash of the secret is kept.
CREATE TABLE api_keys (
    key_id      text        PRIMARY KEY,
    name        text        NOT NULL,
    role        text        NOT NULL CHECK (role IN ('feed', 'staff', 'ops')),
    -- municipality codes a staff key is limited to; empty: the whole prefecture
    cities      text[]      NOT NULL DEFAULT '{}',
    secret_hash text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
