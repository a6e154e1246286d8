-- The translate service's tables: notices it has seen, one translation per (notice, language, source
-- text) with revisions, the translation memory, human translations, which revision each batch was
-- rendered with, monthly character budgets, and the glossary.

-- Notices seen on notices.v1 (cities known) or only in deliveries (reminder templates: cities NULL).
CREATE TABLE translate_notices (
    notice_id          uuid        PRIMARY KEY,
    source_hash        text        NOT NULL,
    content            jsonb       NOT NULL,
    -- audience cities of the notice; '{}' prefecture-wide; NULL unknown (only prefecture-wide keys see it)
    cities             text[],
    audience_languages text[]      NOT NULL DEFAULT '{}',
    origin             text        NOT NULL CHECK (origin IN ('notice', 'delivery')),
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Each row is one immutable text for a (notice, language, source text); the highest revision is the
-- current one. Batches record the revision they were rendered with, so a redelivered batch is rendered
-- identically even after a human translation was approved.
CREATE TABLE translate_translations (
    revision             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice_id            uuid        NOT NULL,
    language             text        NOT NULL,
    source_hash          text        NOT NULL,
    title                text        NOT NULL,
    body                 text        NOT NULL,
    source               text        NOT NULL CHECK (source IN ('approved', 'memory', 'machine', 'fallback')),
    -- the language the text is written in (another one for a fallback)
    text_language        text        NOT NULL,
    engine               text,
    -- the backend configured for the language when this was made ('' none): a change re-translates
    route                text        NOT NULL DEFAULT '',
    -- a fallback caused by a failure is tried again from this time on
    retry_at             timestamptz,
    reason               text,
    human_translation_id bigint,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX translate_translations_current
    ON translate_translations (notice_id, language, source_hash, revision DESC);
-- Machine translation happens at most once per (notice, language, source text), whatever the replicas.
CREATE UNIQUE INDEX translate_translations_machine_once
    ON translate_translations (notice_id, language, source_hash) WHERE source IN ('memory', 'machine');

-- Translation memory: segments (title, paragraphs) with placeholders and glossary terms as tokens.
CREATE TABLE translate_memory (
    engine          text        NOT NULL,
    source_language text        NOT NULL,
    target_language text        NOT NULL,
    text_hash       text        NOT NULL,
    source_text     text        NOT NULL,
    target_text     text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NOT NULL DEFAULT now(),
    uses            bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (engine, source_language, target_language, text_hash)
);

-- Human translations: submitted by staff, approved (then they win over the machine's) or rejected.
CREATE TABLE translate_human_translations (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice_id    uuid        NOT NULL,
    language     text        NOT NULL,
    source_hash  text        NOT NULL,
    title        text        NOT NULL,
    body         text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected', 'superseded')),
    submitted_by text        NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    decided_by   text,
    decided_at   timestamptz,
    note         text
);
CREATE INDEX translate_human_translations_notice
    ON translate_human_translations (notice_id, language, submitted_at DESC);

-- Which translation each batch was rendered with (kept for a while, for identical redelivery).
CREATE TABLE translate_rendered_batches (
    batch_id    text        PRIMARY KEY,
    notice_id   uuid        NOT NULL,
    language    text        NOT NULL,
    revision    bigint      NOT NULL REFERENCES translate_translations (revision),
    rendered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX translate_rendered_batches_age ON translate_rendered_batches (rendered_at);

-- Characters sent per backend and calendar month (budgets; shared by replicas).
CREATE TABLE translate_budget_usage (
    backend    text        NOT NULL,
    month      date        NOT NULL,
    characters bigint      NOT NULL DEFAULT 0 CHECK (characters >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (backend, month)
);

-- Fixed terms: in a source text, source_term is protected from the engine and becomes target_term.
CREATE TABLE translate_glossary (
    source_language text        NOT NULL CHECK (source_language IN ('ja', 'en')),
    source_term     text        NOT NULL CHECK (length(btrim(source_term)) > 0),
    target_language text        NOT NULL,
    target_term     text        NOT NULL CHECK (length(btrim(target_term)) > 0),
    updated_by      text        NOT NULL DEFAULT 'migration',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_language, source_term, target_language)
);
