-- Ingest: what was accepted (the dedupe record) and what still has to reach Kafka (the outbox).
-- Both are written in ONE transaction, so "accepted once" and "will be published" commit together;
-- the HTTP 2xx is sent only after that commit (docs/ingest.md, "Durability").

-- One row per accepted input, kept after relaying so a file re-sent months later is recognised.
-- source: the feed (API key name), 'line', or 'notice:<key id>'; source_event_id: the sender's own id
-- (feed event id, a hash of a CSV row, LINE's webhookEventId, an Idempotency-Key). The key is the
-- event id, a UUIDv5 of (kind, source, source_event_id): one-to-one with the pair, and a 16-byte index
-- is three times cheaper to insert into than the text pair (measured on the CSV path).
-- No personal data: ids, the derived event id, a digest of the content (to tell a replay from a
-- conflicting re-use of the same id). Purged after GUNMA_INGEST_DEDUPE_RETENTION_DAYS.
CREATE TABLE ingest_accepted (
    event_id        uuid        PRIMARY KEY,
    source          text        NOT NULL,
    source_event_id text        NOT NULL,
    fingerprint     bytea       NOT NULL,
    accepted_at     timestamptz NOT NULL DEFAULT now()
);
-- Rows arrive in time order: a BRIN index makes the retention purge cheap.
CREATE INDEX ingest_accepted_age ON ingest_accepted USING brin (accepted_at);

-- Serialized events waiting for Kafka, a batch per row: everything one request (a JSON batch, a chunk of
-- a CSV file, a webhook) accepted in one transaction. A row per batch rather than per event makes the
-- outbox a few tuples per thousand events (insert, read, delete), which is what lets a million-row file
-- through at tens of thousands of events per second; the dedupe table above stays per event.
-- The relay publishes rows in id order, events in array order, and deletes a row once Kafka
-- acknowledged (acks=all) all of its events: a payload lives here only until it is in Kafka.
-- topic is the logical name (employment, line_events, notices), resolved with the topic prefix.
CREATE TABLE ingest_outbox (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic          text        NOT NULL,
    events         integer     NOT NULL CHECK (events > 0),
    schema_version smallint    NOT NULL DEFAULT 1,
    keys           bytea[]     NOT NULL,
    event_ids      uuid[]      NOT NULL,
    event_types    text[]      NOT NULL,
    payloads       bytea[]     COMPRESSION lz4 NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Wake the relay once per inserted batch, at commit.
CREATE FUNCTION ingest_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gunma_ingest_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER ingest_outbox_notify AFTER INSERT ON ingest_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION ingest_outbox_notify();

-- The relay leader's in-flight round: set (and committed) before publishing, cleared in the same
-- statement that deletes the published rows. If it is still set when a relay takes over, the previous
-- leader died mid-round: the new leader looks in Kafka for those events before republishing, so a
-- crash does not duplicate them. One row.
CREATE TABLE ingest_relay_state (
    singleton      boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    inflight_max   bigint,
    -- epoch milliseconds on the relay's clock, the same clock that stamps the Kafka records
    inflight_since bigint,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ingest_relay_state DEFAULT VALUES;

-- One row per CSV upload: who sent what, when, and how it ended (the per-row report goes back to the
-- client; this is the audit trail).
CREATE TABLE ingest_uploads (
    upload_id   uuid        PRIMARY KEY,
    source      text        NOT NULL,
    key_id      text        NOT NULL,
    filename    text,
    encoding    text,
    status      text        NOT NULL DEFAULT 'running'
                            CHECK (status IN ('running', 'completed', 'failed')),
    rows        bigint      NOT NULL DEFAULT 0,
    accepted    bigint      NOT NULL DEFAULT 0,
    duplicates  bigint      NOT NULL DEFAULT 0,
    rejected    bigint      NOT NULL DEFAULT 0,
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX ingest_uploads_started ON ingest_uploads (started_at);
