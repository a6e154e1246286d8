-- What `gunma dlq replay` has put back into a source topic (services/ops/dlq.py), so that a second replay
-- of the same dead-letter topic does not publish a record twice. One row per dead-letter record replayed.
CREATE TABLE ops_dlq_replays (
    dlq_topic        text        NOT NULL,
    dlq_partition    integer     NOT NULL,
    dlq_offset       bigint      NOT NULL,
    source_topic     text        NOT NULL,
    error_type       text,
    consumer         text,
    replayed_by      text        NOT NULL,
    replayed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
