"""Reads LINE's monthly quota now and then so ``gunma_sender_quota_*`` stay current for the dashboard.

The sender also reads the quota when it must (a large notice, a closed quota gate); every read updates
the gauges (``LineApi.quota``). Between those, this loop asks every ``quota_sample_seconds``: two cheap
GETs, not counted against the message quota. Failures only delay the next sample; they never affect
sending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .line_api import LineApi, LineUnavailable

log = logging.getLogger(__name__)


async def sample_quota(
    api: LineApi, every: float, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> None:
    """Until cancelled: read the quota (which records it), then wait ``every`` seconds."""
    while True:
        try:
            quota = await api.quota()
            log.debug("LINE quota sampled", extra={"remaining": quota.remaining, "used": quota.used})
        except LineUnavailable as error:
            log.info("LINE quota not read; next try later", extra={"error": str(error)})
        except Exception:  # a metric must never take the sender down
            log.warning("LINE quota sample failed", exc_info=True)
        await sleep(every)
