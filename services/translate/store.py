"""SQL of the translate service (tables in migrations/0001_translations.sql)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.contracts import NoticeContent
from services.common.db import Connection, Pool

from .domain.protect import GlossaryTerm

#: (notice_id, language, source_hash)
Key = tuple[uuid.UUID, str, str]


@dataclass(frozen=True, slots=True)
class TranslationRow:
    revision: int
    notice_id: uuid.UUID
    language: str
    source_hash: str
    title: str
    body: str
    source: str
    text_language: str
    engine: str | None
    route: str
    retry_at: datetime | None
    reason: str | None
    human_translation_id: int | None
    created_at: datetime

    @property
    def key(self) -> Key:
        return (self.notice_id, self.language, self.source_hash)

    @property
    def is_fallback(self) -> bool:
        return self.source == "fallback"


@dataclass(frozen=True, slots=True)
class NewTranslation:
    title: str
    body: str
    source: str
    text_language: str
    engine: str | None = None
    route: str = ""
    retry_at: datetime | None = None
    reason: str | None = None
    human_translation_id: int | None = None


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    notice_id: uuid.UUID
    source_hash: str
    content: NoticeContent
    cities: tuple[str, ...] | None
    audience_languages: tuple[str, ...]
    origin: str


@dataclass(frozen=True, slots=True)
class HumanTranslation:
    id: int
    notice_id: uuid.UUID
    language: str
    source_hash: str
    title: str
    body: str
    status: str
    submitted_by: str
    submitted_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


_TRANSLATION_COLUMNS = (
    "revision, notice_id, language, source_hash, title, body, source, text_language, engine, route, "
    "retry_at, reason, human_translation_id, created_at"
)


def _translation(row: Any) -> TranslationRow:
    return TranslationRow(**{k: row[k] for k in TranslationRow.__slots__})


def _human(row: Any) -> HumanTranslation:
    return HumanTranslation(**{k: row[k] for k in HumanTranslation.__slots__})


# --- notices ---------------------------------------------------------------------------------------


async def remember_notices(
    conn: Connection | Pool,
    notices: Sequence[tuple[uuid.UUID, NoticeContent, str]],
    *,
    origin: str,
    cities: Sequence[tuple[str, ...] | None] | None = None,
    audience_languages: Sequence[tuple[str, ...]] | None = None,
) -> None:
    """Store notices' contents. From notices.v1 they are authoritative (cities known); from
    deliveries they only add what is unknown or a changed text (an edited reminder template)."""
    if not notices:
        return
    n = len(notices)
    city_all = list(cities) if cities is not None else [None] * n
    language_all = list(audience_languages) if audience_languages is not None else [()] * n
    # one row per notice (a second row for the same key in one INSERT ... ON CONFLICT is an error)
    last = {item[0]: i for i, item in enumerate(notices)}
    order = sorted(last.values(), key=lambda i: notices[i][0])  # one lock order across replicas
    last = {notices[i][0]: i for i in order}
    notices = [notices[i] for i in last.values()]
    city_lists = [city_all[i] for i in last.values()]
    language_lists = [language_all[i] for i in last.values()]
    await conn.execute(
        """
        INSERT INTO translate_notices AS t
            (notice_id, source_hash, content, cities, audience_languages, origin)
        SELECT u.notice_id, u.source_hash, u.content,
               CASE WHEN u.cities IS NULL THEN NULL ELSE string_to_array(u.cities, ',') END,
               string_to_array(u.languages, ','), $6
        FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::text[])
             AS u(notice_id, source_hash, content, cities, languages)
        ON CONFLICT (notice_id) DO UPDATE SET
            source_hash = EXCLUDED.source_hash,
            content = EXCLUDED.content,
            cities = CASE WHEN EXCLUDED.origin = 'notice' THEN EXCLUDED.cities ELSE t.cities END,
            audience_languages = CASE WHEN EXCLUDED.origin = 'notice'
                                      THEN EXCLUDED.audience_languages ELSE t.audience_languages END,
            origin = CASE WHEN EXCLUDED.origin = 'notice' THEN 'notice' ELSE t.origin END,
            updated_at = now()
        WHERE EXCLUDED.origin = 'notice' OR t.source_hash <> EXCLUDED.source_hash
        """,
        [item[0] for item in notices],
        [item[2] for item in notices],
        [item[1].model_dump(mode="json") for item in notices],
        [None if c is None else ",".join(c) for c in city_lists],
        [",".join(langs) for langs in language_lists],
        origin,
    )


async def get_notice(conn: Connection | Pool, notice_id: uuid.UUID) -> NoticeRecord | None:
    row = await conn.fetchrow("SELECT * FROM translate_notices WHERE notice_id = $1", notice_id)
    if row is None:
        return None
    return NoticeRecord(
        notice_id=row["notice_id"],
        source_hash=row["source_hash"],
        content=NoticeContent.model_validate(row["content"]),
        cities=tuple(c for c in row["cities"] if c) if row["cities"] is not None else None,
        audience_languages=tuple(c for c in row["audience_languages"] if c),
        origin=row["origin"],
    )


# --- translations ----------------------------------------------------------------------------------


async def current_translations(conn: Connection | Pool, keys: Iterable[Key]) -> dict[Key, TranslationRow]:
    """The highest revision of each key that has one."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT ON (t.notice_id, t.language, t.source_hash) {_TRANSLATION_COLUMNS}
        FROM translate_translations t
        JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS k(notice_id, language, source_hash)
          USING (notice_id, language, source_hash)
        ORDER BY t.notice_id, t.language, t.source_hash, t.revision DESC
        """,  # noqa: S608 - a constant column list, numbered parameters
        [k[0] for k in wanted],
        [k[1] for k in wanted],
        [k[2] for k in wanted],
    )
    return {(r["notice_id"], r["language"], r["source_hash"]): _translation(r) for r in rows}


async def current_translation(conn: Connection | Pool, key: Key) -> TranslationRow | None:
    return (await current_translations(conn, [key])).get(key)


async def translations_by_revision(
    conn: Connection | Pool, revisions: Iterable[int]
) -> dict[int, TranslationRow]:
    wanted = sorted(set(revisions))
    if not wanted:
        return {}
    rows = await conn.fetch(
        f"SELECT {_TRANSLATION_COLUMNS} FROM translate_translations WHERE revision = ANY($1::bigint[])",  # noqa: S608 - a constant column list
        wanted,
    )
    return {r["revision"]: _translation(r) for r in rows}


async def notice_translations(
    conn: Connection | Pool, notice_id: uuid.UUID, source_hash: str
) -> list[TranslationRow]:
    """The current translation of every language of one notice text."""
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT ON (language) {_TRANSLATION_COLUMNS} FROM translate_translations
        WHERE notice_id = $1 AND source_hash = $2
        ORDER BY language, revision DESC
        """,  # noqa: S608 - a constant column list, numbered parameters
        notice_id,
        source_hash,
    )
    return [_translation(r) for r in rows]


async def insert_translation(conn: Connection, key: Key, new: NewTranslation) -> TranslationRow:
    """Add a revision; a second machine/memory row for the key is refused by the unique index, and
    the existing one is returned (translation happens once, whatever the replicas)."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO translate_translations
            (notice_id, language, source_hash, title, body, source, text_language, engine, route,
             retry_at, reason, human_translation_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (notice_id, language, source_hash) WHERE source IN ('memory', 'machine') DO NOTHING
        RETURNING {_TRANSLATION_COLUMNS}
        """,  # noqa: S608 - a constant column list, numbered parameters
        *key,
        new.title,
        new.body,
        new.source,
        new.text_language,
        new.engine,
        new.route,
        new.retry_at,
        new.reason,
        new.human_translation_id,
    )
    if row is None:
        existing = await conn.fetchrow(
            f"""
            SELECT {_TRANSLATION_COLUMNS} FROM translate_translations
            WHERE notice_id = $1 AND language = $2 AND source_hash = $3 AND source IN ('memory', 'machine')
            """,  # noqa: S608 - a constant column list, numbered parameters
            *key,
        )
        assert existing is not None
        return _translation(existing)
    return _translation(row)


async def postpone_fallback(
    conn: Connection, revision: int, *, retry_at: datetime | None, route: str, reason: str | None
) -> TranslationRow:
    """Keep an unchanged fallback text (same revision, so batches stay identical); retry later."""
    row = await conn.fetchrow(
        f"""
        UPDATE translate_translations SET retry_at = $2, route = $3, reason = $4
        WHERE revision = $1 RETURNING {_TRANSLATION_COLUMNS}
        """,  # noqa: S608 - a constant column list, numbered parameters
        revision,
        retry_at,
        route,
        reason,
    )
    assert row is not None
    return _translation(row)


async def expire_fallbacks(conn: Connection | Pool, notice_id: uuid.UUID) -> int:
    """Make the notice's fallbacks try again now (a language they fall back to got a better text)."""
    status = await conn.execute(
        """
        UPDATE translate_translations t SET retry_at = now()
        WHERE t.notice_id = $1 AND t.source = 'fallback'
          AND t.revision = (SELECT max(revision) FROM translate_translations c
                            WHERE c.notice_id = t.notice_id AND c.language = t.language
                              AND c.source_hash = t.source_hash)
        """,
        notice_id,
    )
    return int(status.split()[-1])


# --- translation memory ----------------------------------------------------------------------------


async def memory_lookup(
    conn: Connection | Pool, engine: str, source: str, target: str, hashes: Sequence[str]
) -> dict[str, str]:
    """Plain reads (no row locks: the caller's transaction may wait for an engine meanwhile)."""
    if not hashes:
        return {}
    rows = await conn.fetch(
        """
        SELECT text_hash, target_text FROM translate_memory
        WHERE engine = $1 AND source_language = $2 AND target_language = $3
          AND text_hash = ANY($4::text[])
        """,
        engine,
        source,
        target,
        sorted(set(hashes)),
    )
    return {r["text_hash"]: r["target_text"] for r in rows}


async def memory_used(pool: Pool, engine: str, source: str, target: str, hashes: Sequence[str]) -> None:
    """Count uses of memory entries (for pruning), in a statement of its own, in a fixed order."""
    if not hashes:
        return
    await pool.execute(
        """
        UPDATE translate_memory SET uses = uses + 1, last_used_at = now()
        WHERE (engine, source_language, target_language, text_hash) IN (
            SELECT $1, $2, $3, h FROM unnest($4::text[]) AS h ORDER BY h)
        """,
        engine,
        source,
        target,
        sorted(set(hashes)),
    )


async def memory_store(
    conn: Connection | Pool, engine: str, source: str, target: str, entries: Sequence[tuple[str, str, str]]
) -> None:
    """Remember (hash, source text, target text) segments; the first translation of a segment stays."""
    if not entries:
        return
    entries = sorted({e[0]: e for e in entries}.values())  # one order everywhere: no lock cycles
    await conn.execute(
        """
        INSERT INTO translate_memory (engine, source_language, target_language, text_hash, source_text,
                                      target_text)
        SELECT $1, $2, $3, e.text_hash, e.source_text, e.target_text
        FROM unnest($4::text[], $5::text[], $6::text[]) AS e(text_hash, source_text, target_text)
        ON CONFLICT DO NOTHING
        """,
        engine,
        source,
        target,
        [e[0] for e in entries],
        [e[1] for e in entries],
        [e[2] for e in entries],
    )


# --- human translations ----------------------------------------------------------------------------


async def approved_human(
    conn: Connection | Pool, notice_id: uuid.UUID, language: str, source_hash: str
) -> HumanTranslation | None:
    row = await conn.fetchrow(
        """
        SELECT * FROM translate_human_translations
        WHERE notice_id = $1 AND language = $2 AND source_hash = $3 AND status = 'approved'
        ORDER BY decided_at DESC, id DESC LIMIT 1
        """,
        notice_id,
        language,
        source_hash,
    )
    return _human(row) if row else None


async def submit_human(
    conn: Connection,
    *,
    notice_id: uuid.UUID,
    language: str,
    source_hash: str,
    title: str,
    body: str,
    submitted_by: str,
    note: str | None,
) -> HumanTranslation:
    row = await conn.fetchrow(
        """
        INSERT INTO translate_human_translations
            (notice_id, language, source_hash, title, body, status, submitted_by, note)
        VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $7) RETURNING *
        """,
        notice_id,
        language,
        source_hash,
        title,
        body,
        submitted_by,
        note,
    )
    assert row is not None
    return _human(row)


async def get_human(conn: Connection | Pool, submission_id: int) -> HumanTranslation | None:
    row = await conn.fetchrow("SELECT * FROM translate_human_translations WHERE id = $1", submission_id)
    return _human(row) if row else None


async def decide_human(
    conn: Connection, submission_id: int, *, status: str, decided_by: str, note: str | None
) -> HumanTranslation:
    if status == "approved":
        # The previously approved text of the same notice and language is superseded.
        await conn.execute(
            """
            UPDATE translate_human_translations o SET status = 'superseded'
            FROM translate_human_translations n
            WHERE n.id = $1 AND o.notice_id = n.notice_id AND o.language = n.language
              AND o.status = 'approved' AND o.id <> n.id
            """,
            submission_id,
        )
    row = await conn.fetchrow(
        """
        UPDATE translate_human_translations
        SET status = $2, decided_by = $3, decided_at = now(), note = COALESCE($4, note)
        WHERE id = $1 RETURNING *
        """,
        submission_id,
        status,
        decided_by,
        note,
    )
    assert row is not None
    return _human(row)


async def human_translations(conn: Connection | Pool, notice_id: uuid.UUID) -> list[HumanTranslation]:
    rows = await conn.fetch(
        "SELECT * FROM translate_human_translations WHERE notice_id = $1 ORDER BY language, id DESC",
        notice_id,
    )
    return [_human(r) for r in rows]


# --- rendered batches ------------------------------------------------------------------------------


async def record_rendered(
    conn: Connection | Pool, batches: Sequence[tuple[str, uuid.UUID, str, int]]
) -> dict[str, tuple[int, datetime]]:
    """Record (batch_id, notice_id, language, revision) unless the batch was rendered before; return
    each batch's revision and first rendering time (the earlier ones for redelivered batches)."""
    if not batches:
        return {}
    unique = sorted({b[0]: b for b in batches}.values())
    rows = await conn.fetch(
        """
        WITH new AS (
            INSERT INTO translate_rendered_batches (batch_id, notice_id, language, revision)
            SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bigint[])
            ON CONFLICT (batch_id) DO NOTHING
            RETURNING batch_id, revision, rendered_at
        )
        SELECT batch_id, revision, rendered_at FROM new
        UNION ALL
        SELECT batch_id, revision, rendered_at FROM translate_rendered_batches
        WHERE batch_id = ANY($1::text[]) AND batch_id NOT IN (SELECT batch_id FROM new)
        """,
        [b[0] for b in unique],
        [b[1] for b in unique],
        [b[2] for b in unique],
        [b[3] for b in unique],
    )
    return {r["batch_id"]: (r["revision"], r["rendered_at"]) for r in rows}


async def purge_rendered(conn: Connection | Pool, *, older_than_days: int) -> int:
    status = await conn.execute(
        "DELETE FROM translate_rendered_batches WHERE rendered_at < now() - make_interval(days => $1)",
        older_than_days,
    )
    return int(status.split()[-1])


# --- glossary --------------------------------------------------------------------------------------


async def glossary_terms(conn: Connection | Pool, source: str, target: str) -> list[GlossaryTerm]:
    rows = await conn.fetch(
        """
        SELECT source_term, target_term FROM translate_glossary
        WHERE source_language = $1 AND target_language = $2
        """,
        source,
        target,
    )
    return [GlossaryTerm(r["source_term"], r["target_term"]) for r in rows]


async def glossary(conn: Connection | Pool, source: str | None) -> dict[tuple[str, str], dict[str, str]]:
    """(source language, term) -> {target language: target term}."""
    rows = await conn.fetch(
        """
        SELECT source_language, source_term, target_language, target_term FROM translate_glossary
        WHERE $1::text IS NULL OR source_language = $1
        ORDER BY source_language, source_term, target_language
        """,
        source,
    )
    out: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        out.setdefault((r["source_language"], r["source_term"]), {})[r["target_language"]] = r["target_term"]
    return out


async def put_glossary_term(
    conn: Connection, source: str, term: str, translations: dict[str, str], *, by: str
) -> None:
    """Replace the term's translations with ``translations``."""
    await conn.execute(
        "DELETE FROM translate_glossary WHERE source_language = $1 AND source_term = $2", source, term
    )
    await conn.execute(
        """
        INSERT INTO translate_glossary
            (source_language, source_term, target_language, target_term, updated_by)
        SELECT $1, $2, t.language, t.term, $5 FROM unnest($3::text[], $4::text[]) AS t(language, term)
        """,
        source,
        term,
        list(translations),
        list(translations.values()),
        by,
    )


async def delete_glossary_term(conn: Connection, source: str, term: str) -> bool:
    status = await conn.execute(
        "DELETE FROM translate_glossary WHERE source_language = $1 AND source_term = $2", source, term
    )
    return int(status.split()[-1]) > 0
