"""Create this system's topics (and their dead-letter topics) at start-up."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.common.topics import Topics

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap_servers: str, topics: Topics, *, replication_factor: int = 1, timeout_ms: int = 30_000
) -> list[str]:
    """Create missing topics; return the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","), request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=name,
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs={"retention.ms": str(spec.retention_ms)} if spec.retention_ms else {},
            )
            for name, spec in topics.specs_with_dlq()
            if name not in existing
        ]
        if not wanted:
            return []
        response = await admin.create_topics(wanted, timeout_ms=timeout_ms)
        created: list[str] = []
        for name, code, message in _topic_errors(response):
            if code == 0:
                created.append(name)
            elif code == TopicAlreadyExistsError.errno:
                continue  # another replica created it a moment ago
            else:
                raise RuntimeError(f"creating topic {name} failed: error {code} {message or ''}".strip())
        log.info("topics created", extra={"topics": created})
        return created
    finally:
        await admin.close()


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    # CreateTopicsResponse versions differ in whether an error message is present.
    out: list[tuple[str, int, str | None]] = []
    for entry in getattr(response, "topic_errors", []):
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        out.append((name, code, message))
    return out
