"""Monthly character budgets per backend, in PostgreSQL: shared by every replica, kept across restarts.

Characters are reserved before a request goes out (atomically: the reservation fails when it would
exceed the limit) and given back if the request fails, so replicas together never overspend. Months
are calendar months in the configured time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.common.contracts import utcnow
from services.common.db import Pool

from . import metrics


class BudgetStore:
    def __init__(
        self,
        pool: Pool,
        *,
        limits: dict[str, int],
        zone: ZoneInfo,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._pool = pool
        self.limits = dict(limits)
        self._zone = zone
        self._clock = clock

    def month(self) -> date:
        now = self._clock().astimezone(self._zone)
        return date(now.year, now.month, 1)

    def limit(self, backend: str) -> int | None:
        return self.limits.get(backend)

    async def reserve(self, backend: str, characters: int) -> date | None:
        """Reserve ``characters`` this month; the month reserved in, or None when over the limit."""
        month = self.month()
        limit = self.limit(backend)
        if limit is not None and characters > limit:
            return None
        used = await self._pool.fetchval(
            """
            INSERT INTO translate_budget_usage AS b (backend, month, characters)
            VALUES ($1, $2, $3)
            ON CONFLICT (backend, month) DO UPDATE
                SET characters = b.characters + EXCLUDED.characters, updated_at = now()
                WHERE $4::bigint IS NULL OR b.characters + EXCLUDED.characters <= $4::bigint
            RETURNING characters
            """,
            backend,
            month,
            characters,
            limit,
        )
        if used is None:
            self._publish(backend, await self.used(backend))
            return None
        self._publish(backend, int(used))
        return month

    async def release(self, backend: str, month: date, characters: int) -> None:
        """Give back a reservation whose request failed (the provider did not bill it)."""
        used = await self._pool.fetchval(
            """
            UPDATE translate_budget_usage SET characters = GREATEST(0, characters - $3), updated_at = now()
            WHERE backend = $1 AND month = $2
            RETURNING characters
            """,
            backend,
            month,
            characters,
        )
        if used is not None and month == self.month():
            self._publish(backend, int(used))

    async def exhaust(self, backend: str) -> None:
        """The provider said its quota is used up: record the month as spent (when a limit is set)."""
        limit = self.limit(backend)
        if limit is None:
            return
        await self._pool.execute(
            """
            INSERT INTO translate_budget_usage AS b (backend, month, characters) VALUES ($1, $2, $3)
            ON CONFLICT (backend, month) DO UPDATE
                SET characters = GREATEST(b.characters, EXCLUDED.characters), updated_at = now()
            """,
            backend,
            self.month(),
            limit,
        )
        self._publish(backend, limit)

    async def used(self, backend: str) -> int:
        value = await self._pool.fetchval(
            "SELECT characters FROM translate_budget_usage WHERE backend = $1 AND month = $2",
            backend,
            self.month(),
        )
        return int(value or 0)

    async def refresh_metrics(self, backends: list[str]) -> dict[str, int]:
        """Read this month's usage of each backend (other replicas spend too) into the gauges."""
        usage = {backend: await self.used(backend) for backend in backends}
        for backend, used in usage.items():
            self._publish(backend, used)
        return usage

    def _publish(self, backend: str, used: int) -> None:
        metrics.BUDGET_USED.labels(backend).set(used)
        limit = self.limit(backend)
        if limit is not None:
            metrics.BUDGET_REMAINING.labels(backend).set(max(0, limit - used))
