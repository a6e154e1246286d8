-- Idempotent consumers (services/common/kafka/consumer.py and idempotency.py).

-- The next offset each consumer group still has to process, per partition. It is written in the same
-- transaction as the handler's effect, so a redelivered record (after a crash before the Kafka commit)
-- is recognised and skipped.
CREATE TABLE consumer_offsets (
    consumer    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- Message ids a consumer has already acted on, for duplicates that arrive at another offset (a producer
-- that retried, an outbox relayed twice). Also written in the handler's transaction.
CREATE TABLE processed_messages (
    consumer     text        NOT NULL,
    message_id   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
CREATE INDEX processed_messages_age ON processed_messages (processed_at);
