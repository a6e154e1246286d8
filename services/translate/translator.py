"""Each (notice, language) translated once: approved → memory → machine → fallback.

The stored translation (``translate_translations``) is the source of truth across replicas. Resolving a
(notice, language, source text) that has no current translation happens

- once per process at a time: concurrent callers for the same key share one task (single-flight);
- once across replicas: under a PostgreSQL advisory lock on the key, re-reading the table first, and a
  unique index that admits one machine/memory row per key.

The text comes from, in order: a human-approved translation of this exact source text; the source
itself (a notice written in the reader's language); the translation memory and the machine
translation backend configured for the language (segment by segment, placeholders and glossary terms
protected); and else the fallback chain of the language, headed at rendering time by a line in the
reader's language. A fallback caused by a failure (outage, budget, mangled placeholders) is reused by
later batches until ``fallback_retry_seconds`` passed, then machine translation is tried again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from services.common.contracts import NoticeContent, utcnow
from services.common.db import Connection, Pool

from . import metrics, store
from .backends import BackendError, RequestRejected
from .backends.engine import Engine
from .domain.content import assemble, segments, source_hash, text_hash
from .domain.fallback import chain_for
from .domain.protect import Protected, TokensMangled, check, protect, restore
from .store import Key, NewTranslation, TranslationRow

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """At most one running task per key; other callers await the same result."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[V]] = {}

    def in_flight(self) -> int:
        return len(self._running)

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        task = self._running.get(key)
        if task is None:

            async def wrapped() -> V:
                return await work()

            task = asyncio.ensure_future(wrapped())
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        # shield: a cancelled waiter (its batch was abandoned) does not cancel the others' work
        return await asyncio.shield(task)


def lock_key(key: Key) -> int:
    """A 64-bit advisory lock id for a key (signed, as PostgreSQL's bigint)."""
    digest = hashlib.sha256(f"translate\x1f{key[0]}\x1f{key[1]}\x1f{key[2]}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class Machine:
    title: str
    body: str
    #: "memory" when every segment came from the memory, else "machine"
    source: str
    engine: str


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str
    #: worth trying again later (outage, budget) rather than a lasting condition (no engine)
    retryable: bool


class Translator:
    def __init__(
        self,
        pool: Pool,
        *,
        engines: Mapping[str, Engine],
        backend_for: Callable[[str], str | None],
        chains: Mapping[str, Sequence[str]] | None = None,
        fallback_retry_seconds: float = 600.0,
        concurrency: int = 4,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pool = pool
        self.engines = dict(engines)
        self.backend_for = backend_for
        self.chains = dict(chains or {})
        self.fallback_retry = timedelta(seconds=fallback_retry_seconds)
        self.clock = clock
        self._flight: SingleFlight[Key, TranslationRow] = SingleFlight()
        #: segments being sent to an engine by some resolution of this process
        self._segments: dict[tuple[str, str, str, str], asyncio.Future[str | None]] = {}
        self._slots = asyncio.Semaphore(concurrency)

    # --- which translation to use --------------------------------------------------------------

    def route_signature(self, language: str) -> str:
        """What a fallback of ``language`` was made under: a change of backend tries again."""
        return self.backend_for(language) or ""

    def is_current(self, row: TranslationRow) -> bool:
        """A stored translation serves further batches unless it is a fallback due for a retry."""
        if not row.is_fallback:
            return True
        if row.retry_at is not None and row.retry_at <= self.clock():
            return False
        return row.route == self.route_signature(row.language)

    async def translations_for(
        self, wanted: Sequence[tuple[uuid.UUID, NoticeContent, str]]
    ) -> dict[Key, TranslationRow]:
        """The translation to render each (notice, content, language) with; translates the missing."""
        contents: dict[Key, NoticeContent] = {}
        for notice_id, content, language in wanted:
            contents.setdefault((notice_id, language, source_hash(content)), content)
        rows = await store.current_translations(self.pool, contents)
        todo = [key for key in contents if key not in rows or not self.is_current(rows[key])]
        if todo:
            resolved = await asyncio.gather(*(self.resolve(key[0], contents[key], key[1]) for key in todo))
            rows.update(dict(zip(todo, resolved, strict=True)))
        return rows

    async def resolve(self, notice_id: uuid.UUID, content: NoticeContent, language: str) -> TranslationRow:
        """The current translation of (notice, language), translating it if there is none (once)."""
        key: Key = (notice_id, language, source_hash(content))
        return await self._flight.run(key, lambda: self._resolve(key, content))

    async def _resolve(self, key: Key, content: NoticeContent) -> TranslationRow:
        row, created = await self._resolve_locked(key, content)
        if created and not row.is_fallback:
            # Languages of this notice that fell back to another may now fall back to this one
            # (after the commit, in a statement of its own: no locks held while others wait).
            await store.expire_fallbacks(self.pool, key[0])
        return row

    async def _resolve_locked(self, key: Key, content: NoticeContent) -> tuple[TranslationRow, bool]:
        """(the current translation, whether this call stored it)."""
        async with self._slots, self.pool.acquire() as conn, conn.transaction():
            # Another replica may be translating the same key: wait for it, then use its result.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(key))
            existing = await store.current_translation(conn, key)
            if existing is not None and self.is_current(existing):
                return existing, False
            new = await self.compute(conn, content, key[1], notice_id=key[0])
            if (
                existing is not None
                and existing.is_fallback
                and new.source == "fallback"
                and (existing.title, existing.body, existing.text_language)
                == (new.title, new.body, new.text_language)
            ):
                # Still a fallback, and the same text: keep the revision (batches stay identical).
                kept = await store.postpone_fallback(
                    conn, existing.revision, retry_at=new.retry_at, route=new.route, reason=new.reason
                )
                return kept, False
            row = await store.insert_translation(conn, key, new)
            metrics.TRANSLATIONS.labels(row.source).inc()
            log.info(
                "translation stored",
                extra={
                    "notice_id": str(key[0]),
                    "language": key[1],
                    "source": row.source,
                    "text_language": row.text_language,
                    "engine": row.engine,
                    "reason": row.reason,
                },
            )
            return row, row.revision != (existing.revision if existing else None)

    # --- where a text comes from ---------------------------------------------------------------

    async def compute(
        self, conn: Connection, content: NoticeContent, language: str, *, notice_id: uuid.UUID | None
    ) -> NewTranslation:
        """The best text for ``language`` now (nothing of the notice's own translations is stored)."""
        source = content.source_language
        if language == source:
            # Staff wrote it in this language: the original counts as approved.
            return NewTranslation(content.title, content.body, "approved", source)
        digest = source_hash(content)
        if notice_id is not None:
            human = await store.approved_human(conn, notice_id, language, digest)
            if human is not None:
                return NewTranslation(
                    human.title, human.body, "approved", language, human_translation_id=human.id
                )
        direct = await self.machine(conn, content, language)
        if isinstance(direct, Machine):
            return NewTranslation(
                direct.title,
                direct.body,
                direct.source,
                language,
                engine=direct.engine,
                route=self.route_signature(language),
            )
        retry_at = self.clock() + self.fallback_retry if direct.retryable else None
        title, body, shown = await self._fallback_text(conn, content, language, notice_id, digest)
        return NewTranslation(
            title,
            body,
            "fallback",
            shown,
            route=self.route_signature(language),
            retry_at=retry_at,
            reason=direct.reason[:1000],
        )

    async def _fallback_text(
        self,
        conn: Connection,
        content: NoticeContent,
        language: str,
        notice_id: uuid.UUID | None,
        digest: str,
    ) -> tuple[str, str, str]:
        """(title, body, language) of the first language of the chain that has a text."""
        for candidate in chain_for(language, self.chains):
            if candidate == content.source_language:
                return content.title, content.body, candidate
            if notice_id is not None:
                stored = await store.current_translation(conn, (notice_id, candidate, digest))
                if stored is not None and not stored.is_fallback:
                    return stored.title, stored.body, candidate
                human = await store.approved_human(conn, notice_id, candidate, digest)
                if human is not None:
                    return human.title, human.body, candidate
            found = await self.machine(conn, content, candidate)
            if isinstance(found, Machine):
                return found.title, found.body, candidate
        return content.title, content.body, content.source_language

    async def machine(self, conn: Connection, content: NoticeContent, target: str) -> Machine | Failure:
        """Translation memory, then the engine configured for ``target``; segments with placeholders
        and glossary terms protected. Never raises for an engine's failure: it says why instead."""
        source = content.source_language
        backend = self.backend_for(target)
        if backend is None:
            return Failure(f"no machine translation configured for {target}", retryable=False)
        engine = self.engines[backend]
        try:
            route = await engine.route(source, target)
        except BackendError as error:
            return Failure(str(error), retryable=True)
        if route is None:
            return Failure(f"{engine.name} cannot translate {source} to {target}", retryable=False)
        terms = await store.glossary_terms(conn, source, target)
        protected = [protect(s, terms, source_language=source) for s in segments(content.title, content.body)]
        texts = [p.text for p in protected]
        used_engine = False
        for hop_source, hop_target in route:
            hashes = [text_hash(t) for t in texts]
            known = await store.memory_lookup(conn, engine.name, hop_source, hop_target, hashes)
            metrics.MEMORY.labels("hit").inc(sum(1 for h in hashes if h in known))
            await store.memory_used(self.pool, engine.name, hop_source, hop_target, list(known))
            missing = list(dict.fromkeys(t for t, h in zip(texts, hashes, strict=True) if h not in known))
            if missing:
                metrics.MEMORY.labels("miss").inc(len(missing))
                outcome = await self._segments_via_engine(conn, engine, hop_source, hop_target, missing)
                if isinstance(outcome, Failure):
                    return outcome
                translated, called = outcome
                used_engine = used_engine or called
                known.update(translated)
            texts = [known[h] for h in hashes]
        try:
            final = [restore(text, p) for text, p in zip(texts, protected, strict=True)]
        except TokensMangled as error:
            metrics.TOKENS_MANGLED.labels(engine.name).inc()
            return Failure(f"{engine.name}: {error}", retryable=False)
        title, body = assemble(final)
        return Machine(title, body, "machine" if used_engine else "memory", engine.name)

    async def _segments_via_engine(
        self, conn: Connection, engine: Engine, source: str, target: str, texts: list[str]
    ) -> tuple[dict[str, str], bool] | Failure:
        """Translate segments the memory missed: {text hash: translation}, and whether the engine
        was called. A segment another resolution in this process is already sending (es and pt-BR
        both go through en→es) is awaited instead of sent twice."""
        loop = asyncio.get_running_loop()
        theirs: dict[str, asyncio.Future[str | None]] = {}
        mine: dict[str, asyncio.Future[str | None]] = {}
        for text in texts:
            segment_key = (engine.name, source, target, text_hash(text))
            running = self._segments.get(segment_key)
            if running is not None:
                theirs[text] = running
            else:
                mine[text] = self._segments[segment_key] = loop.create_future()
        out: dict[str, str] = {}
        failure: Failure | None = None
        try:
            if mine:
                try:
                    outputs = await engine.translate(list(mine), source, target)
                except BackendError as error:
                    lasting = isinstance(error, RequestRejected) and error.status not in (401, 403)
                    return Failure(str(error), retryable=not lasting)
                fresh: list[tuple[str, str, str]] = []
                for text, output in zip(mine, outputs, strict=True):
                    try:
                        check(output, Protected(text, {}))
                    except TokensMangled as error:
                        metrics.TOKENS_MANGLED.labels(engine.name).inc()
                        # Deterministic for this engine and text: a human translation is the remedy.
                        failure = failure or Failure(
                            f"{engine.name} {source}->{target}: {error}", retryable=False
                        )
                        continue
                    mine[text].set_result(output)
                    fresh.append((text_hash(text), text, output))
                    out[text_hash(text)] = output
                await store.memory_store(conn, engine.name, source, target, fresh)
        finally:
            for text, future in mine.items():
                if not future.done():
                    future.set_result(None)  # failed: whoever waits for it fails too
                self._segments.pop((engine.name, source, target, text_hash(text)), None)
        if failure is not None:
            return failure
        for text, future in theirs.items():
            shared = await asyncio.shield(future)
            if shared is None:
                return Failure(f"{engine.name} {source}->{target}: a shared segment failed", retryable=True)
            out[text_hash(text)] = shared
        return out, bool(mine)

    async def preview(self, content: NoticeContent, language: str) -> NewTranslation:
        """What ``content`` would read like in ``language`` (the memory is used and filled; no
        notice translation is stored)."""
        async with self.pool.acquire() as conn:
            return await self.compute(conn, content, language, notice_id=None)
