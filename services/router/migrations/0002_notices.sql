-- Notices: the schedule, the audience snapshot cut into batches, and what became of each batch.

-- One row per notice_id (a redelivered NoticeSubmitted finds its row and changes nothing).
--   scheduled  -> publishing (audience snapshot taken) -> planned (every batch published)
--   scheduled  -> cancelled
-- Filters are stored as arrays, NULL meaning "no restriction". ``cities`` already has the submitting
-- key's scope applied: an empty array then means "nobody", never "everyone".
CREATE TABLE notices (
    notice_id          uuid        PRIMARY KEY,
    event_id           uuid        NOT NULL,
    content            jsonb       NOT NULL,
    category           text        NOT NULL,
    priority           text        NOT NULL CHECK (priority IN ('normal', 'emergency')),
    audience           jsonb       NOT NULL,
    cities             text[],
    nationalities      text[],
    languages          text[],
    residence_statuses text[],
    employers          text[],
    scope_cities       text[]      NOT NULL DEFAULT '{}',
    -- cities the notice asked for that lie outside the submitting key's scope (not sent to)
    dropped_cities     text[]      NOT NULL DEFAULT '{}',
    send_at            timestamptz,
    submitted_by       text        NOT NULL,
    submitted_at       timestamptz NOT NULL,
    received_at        timestamptz NOT NULL,
    release_at         timestamptz NOT NULL,
    held_reason        text,
    state              text        NOT NULL DEFAULT 'scheduled'
                                   CHECK (state IN ('scheduled', 'publishing', 'planned', 'cancelled')),
    recipients         integer,
    batches            integer,
    released_at        timestamptz,
    planned_at         timestamptz,
    cancelled_at       timestamptz,
    cancelled_by       text
);
CREATE INDEX notices_due ON notices (release_at) WHERE state = 'scheduled';
CREATE INDEX notices_publishing ON notices (released_at) WHERE state = 'publishing';
CREATE INDEX notices_submitted ON notices (submitted_at DESC);

-- The audience snapshot: taken once, in one transaction, when the notice is released. Each row is one
-- DeliveryPlanned: one language, at most 500 LINE user ids in (language, line_user_id) order. Batch
-- membership never changes afterwards, so a crash while publishing resumes with the same batch ids.
CREATE TABLE notice_batches (
    notice_id    uuid    NOT NULL REFERENCES notices (notice_id),
    language     text COLLATE "C" NOT NULL,
    batch_no     integer NOT NULL CHECK (batch_no >= 0),
    size         integer NOT NULL CHECK (size BETWEEN 1 AND 500),
    -- emptied once the notice is older than the retention period; size stays for the counts
    recipients   text[],
    published_at timestamptz,
    PRIMARY KEY (notice_id, language, batch_no)
);

-- What the sender reported for each batch (notices and personal reminders). A later report for the same
-- batch replaces an earlier one (a failed batch that was retried and then sent).
CREATE TABLE delivery_outcomes (
    batch_id     text        PRIMARY KEY,
    notice_id    uuid        NOT NULL,
    language     text        NOT NULL,
    purpose      text        NOT NULL,
    recipients   integer     NOT NULL,
    status       text        NOT NULL CHECK (status IN ('sent', 'failed')),
    unreachable  integer     NOT NULL DEFAULT 0,
    attempts     integer     NOT NULL DEFAULT 1,
    http_status  integer,
    error        text,
    completed_at timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_outcomes_notice ON delivery_outcomes (notice_id, language);
