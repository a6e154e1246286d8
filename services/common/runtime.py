"""Start-up and shutdown shared by the services: migrations, pool, topics, broker; then drain.

Each service's ``app.py`` is its composition root: it calls :func:`running` in its FastAPI lifespan and
registers its subscribers in ``register``, before the broker starts consuming.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from . import db, migrate
from .kafka import DeadLetters, Publisher, create_broker, ensure_topics
from .kafka.consumer import TRANSIENT
from .kafka.lag import LagSampler
from .settings import ServiceSettings

log = logging.getLogger(__name__)

#: Beyond the grace period for in-flight work: time for the last flush and for closing connections.
STOP_MARGIN_SECONDS = 5.0


@dataclass(slots=True)
class Runtime:
    settings: ServiceSettings
    component: str
    pool: db.Pool
    broker: KafkaBroker
    publisher: Publisher

    def dead_letters(self, consumer: str) -> DeadLetters:
        return DeadLetters(self.broker, consumer=consumer)

    def readiness_checks(self) -> dict[str, Callable[[], Awaitable[object]]]:
        """What /readyz asks: PostgreSQL and the Kafka broker answer."""
        return {
            "postgres": lambda: db.ping(self.pool),
            "kafka": lambda: self.broker.ping(timeout=2),
        }


def _retrying(settings: ServiceSettings, what: str) -> AsyncRetrying:
    def before_sleep(state: object) -> None:
        log.warning(
            f"{what} not reachable yet, retrying", extra={"attempt": getattr(state, "attempt_number", 0)}
        )

    return AsyncRetrying(
        stop=stop_after_delay(settings.startup_timeout_seconds),
        wait=wait_exponential(multiplier=0.2, max=5),
        retry=retry_if_exception_type(TRANSIENT),
        before_sleep=before_sleep,
        reraise=True,
    )


@asynccontextmanager
async def running(
    settings: ServiceSettings,
    *,
    component: str,
    register: Callable[[Runtime], None] | None = None,
    lag_sample_seconds: float = 15.0,
) -> AsyncIterator[Runtime]:
    """Start-up, then yield the runtime; on exit, drain. Consumer lag is sampled every
    ``lag_sample_seconds`` into ``gunma_consumer_lag`` while the broker runs."""
    dsn = settings.database_url.get_secret_value()
    async for attempt in _retrying(settings, "PostgreSQL"):
        with attempt:
            if settings.run_migrations:
                applied = await migrate.migrate(dsn, [component])
                if applied:
                    log.info(
                        "migrations applied",
                        extra={"migrations": [f"{m.component}/{m.version}" for m in applied]},
                    )
            pool = await db.create_pool(
                dsn,
                min_size=settings.database_pool_min,
                max_size=settings.database_pool_max,
                application_name=f"gunma-{component}",
            )
    async for attempt in _retrying(settings, "Kafka"):
        with attempt:
            await ensure_topics(
                settings.kafka_bootstrap_servers,
                settings.topics,
                replication_factor=settings.kafka_replication_factor,
            )
    broker = create_broker(settings, client_id=f"gunma-{component}")
    runtime = Runtime(settings, component, pool, broker, Publisher(broker))
    if register is not None:
        register(runtime)
    lag = LagSampler(broker, interval=lag_sample_seconds)
    try:
        async for attempt in _retrying(settings, "Kafka"):
            with attempt:
                await broker.start()
        lag.start()
        log.info("started", extra={"component": component})
        yield runtime
    finally:
        await lag.stop()
        await _bounded_stop(broker, pool, settings.shutdown_grace_seconds)
        log.info("stopped", extra={"component": component})


async def _bounded_stop(broker: KafkaBroker, pool: db.Pool, grace: float) -> None:
    """Stop consuming, let in-flight handlers finish (graceful_timeout), flush the producer, close the
    pool; each step bounded, so a stuck step cannot outlast the orchestrator's grace period and turn
    a clean stop into a kill with nothing said. What is not committed is redelivered after a restart."""
    try:
        await asyncio.wait_for(broker.stop(), timeout=grace + STOP_MARGIN_SECONDS)
    except TimeoutError:
        log.error("the Kafka client did not stop in time; its uncommitted records will be redelivered")
    try:
        await asyncio.wait_for(pool.close(), timeout=STOP_MARGIN_SECONDS)
    except TimeoutError:
        # asyncpg's close waits for every connection to be released; one still held is a bug to find
        log.error("PostgreSQL connections were still in use at shutdown; terminating them")
        pool.terminate()
