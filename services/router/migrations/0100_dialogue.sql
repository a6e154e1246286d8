-- The onboarding conversation (issue 7, docs/onboarding.md): its state per subscriber, the consent log,
-- employer registration codes, and the outbox of replies.

-- The dialogue's whole state (SubscriberState.to_dict(), with its own "version"), deleted with the row.
-- The fields audiences use are mirrored into the registry's columns in the same statement.
ALTER TABLE subscribers ADD COLUMN dialogue jsonb;

-- Proof of consent: who agreed to which text (version), in which language, and when. One row per
-- subscriber and version (agreeing again to the same text changes nothing). Deleted with the
-- subscriber's other personal data ("delete my data"); the subscriber row keeps the version a link rests on.
CREATE TABLE consent_log (
    line_user_id    text COLLATE "C" NOT NULL CHECK (line_user_id ~ '^U[0-9a-f]{32}$'),
    consent_version text        NOT NULL CHECK (length(consent_version) BETWEEN 1 AND 64),
    language        text        NOT NULL,
    consented_at    timestamptz NOT NULL,
    -- the LINE webhook event that carried the "I agree" tap
    webhook_event_id text       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (line_user_id, consent_version)
);

-- Employer registration codes (services/router/dialogue/employer_code.py: 8 symbols of Crockford's
-- base 32, the last a check symbol), issued per establishment by the prefecture and revoked when leaked
-- or no longer wanted. An establishment may have several codes (posters, rotation). ``registrations``
-- counts the subscribers who registered with the code (anonymous; erasure does not decrement it).
CREATE TABLE registration_codes (
    code             text COLLATE "C" PRIMARY KEY CHECK (code ~ '^[0-9A-HJKMNP-TV-Z]{8}$'),
    establishment_id text COLLATE "C" NOT NULL REFERENCES establishments (establishment_id),
    note             text CHECK (length(note) <= 200),
    issued_at        timestamptz NOT NULL,
    -- the API key id (or "cli:<operator>") that issued it
    issued_by        text        NOT NULL,
    revoked_at       timestamptz,
    revoked_by       text,
    revoke_reason    text CHECK (length(revoke_reason) <= 200),
    registrations    integer     NOT NULL DEFAULT 0,
    last_used_at     timestamptz,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX registration_codes_establishment ON registration_codes (establishment_id, issued_at DESC);

-- Establishments entered by the issuing staff before the feed reported them carry reported_at =
-- 'epoch' and a nil event id, so that the feed's first report replaces their name and city. Who entered
-- them is kept here (NULL: known from the feed).
ALTER TABLE establishments ADD COLUMN entered_by text;

-- Replies of the conversation, written in the line-events consumer's transaction together with the
-- state they answer, and published to deliveries.ready.v1 after the commit (then deleted). A crash
-- between the commit and the publish leaves them here for the relay loop; a crash after the publish and
-- before the delete publishes them again with the same batch id, which the sender drops.
CREATE TABLE conversation_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key        text        NOT NULL,
    payload    bytea       NOT NULL,
    headers    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
