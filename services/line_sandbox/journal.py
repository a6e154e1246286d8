"""An append-only journal of the sandbox's state changes, replayed at start-up.

Each entry: 4-byte big-endian length of a JSON header, the header, 4-byte length of a binary payload,
the payload (packed recipients for deliveries, empty otherwise). Written with one ``write`` per entry and
flushed to the OS at once, so the journal survives the sandbox being killed (not the machine losing
power: there is no fsync, this is a development tool). A torn last entry is ignored on replay.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

log = logging.getLogger(__name__)
_LEN = struct.Struct(">I")


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def append(self, header: dict[str, Any], payload: bytes = b"") -> None:
        if self._file is None:
            return
        head = orjson.dumps(header)
        self._file.write(_LEN.pack(len(head)) + head + _LEN.pack(len(payload)) + payload)
        self._file.flush()

    def truncate(self) -> None:
        """Forget everything (the sandbox was reset)."""
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.flush()

    def replay(self) -> Iterator[tuple[dict[str, Any], bytes]]:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        offset = 0
        while offset + 4 <= len(data):
            (head_len,) = _LEN.unpack_from(data, offset)
            start = offset + 4
            if start + head_len + 4 > len(data):
                break
            header = orjson.loads(data[start : start + head_len])
            (payload_len,) = _LEN.unpack_from(data, start + head_len)
            payload_start = start + head_len + 4
            if payload_start + payload_len > len(data):
                break
            yield header, data[payload_start : payload_start + payload_len]
            offset = payload_start + payload_len
        if offset != len(data):
            log.warning("journal ends with a torn entry; ignored", extra={"bytes": len(data) - offset})
