"""The one place that names topics, their keys and partition counts.

Every name may carry a prefix (``GUNMA_KAFKA_TOPIC_PREFIX``) so that several environments, or test runs,
share one cluster without seeing each other's messages.
"""

from __future__ import annotations

from dataclasses import dataclass

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    doc: str
    #: None: the broker's default retention
    retention_ms: int | None = None


_DAY_MS = 24 * 3600 * 1000

EMPLOYMENT = TopicSpec(
    "employment.v1", 12, "worker_id", "WorkerHired, WorkerSeparated, ResidenceStatusChanged from the feeds"
)
LINE_EVENTS = TopicSpec(
    "line-events.v1", 12, "LINE user id", "SubscriberFollowed, SubscriberUnfollowed, MessageReceived, ..."
)
NOTICES = TopicSpec("notices.v1", 6, "notice_id", "NoticeSubmitted by staff")
DELIVERIES_PLANNED = TopicSpec(
    "deliveries.planned.v1", 12, "notice_id:language", "DeliveryPlanned: <= 500 recipients, one language"
)
DELIVERIES_READY = TopicSpec(
    "deliveries.ready.v1", 12, "notice_id:language", "DeliveryReady: rendered LINE messages"
)
DELIVERIES_RESULTS = TopicSpec("deliveries.results.v1", 6, "notice_id:language", "DeliveryResult per batch")

ALL: tuple[TopicSpec, ...] = (
    EMPLOYMENT,
    LINE_EVENTS,
    NOTICES,
    DELIVERIES_PLANNED,
    DELIVERIES_READY,
    DELIVERIES_RESULTS,
)


def dead_letter_spec(spec: TopicSpec) -> TopicSpec:
    """``<topic>.dlq``: the original bytes and headers, plus the reason; kept 30 days for replay."""
    return TopicSpec(
        spec.name + DLQ_SUFFIX,
        partitions=1,
        key=spec.key,
        doc=f"messages from {spec.name} that could never be processed",
        retention_ms=30 * _DAY_MS,
    )


@dataclass(frozen=True, slots=True)
class Topics:
    """Full topic names for one environment."""

    prefix: str = ""

    def name(self, spec: TopicSpec) -> str:
        return self.prefix + spec.name

    def dlq(self, topic_name: str) -> str:
        """The dead-letter topic of a full topic name."""
        return topic_name + DLQ_SUFFIX

    def source_of_dlq(self, dlq_name: str) -> str:
        if not dlq_name.endswith(DLQ_SUFFIX):
            raise ValueError(f"{dlq_name!r} is not a dead-letter topic")
        return dlq_name[: -len(DLQ_SUFFIX)]

    def specs_with_dlq(self) -> list[tuple[str, TopicSpec]]:
        """Every topic this system uses, with its dead-letter topic, as (full name, spec)."""
        result: list[tuple[str, TopicSpec]] = []
        for spec in ALL:
            result.append((self.name(spec), spec))
            dead = dead_letter_spec(spec)
            result.append((self.prefix + dead.name, dead))
        return result

    @property
    def employment(self) -> str:
        return self.name(EMPLOYMENT)

    @property
    def line_events(self) -> str:
        return self.name(LINE_EVENTS)

    @property
    def notices(self) -> str:
        return self.name(NOTICES)

    @property
    def deliveries_planned(self) -> str:
        return self.name(DELIVERIES_PLANNED)

    @property
    def deliveries_ready(self) -> str:
        return self.name(DELIVERIES_READY)

    @property
    def deliveries_results(self) -> str:
        return self.name(DELIVERIES_RESULTS)
