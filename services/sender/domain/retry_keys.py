"""X-Line-Retry-Key: one deterministic key per batch, so a resend after a crash is recognised by LINE.

LINE remembers an accepted key for 24 hours and answers a second request with the same key with 409 and
the first request's id in ``x-line-accepted-request-id``. The key is a UUIDv5 of the batch id under a fixed
namespace: every process, replica and restart derives the same key for the same batch.
"""

from __future__ import annotations

import uuid

#: Never change: a different namespace gives every batch a new key, and LINE would send them again.
RETRY_KEY_NAMESPACE = uuid.UUID("3b0f3c2e-5d2a-5b8e-9f44-6c1d2a7e8b90")


def retry_key_for(batch_id: str) -> uuid.UUID:
    """The retry key of a batch (``notice_id:language:batch_no``)."""
    if not batch_id:
        raise ValueError("a batch id is required")
    return uuid.uuid5(RETRY_KEY_NAMESPACE, batch_id)
