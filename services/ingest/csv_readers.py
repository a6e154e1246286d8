"""Reading a CSV upload into blocks of converted rows, in this process or in worker processes.

Parsing and converting rows is the CPU-heavy part of an upload (a few tens of microseconds a row).
:class:`PoolReader` cuts the raw bytes into blocks of whole records (:class:`ByteBlocks`) and has
worker processes decode, parse and convert them, several blocks at a time; results come back in file
order, as columns (cheap to pass between processes). The service's own process then only moves
bytes, writes to PostgreSQL and relays to Kafka, and its event loop stays free for webhooks while a
big file goes through. :class:`InlineReader` does the same work in this process: when no pool is
configured, and for UTF-16 files (which cannot be cut as bytes).

A block is also the unit written to PostgreSQL: one transaction per block.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple

from .domain.csv_rows import Layout, RowConverter, resolve_header
from .domain.csv_stream import (
    Block,
    ByteBlocks,
    CsvStream,
    Record,
    delimiter_of,
    first_record_end,
    records_of,
)
from .domain.ids import partition_for
from .outbox import Columns

log = logging.getLogger(__name__)

#: A rejected row: its number in the block and (column, field, reason) for each problem.
Rejected = tuple[int, list[tuple[str, str, str]]]
#: A row repeating an earlier row of the same block: number, source event id, event id, earlier number.
Repeated = tuple[int, str, str, int]


class BlockResult(NamedTuple):
    """What became of the records of one block. Row numbers count from 1 within the block."""

    records: int
    blank: int
    rows: list[int]  # numbers of the accepted rows, in the order of ``columns``
    columns: Columns
    rejected: list[Rejected]
    repeated: list[Repeated]


def convert_block(
    converter: RowConverter, records: Sequence[Record], *, first_number: int = 1
) -> BlockResult:
    """Convert records into columns; rows repeating an earlier row of the block are set apart."""
    rows: list[int] = []
    columns = Columns([], [], [], [], [], [])
    event_ids, source_event_ids, fingerprints, keys, event_types, payloads = columns
    rejected: list[Rejected] = []
    repeated: list[Repeated] = []
    seen: dict[str, int] = {}
    blank = 0
    for offset, record in enumerate(records):
        number = first_number + offset
        if record.error is not None:
            rejected.append((number, [("(row)", "(row)", record.error)]))
            continue
        fields = record.fields
        if not "".join(fields).strip():
            blank += 1
            continue
        result = converter.convert(fields, check_replacement=record.suspect)
        if isinstance(result, list):
            rejected.append((number, [(e.column, e.field, e.reason) for e in result]))
            continue
        earlier = seen.get(result.event_id)
        if earlier is not None:
            repeated.append((number, result.source_event_id, result.event_id, earlier))
            continue
        seen[result.event_id] = number
        rows.append(number)
        event_ids.append(result.event_id)
        source_event_ids.append(result.source_event_id)
        fingerprints.append(result.fingerprint)
        keys.append(result.key)
        event_types.append(result.event_type)
        payloads.append(result.payload)
    return BlockResult(len(records), blank, rows, columns, rejected, repeated)


class Settings(NamedTuple):
    """What converting rows needs besides the rows."""

    source: str
    pepper: bytes
    default_reported_at: str


#: A block's result and the number of the record before its first (to number its rows in the file).
Placed = tuple[int, BlockResult]


class InlineReader:
    """Decode, parse and convert in this process (any encoding)."""

    def __init__(self, charset: str | None, settings: Settings, *, block_rows: int = 2000) -> None:
        self.stream = CsvStream(charset)
        self.settings = settings
        self.layout: Layout | None = None
        self._converter: RowConverter | None = None
        self._block_rows = block_rows
        self._pending: list[Record] = []

    @property
    def encoding(self) -> str | None:
        return self.stream.encoding

    @property
    def delimiter(self) -> str | None:
        return self.stream.delimiter

    @property
    def failure(self) -> str | None:
        """Why the rest of the file cannot be read (everything before it was returned)."""
        return self.stream.failure

    async def feed(self, data: bytes) -> list[Placed]:
        return await self._convert(self.stream.feed(data), final=False)

    async def close(self) -> list[Placed]:
        return await self._convert(self.stream.close(), final=True)

    async def _convert(self, records: list[Record], *, final: bool) -> list[Placed]:
        if self._converter is None:
            records = self._header(records)
        self._pending.extend(records)
        out: list[Placed] = []
        while self._converter is not None and self._pending:
            if len(self._pending) < self._block_rows and not final:
                break
            block, self._pending = self._pending[: self._block_rows], self._pending[self._block_rows :]
            first = block[0].number
            out.append((first - 1, convert_block(self._converter, block, first_number=1)))
            await asyncio.sleep(0)  # webhooks and the block being written move on meanwhile
        return out

    def _header(self, records: list[Record]) -> list[Record]:
        for position, record in enumerate(records):
            if record.error is None and "".join(record.fields).strip():
                self.layout = resolve_header(record.fields)
                s = self.settings
                self._converter = RowConverter(
                    self.layout, source=s.source, pepper=s.pepper, default_reported_at=s.default_reported_at
                )
                return records[position + 1 :]
        return []


# -- worker processes --

_pepper = b""
_converters: dict[tuple[tuple[str, ...], str, str], RowConverter] = {}


def _init_worker(pepper: bytes) -> None:
    global _pepper  # the worker's one piece of state, set once at start
    _pepper = pepper


def _ping() -> int:
    return os.getpid()


class _Job(NamedTuple):
    header: tuple[str, ...]
    source: str
    default_reported_at: str
    encoding: str
    delimiter: str
    data: bytes


def _convert_job(job: _Job) -> BlockResult:
    """In a worker: decode and convert one block."""
    key = (job.header, job.source, job.default_reported_at)
    converter = _converters.get(key)
    if converter is None:
        if len(_converters) > 16:
            _converters.clear()
        converter = _converters[key] = RowConverter(
            resolve_header(job.header),
            source=job.source,
            pepper=_pepper,
            default_reported_at=job.default_reported_at,
        )
    text = job.data.decode(job.encoding, errors="replace")
    return convert_block(converter, records_of(text, delimiter=job.delimiter, first_number=1))


def _partitions(keys: list[bytes], count: int) -> list[int]:
    return [partition_for(key, count) for key in keys]


class ParsePool:
    """Worker processes for CSV rows (and the relay's partition hashing of large rounds)."""

    def __init__(self, processes: int, pepper: bytes) -> None:
        self.processes = processes
        self._pepper = pepper
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    async def start(self) -> None:
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        # Start every worker now (imports take a second), not on the first upload.
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ping) for _ in range(self.processes)))

    def _new_executor(self) -> concurrent.futures.ProcessPoolExecutor:
        # spawn, not fork: the service's process has an event loop, sockets and threads.
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._pepper,),
        )

    def _running(self) -> concurrent.futures.ProcessPoolExecutor:
        """The executor; a new one if a worker died (killed, out of memory): the pool heals itself."""
        if self._executor is None:
            raise RuntimeError("the parse pool is not running")
        if getattr(self._executor, "_broken", False):
            log.warning("a parse worker died; starting a new pool")
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
        return self._executor

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def convert(self, job: _Job) -> asyncio.Future[BlockResult]:
        return asyncio.get_running_loop().run_in_executor(self._running(), _convert_job, job)

    async def partitions(self, keys: list[bytes], count: int) -> list[int]:
        if self._executor is None:
            return _partitions(keys, count)
        return await asyncio.get_running_loop().run_in_executor(self._running(), _partitions, keys, count)


class PoolReader:
    """Cut the bytes into blocks here; decode, parse and convert them in the pool, in order."""

    def __init__(self, charset: str | None, settings: Settings, pool: ParsePool) -> None:
        self.blocks = ByteBlocks(charset)
        self.settings = settings
        self.pool = pool
        self._layout: Layout | None = None
        self._delimiter: str | None = None
        self._inline: InlineReader | None = None  # UTF-16: not cut as bytes
        self._converter: RowConverter | None = None
        self._records = 0  # records placed so far (the header and blank lines before it included)
        self._in_flight: deque[asyncio.Future[BlockResult]] = deque()
        self._window = max(2, pool.processes * 2)
        self._failure: str | None = None

    @property
    def encoding(self) -> str | None:
        if self._inline is not None:
            return self._inline.encoding
        encoding = self.blocks.encoding
        return "utf-8" if encoding == "ascii" else encoding

    @property
    def layout(self) -> Layout | None:
        return self._inline.layout if self._inline is not None else self._layout

    @property
    def failure(self) -> str | None:
        """Why the rest of the file cannot be read (everything before it was returned)."""
        return self._inline.failure if self._inline is not None else self._failure

    @property
    def delimiter(self) -> str | None:
        return self._inline.delimiter if self._inline is not None else self._delimiter

    async def feed(self, data: bytes) -> list[Placed]:
        if self._inline is not None:
            return await self._inline.feed(data)
        if self._failure:
            return []
        out = self._submit(self.blocks.feed(data))
        if not self.blocks.byte_safe:
            return out + await self._hand_over(final=False)
        if self.blocks.failure:
            return out + await self._stop()
        while self._in_flight and (self._in_flight[0].done() or len(self._in_flight) >= self._window):
            out.append(self._place(await self._in_flight.popleft()))
        return out

    async def close(self) -> list[Placed]:
        if self._inline is not None:
            return await self._inline.close()
        if self._failure:
            return []
        out = self._submit(self.blocks.close())
        if not self.blocks.byte_safe:
            return out + await self._hand_over(final=True)
        if self.blocks.failure:
            return out + await self._stop()
        while self._in_flight:
            out.append(self._place(await self._in_flight.popleft()))
        return out

    async def _stop(self) -> list[Placed]:
        """The file breaks here: finish the blocks before, then say where."""
        out: list[Placed] = []
        while self._in_flight:
            out.append(self._place(await self._in_flight.popleft()))
        self._failure = f"row {self._records + 1}: {self.blocks.failure}"
        return out

    async def _hand_over(self, *, final: bool) -> list[Placed]:
        self._inline = InlineReader(None, self.settings)
        out = await self._inline.feed(self.blocks.take_rest())
        if final:
            out.extend(await self._inline.close())
        return out

    def _place(self, result: BlockResult) -> Placed:
        base = self._records
        self._records += result.records
        return base, result

    def _submit(self, blocks: list[Block]) -> list[Placed]:
        out: list[Placed] = []
        for block in blocks:
            if self._layout is None:
                out.extend(self._first_block(block))
                continue
            assert self._delimiter is not None
            s = self.settings
            job = _Job(
                tuple(self._layout.headers),
                s.source,
                s.default_reported_at,
                block.encoding,
                self._delimiter,
                block.data,
            )
            self._in_flight.append(self.pool.convert(job))
        return out

    def _first_block(self, block: Block) -> list[Placed]:
        """The header is read here, and the rest of the first block converted here too."""
        text = block.data.decode(block.encoding, errors="replace")
        while self._layout is None and text:
            end = first_record_end(text) or len(text)
            line, text = text[:end], text[end:]
            records = records_of(line, delimiter=delimiter_of(line), first_number=1)
            self._records += max(1, len(records))
            if records and records[0].error is None and "".join(records[0].fields).strip():
                self._delimiter = delimiter_of(line)
                self._layout = resolve_header(records[0].fields)
                s = self.settings
                self._converter = RowConverter(
                    self._layout, source=s.source, pepper=s.pepper, default_reported_at=s.default_reported_at
                )
        if self._converter is None or not text:
            return []
        assert self._delimiter is not None
        return [
            self._place(
                convert_block(self._converter, records_of(text, delimiter=self._delimiter, first_number=1))
            )
        ]
