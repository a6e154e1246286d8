"""Turning an upload's bytes, as they arrive, into CSV records: never the whole file in memory.

- Encoding: a declared charset wins (``text/csv; charset=shift_jis``); else a BOM (UTF-8, UTF-16);
  else the first non-ASCII bytes decide between UTF-8 and CP932 (Windows Shift_JIS, what Japanese
  Excel writes). While everything is ASCII the two agree, so nothing waits for the decision.
- Bytes that are invalid in the chosen encoding become U+FFFD; the row holding one is rejected with
  that reason (the rest of the file goes on).
- Records: data is cut after the last line break that is outside quotes (an even number of ``"``
  before it), so a quoted field with line breaks is never split between two pieces. In UTF-8 and
  CP932 neither ``\\n`` nor ``"`` can occur inside a multi-byte character, so :class:`ByteBlocks` cuts
  the raw bytes and the decoding can happen elsewhere (in a worker process); UTF-16 is cut as text by
  :class:`CsvStream`.
- Delimiter: a comma, or a tab when the header has tabs and no commas (Excel's "Unicode text").
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

#: Charset names clients send, to the codec that reads them. Shift_JIS means CP932 in practice: Windows
#: writes its extensions (①, ㈱, 髙) under that name.
_CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "cp932": "cp932",
    "windows-31j": "cp932",
    "ms932": "cp932",
    "utf-16": "utf-16",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}
#: Encodings whose raw bytes can be cut at ``\n`` and counted for ``"`` without decoding.
BYTE_SAFE = frozenset({"utf-8", "utf-8-sig", "cp932"})
#: How many bytes after the first non-ASCII byte are looked at before choosing UTF-8 or CP932.
SNIFF_BYTES = 256
#: The longest record accepted (a quote that never closes would otherwise swallow the file).
MAX_RECORD = 1 << 20


class CsvFormatError(ValueError):
    """The file cannot be read further (an encoding we do not know, a quote that never closes)."""


UNCLOSED_QUOTE = 'a quoted field never closes (a stray " in the file?)'
_RUNAWAY = "(a quoted field that never closes, or no line breaks?)"


def codec_for(charset: str) -> str:
    try:
        return _CHARSETS[charset.strip().strip('"').lower()]
    except KeyError:
        raise CsvFormatError(
            f"unsupported charset {charset!r}: send UTF-8 (with or without BOM), Shift_JIS/CP932 or UTF-16"
        ) from None


class Undecided:
    """The bytes so far do not tell the encoding yet."""


UNDECIDED = Undecided()


def sniff(data: bytes, *, final: bool) -> str | Undecided:
    """The encoding of a file starting with ``data``: a BOM's, else UTF-8 or CP932 by the first
    non-ASCII bytes; "ascii" while there are none (any ASCII-compatible reading is the same)."""
    if len(data) < 4 and not final:
        return UNDECIDED
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if data.isascii():
        return "ascii"
    first = next(i for i, byte in enumerate(data) if byte >= 0x80)
    if len(data) - first < SNIFF_BYTES and not final:
        return UNDECIDED
    sample = bytes(data[first : first + SNIFF_BYTES])
    try:
        # A multi-byte sequence cut at the end of the sample is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final and len(sample) == len(data) - first)
    except UnicodeDecodeError:
        return "cp932"
    return "utf-8"


def record_end(data: str | bytes | bytearray, *, start: int = 0) -> int:
    """Just after the last line break outside quotes (at or after ``start``); 0 if there is none."""
    newline: str | bytes = "\n" if isinstance(data, str) else b"\n"
    quote: str | bytes = '"' if isinstance(data, str) else b'"'
    end = len(data)
    while True:
        cut = data.rfind(newline, start, end)  # type: ignore[arg-type]
        if cut < 0:
            return 0
        if data.count(quote, 0, cut) % 2 == 0:  # type: ignore[arg-type]
            return cut + 1
        end = cut


def first_record_end(data: str | bytes | bytearray) -> int:
    """Just after the first line break outside quotes; 0 if there is none yet."""
    newline: str | bytes = "\n" if isinstance(data, str) else b"\n"
    quote: str | bytes = '"' if isinstance(data, str) else b'"'
    start = 0
    while True:
        cut = data.find(newline, start)  # type: ignore[arg-type]
        if cut < 0:
            return 0
        if data.count(quote, 0, cut) % 2 == 0:  # type: ignore[arg-type]
            return cut + 1
        start = cut + 1


def delimiter_of(header_line: str) -> str:
    return "\t" if "\t" in header_line and "," not in header_line else ","


@dataclass(slots=True)
class Record:
    number: int  # as a spreadsheet shows it: the header is row 1
    fields: list[str]
    #: why the csv module could not read this record (its fields are then empty)
    error: str | None = None
    #: the text around it held undecodable bytes (U+FFFD): its fields need a look
    suspect: bool = False


def records_of(text: str, *, delimiter: str, first_number: int) -> list[Record]:
    """The records in ``text`` (complete records only), numbered from ``first_number``."""
    suspect = "\ufffd" in text
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out: list[Record] = []
    number = first_number
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return out
        except csv.Error as error:
            out.append(Record(number, [], f"unreadable CSV: {error}"))
        else:
            out.append(Record(number, fields, suspect=suspect))
        number += 1


class CsvStream:
    """Push bytes in with :meth:`feed`, get complete records out; :meth:`close` at the end.

    Decodes in this process (any encoding, UTF-16 included).
    """

    def __init__(self, charset: str | None = None, *, max_record_chars: int = MAX_RECORD) -> None:
        self.encoding: str | None = codec_for(charset) if charset else None
        self.delimiter: str | None = None
        self._decoder: codecs.IncrementalDecoder | None = (
            codecs.getincrementaldecoder(self.encoding)(errors="replace") if self.encoding else None
        )
        self._pending = bytearray()  # undecoded bytes while the encoding is undecided
        self._carry = ""  # decoded text after the last complete record
        self._max_record_chars = max_record_chars
        self._records = 0
        #: why the rest of the file cannot be read; the records before it were returned
        self.failure: str | None = None

    @property
    def records_read(self) -> int:
        return self._records

    def feed(self, chunk: bytes) -> list[Record]:
        if self.failure:
            return []
        return self._parse(self._decode(chunk, final=False), final=False)

    def close(self) -> list[Record]:
        if self.failure:
            return []
        return self._parse(self._decode(b"", final=True), final=True)

    def _decode(self, chunk: bytes, *, final: bool) -> str:
        if self._decoder is not None:
            return self._decoder.decode(chunk, final)
        self._pending += chunk
        found = sniff(bytes(self._pending), final=final)
        if isinstance(found, Undecided):
            # What is known to be ASCII can be read now: any ASCII-compatible reading agrees.
            data = self._pending
            first = next((i for i, byte in enumerate(data) if byte >= 0x80), len(data))
            head = data[:first].decode("ascii") if len(data) >= 4 else ""
            if head:
                del self._pending[:first]
            return head
        if found == "ascii":
            text = self._pending.decode("ascii")
            self._pending = bytearray()
            if final:
                self.encoding = "utf-8"
            return text
        self.encoding = found
        self._decoder = codecs.getincrementaldecoder(found)(errors="replace")
        pending, self._pending = bytes(self._pending), bytearray()
        return self._decoder.decode(pending, final)

    def _parse(self, text: str, *, final: bool) -> list[Record]:
        text = self._carry + text if self._carry else text
        if final:
            complete, self._carry = text, ""
            if complete.count('"') % 2:
                complete, self._carry = text[: record_end(text)], ""
                self.failure = UNCLOSED_QUOTE
        else:
            cut = record_end(text)
            complete, self._carry = text[:cut], text[cut:]
            if len(self._carry) > self._max_record_chars:
                self.failure = f"longer than {self._max_record_chars} characters {_RUNAWAY}"
                self._carry = ""
        if self.failure:
            records = self._records_in(complete)
            self.failure = f"row {self._records + 1}: {self.failure}"
            return records
        return self._records_in(complete)

    def _records_in(self, complete: str) -> list[Record]:
        if not complete:
            return []
        if self.delimiter is None:
            self.delimiter = delimiter_of(complete.split("\n", 1)[0])
        records = records_of(complete, delimiter=self.delimiter, first_number=self._records + 1)
        self._records += len(records)
        return records


@dataclass(slots=True)
class Block:
    """Complete records as raw bytes, and how to read them."""

    data: bytes
    encoding: str


_NON_ASCII = re.compile(rb"[\x80-\xff]")


class ByteBlocks:
    """Push bytes in, get blocks of complete records out, still encoded (UTF-8, CP932 or ASCII).

    Decoding is left to whoever reads a block (a worker process). :attr:`encoding` becomes "utf-16"
    for a UTF-16 file, which cannot be cut as bytes: the caller then hands :meth:`take_rest` to a
    :class:`CsvStream`.
    """

    def __init__(self, charset: str | None = None, *, block_bytes: int = 256 * 1024) -> None:
        self.encoding: str | None = codec_for(charset) if charset else None
        self._buffer = bytearray()
        self._block_bytes = block_bytes
        self._bom_checked = False
        #: why the rest cannot be read; the blocks before it were returned (the reader adds the row)
        self.failure: str | None = None

    @property
    def byte_safe(self) -> bool:
        return self.encoding is None or self.encoding == "ascii" or self.encoding in BYTE_SAFE

    def feed(self, data: bytes) -> list[Block]:
        self._buffer += data
        return self._blocks(final=False)

    def close(self) -> list[Block]:
        return self._blocks(final=True)

    def take_rest(self) -> bytes:
        """What was fed and not yet returned (to hand over to :class:`CsvStream`)."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return rest  # a UTF-16 BOM is still in it: CsvStream sees it again

    def _ready(self, final: bool) -> bool:
        """Whether the encoding is known well enough to cut and label a block."""
        data = self._buffer
        if not self._bom_checked:
            if len(data) < 3 and not final:
                return False
            self._bom_checked = True
            if data.startswith(codecs.BOM_UTF8):
                del data[:3]  # not part of the first header
                self.encoding = self.encoding or "utf-8"
            elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and self.encoding is None:
                self.encoding = "utf-16"
        if self.encoding not in (None, "ascii"):
            return True
        found = _NON_ASCII.search(data)
        if found is None:
            self.encoding = "ascii"  # so far; either reading agrees
            return True
        first = found.start()
        sample = bytes(data[first : first + SNIFF_BYTES])
        if len(sample) < SNIFF_BYTES and not final:
            return False
        try:
            codecs.getincrementaldecoder("utf-8")().decode(sample, final and first + len(sample) == len(data))
            self.encoding = "utf-8"
        except UnicodeDecodeError:
            self.encoding = "cp932"
        return True

    def _blocks(self, *, final: bool) -> list[Block]:
        if self.failure or not self._ready(final) or not self.byte_safe or not self._buffer:
            return []
        if final:
            cut = len(self._buffer)
            if self._buffer.count(b'"') % 2:
                cut = record_end(self._buffer)
                self.failure = UNCLOSED_QUOTE
        else:
            if len(self._buffer) < self._block_bytes:
                return []
            cut = record_end(self._buffer, start=max(0, len(self._buffer) - self._block_bytes))
            cut = cut or record_end(self._buffer)
            if cut == 0:
                if len(self._buffer) > MAX_RECORD * 4:
                    self.failure = f"longer than {MAX_RECORD * 4} bytes {_RUNAWAY}"
                return []
        block = Block(bytes(self._buffer[:cut]), self.encoding or "ascii")
        del self._buffer[:cut]
        if self.failure:
            self._buffer = bytearray()
        return [block] if block.data else []
