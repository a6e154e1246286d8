"""Structured JSON logs, one object per line, with the ``extra`` fields of each call.

Ids that let an operator follow one piece of work (``event_id``, ``notice_id``, ``batch_id``, ...) go in
``extra``, or for a whole block of code in :func:`bind`::

    with logs.bind(notice_id=notice.notice_id, batch_id=batch.batch_id):
        log.info("batch planned", extra={"recipients": len(batch.recipients)})

When tracing is on, each line also carries the current ``trace_id`` and ``span_id``.

Never pass personal data: residence card numbers never reach a service in clear, and LINE user ids are
logged only as counts. The formatter is a last line of defence, not a licence: it replaces the values of
keys named in :data:`REDACTED_KEYS` (numbers excepted: ``recipients=500`` is a count), and masks anything
in a message or a string value (exception text included) that looks like a residence card number, a LINE
user/group/room id or an API key.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn adds a copy with terminal colours
    "taskName",  # Python 3.12+ adds it; noise either way
}
#: Keys whose values never reach a log line, whatever they hold (compared lower-case).
REDACTED_KEYS = frozenset(
    {
        "residence_card_number",
        "card_number",
        "password",
        "secret",
        "token",
        "access_token",
        "channel_secret",
        "channel_access_token",
        "authorization",
        "api_key",
        "pepper",
        "database_url",
        "dsn",
        "line_user_id",
        "user_id",
        "recipients",
        "to",
        "display_name",
        "phone",
        "email",
        "address",
        "birth_date",
        "date_of_birth",
        "text",
    }
)
_REDACTED = "[redacted]"
#: Residence card numbers (upper-case, also spaced or hyphenated; lower-case would catch UUID tails), LINE
#: user/group/room ids, this system's API keys, and bearer credentials.
_SENSITIVE = re.compile(
    r"\b[A-Z]{2}[ \-]?\d{4}[ \-]?\d{4}[ \-]?[A-Z]{2}\b"
    r"|\b[UCR][0-9a-f]{32}\b"
    r"|\bgmk_[0-9a-f]+_[A-Za-z0-9_\-]+"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/\-]+=*"
)

_bound: ContextVar[dict[str, Any] | None] = ContextVar("gunma_log_ids", default=None)


@contextmanager
def bind(**ids: Any) -> Iterator[None]:
    """Add these fields to every log line written inside the block (this task and its children)."""
    current = _bound.get() or {}
    token = _bound.set({**current, **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def scrub(text: str) -> str:
    """``text`` with anything that looks like personal data or a credential masked."""
    return _SENSITIVE.sub(_REDACTED, text)


def _clean(key: str, value: Any) -> Any:
    if key.lower() in REDACTED_KEYS and not isinstance(value, int | float):  # counts are fine
        return _REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean("", v) for v in value]
    return value


def _trace_ids() -> dict[str, str]:
    from . import tracing  # late: tracing imports OpenTelemetry only when it is used

    return tracing.current_ids()


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        entry.update(_trace_ids())
        for key, value in (_bound.get() or {}).items():
            entry[key] = _clean(key, value)
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            entry[key] = _clean(key, value)
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=lambda v: scrub(str(v))).decode()


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter at INFO (every HTTP request, every rebalance step) drowns what matters.
    for noisy in ("aiokafka", "uvicorn.access", "httpx", "faststream.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
