-- Every batch the sender attempted, with its outcome: the sender's memory across crashes and replicas.
-- A row is written ('sending', in_doubt_since) BEFORE the first request can reach LINE, and updated with
-- the outcome BEFORE the Kafka offset is committed. LINE user ids are not stored: only counts, and the
-- unreachable ones LINE named.
CREATE TABLE sender_batches (
    batch_id         text        PRIMARY KEY,
    notice_id        uuid        NOT NULL,
    language         text        NOT NULL,
    batch_no         integer     NOT NULL,
    requested_mode   text        NOT NULL,
    sent_via         text,
    retry_key        uuid        NOT NULL,
    recipients       integer     NOT NULL,
    status           text        NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    request_id       text,
    http_status      integer,
    error            text,
    failure_kind     text,
    unreachable      text[]      NOT NULL DEFAULT '{}',
    attempts         integer     NOT NULL DEFAULT 0,
    planned_at       timestamptz NOT NULL,
    first_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- Since when LINE may have accepted this batch without us knowing (NULL: surely not accepted).
    -- LINE remembers the retry key for 24 h after acceptance; see services/sender/domain/decisions.py.
    in_doubt_since   timestamptz,
    completed_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sender_batches_notice ON sender_batches (notice_id);
CREATE INDEX sender_batches_open ON sender_batches (first_attempt_at) WHERE status = 'sending';

-- The quota check before a large notice's first batch, so every batch of the notice (on any replica)
-- follows the same decision.
CREATE TABLE sender_notice_admissions (
    notice_id    uuid        PRIMARY KEY,
    admitted     boolean     NOT NULL,
    recipients   integer     NOT NULL,
    quota_limit  bigint,
    quota_used   bigint,
    reason       text        NOT NULL,
    checked_at   timestamptz NOT NULL DEFAULT now()
);
