"""One CSV upload, streamed: bytes in, chunks of rows to the outbox, a per-row report spooled to disk.

Memory stays flat whatever the file's size: the body is read as it arrives, rows are decoded and
converted as they complete (in worker processes when there is a pool, see csv_readers), every
``csv_chunk_rows`` rows go to PostgreSQL in one transaction (while the next chunk is being read), and
the report is written to a temporary file that spills to disk. The response (summary first, then the
report lines) is sent only after every chunk has committed, so its 200 means what it says.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Literal

import orjson

from services.common.auth import Principal

from . import metrics, outbox
from .csv_readers import BlockResult, InlineReader, Placed, PoolReader, Settings
from .domain.csv_rows import COLUMNS, Layout
from .domain.csv_stream import CsvFormatError
from .http_common import Ingest, feed_source

log = logging.getLogger(__name__)

ReportMode = Literal["problems", "all"]
_SPOOL_IN_MEMORY = 4 * 1024 * 1024


@dataclass
class Counts:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    blank: int = 0


def _line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj) + b"\n"


class CsvUpload:
    def __init__(
        self,
        ingest: Ingest,
        principal: Principal,
        *,
        charset: str | None,
        report: ReportMode,
        filename: str | None,
    ) -> None:
        self.ingest = ingest
        self.settings = ingest.settings
        self.principal = principal
        self.source = feed_source(principal)
        self.report_mode = report
        self.filename = filename
        self.upload_id = uuid.uuid4()
        self.started = time.perf_counter()
        self.started_at = datetime.now(UTC)
        settings = Settings(self.source, self.settings.pepper, self.started_at.isoformat())
        pool = ingest.parse_pool
        self.reader: InlineReader | PoolReader = (
            PoolReader(charset, settings, pool)
            if pool is not None
            else InlineReader(charset, settings, block_rows=self.settings.csv_chunk_rows)
        )
        self.counts = Counts()
        self.last_row = 1
        self._writing: asyncio.Task[None] | None = None
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, mode="w+b")  # noqa: SIM115 - closed by report()

    # -- lifecycle --

    async def begin(self) -> None:
        await self.ingest.pool.execute(
            "INSERT INTO ingest_uploads (upload_id, source, key_id, filename) VALUES ($1, $2, $3, $4)",
            self.upload_id,
            self.source,
            self.principal.key_id,
            self.filename,
        )

    @property
    def layout(self) -> Layout | None:
        return self.reader.layout

    async def feed(self, data: bytes) -> None:
        await self._take(await self.reader.feed(data))
        self._check()

    async def finish(self) -> None:
        await self._take(await self.reader.close())
        self._check()
        if self.layout is None:
            raise CsvFormatError("the file is empty: no header row")
        await self._drain()
        await self._record_outcome("completed", None)
        elapsed = time.perf_counter() - self.started
        rate = self.counts.rows / elapsed if elapsed > 0 else 0.0
        metrics.CSV_UPLOADS.labels("completed").inc()
        metrics.CSV_ROWS_PER_SECOND.set(rate)
        log.info(
            "csv upload completed",
            extra={
                "upload_id": str(self.upload_id),
                "source": self.source,
                "rows": self.counts.rows,
                "accepted": self.counts.accepted,
                "duplicates": self.counts.duplicates,
                "rejected": self.counts.rejected,
                "seconds": round(elapsed, 3),
                "rows_per_second": round(rate),
            },
        )

    async def abort(self, reason: str, *, keep_rows: bool) -> None:
        """Stop after the block being written; ``keep_rows``: if not, it may fail too (no database)."""
        try:
            if keep_rows:
                await self._drain()
            elif self._writing is not None:
                self._writing.cancel()
                await asyncio.gather(self._writing, return_exceptions=True)
        finally:
            await self._record_outcome("failed", reason[:2000])
            metrics.CSV_UPLOADS.labels("failed").inc()
            log.warning(
                "csv upload failed",
                extra={"upload_id": str(self.upload_id), "source": self.source, "reason": reason[:300]},
            )

    def close(self) -> None:
        self._spool.close()

    # -- rows --

    def _check(self) -> None:
        if self.reader.failure:
            raise CsvFormatError(self.reader.failure)

    async def _take(self, placed: list[Placed]) -> None:
        for base, block in placed:
            await self._drain()  # one block in flight: blocks commit in file order
            self.last_row = base + block.records
            self.counts.rows += block.records - block.blank
            self.counts.blank += block.blank
            self.counts.rejected += len(block.rejected)
            self.counts.duplicates += len(block.repeated)
            metrics.count("feed_csv", "rejected", len(block.rejected))
            metrics.count("feed_csv", "duplicate", len(block.repeated))
            self._writing = asyncio.create_task(self._write(base, block))

    async def _drain(self) -> None:
        if self._writing is not None:
            task, self._writing = self._writing, None
            await task

    async def _write(self, base: int, block: BlockResult) -> None:
        columns = block.columns
        fresh = await outbox.record_columns(
            self.ingest.pool, topic="employment", source=self.source, columns=columns
        )
        accepted = len(fresh)
        self.counts.accepted += accepted
        self.counts.duplicates += len(columns.event_ids) - accepted
        metrics.count("feed_csv", "accepted", accepted)
        metrics.count("feed_csv", "duplicate", len(columns.event_ids) - accepted)
        lines: list[tuple[int, bytes]] = []
        for number, problems in block.rejected:
            errors = [{"column": c, "field": f, "reason": r} for c, f, r in problems]
            lines.append(
                (base + number, _line({"row": base + number, "status": "rejected", "errors": errors}))
            )
        for number, source_event_id, event_id, first in block.repeated:
            line = {
                "row": base + number,
                "status": "duplicate",
                "source_event_id": source_event_id,
                "event_id": event_id,
                "detail": f"the same event as row {base + first}",
            }
            lines.append((base + number, _line(line)))
        if accepted != len(columns.event_ids) or self.report_mode == "all":
            lines.extend(await self._outcomes(base, block, fresh))
        lines.sort(key=lambda item: item[0])
        self._spool.writelines(line for _, line in lines)

    async def _outcomes(self, base: int, block: BlockResult, fresh: set[str]) -> list[tuple[int, bytes]]:
        """Report lines for rows accepted earlier (and, with report=all, for every accepted row)."""
        columns = block.columns
        # A row identified by its content hash cannot differ from what was accepted; only rows with the
        # feed's own event id need a look at the first version.
        before = await outbox.earlier(
            self.ingest.pool,
            [
                event_id
                for event_id, source_event_id in zip(columns.event_ids, columns.source_event_ids, strict=True)
                if event_id not in fresh and not source_event_id.startswith("sha256:")
            ],
        )
        everything = self.report_mode == "all"
        lines: list[tuple[int, bytes]] = []
        for position, event_id in enumerate(columns.event_ids):
            number = base + block.rows[position]
            if event_id in fresh:
                if everything:
                    lines.append((number, _line({"row": number, "status": "accepted", "event_id": event_id})))
                continue
            earlier = before.get(event_id)
            same = earlier is None or earlier.fingerprint == columns.fingerprints[position]
            line = {
                "row": number,
                "status": "duplicate",
                "source_event_id": columns.source_event_ids[position],
                "event_id": event_id,
                "detail": "already accepted"
                if same
                else "already accepted with different content; the first version was kept",
            }
            lines.append((number, _line(line)))
        return lines

    async def _record_outcome(self, status: str, error: str | None) -> None:
        await self.ingest.pool.execute(
            """
            UPDATE ingest_uploads SET status = $2, rows = $3, accepted = $4, duplicates = $5, rejected = $6,
                   encoding = $7, error = $8, finished_at = now()
            WHERE upload_id = $1
            """,
            self.upload_id,
            status,
            self.counts.rows,
            self.counts.accepted,
            self.counts.duplicates,
            self.counts.rejected,
            self.reader.encoding,
            error,
        )

    # -- the answer --

    def summary(self) -> dict[str, Any]:
        layout = self.layout
        return {
            "kind": "summary",
            "upload_id": str(self.upload_id),
            "rows": self.counts.rows,
            "accepted": self.counts.accepted,
            "duplicates": self.counts.duplicates,
            "rejected": self.counts.rejected,
            "blank_rows": self.counts.blank,
            "encoding": self.reader.encoding,
            "delimiter": self.reader.delimiter,
            "columns": layout.mapping if layout else {},
            "ignored_columns": {
                "personal": list(layout.personal) if layout else [],
                "unknown": list(layout.unknown) if layout else [],
            },
            "report": self.report_mode,
            "seconds": round(time.perf_counter() - self.started, 3),
        }

    def first_lines(self, limit: int) -> list[dict[str, Any]]:
        """The first report lines (for a problem answer when nothing was accepted)."""
        self._spool.seek(0)
        found: list[dict[str, Any]] = []
        for raw in self._spool:
            found.append(orjson.loads(raw))
            if len(found) >= limit:
                break
        return found

    async def report(self) -> AsyncIterator[bytes]:
        """The summary line, then every report line; the spool is closed at the end."""
        try:
            yield _line(self.summary())
            self._spool.seek(0)
            while True:
                block = self._spool.read(256 * 1024)
                if not block:
                    break
                yield block
        finally:
            self._spool.close()


def header_table() -> list[dict[str, Any]]:
    """The accepted header names per field (served in the OpenAPI description and docs)."""
    return [
        {"field": c.field, "japanese": list(c.japanese), "english": list(c.english), "required": c.required}
        for c in COLUMNS
    ]
