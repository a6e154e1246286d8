"""AsyncAPI documents of the services, built from their real registration code without connecting.

Each service registers its consumers in a ``register(runtime)`` function that its lifespan hands to
:func:`services.common.runtime.running`. For the documents the very same function runs against a
*documentation runtime*: a real :class:`KafkaBroker` that is never started (FastStream builds AsyncAPI
from the subscribers and publishers registered on it) and a pool that refuses every use, so registration
that touched the database would fail loudly instead of connecting. The documents therefore list exactly
the consumers the service runs; ``services/<service>/asyncapi.py`` adds what it publishes.

Everything here is deterministic: settings come from their defaults (never the environment), the
server is the compose name ``kafka:9092``, and :func:`to_yaml` sorts keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar, cast

import yaml
from faststream import FastStream
from faststream.kafka import KafkaBroker
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from . import db
from .kafka import Publisher, create_broker
from .runtime import Runtime
from .settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)

#: Where the documents say Kafka is (the docker compose name; deployments set their own).
DOCUMENTED_SERVER = "kafka:9092"
#: The contracts' version (the topics are ``.v1``), not the package's: a release does not change it.
DOCUMENT_VERSION = "1"
#: What required secrets are set to for a document: the settings validate, nothing ever uses it.
PLACEHOLDER_SECRET = "documentation-only-placeholder-never-a-real-secret"  # noqa: S105


def documentation_settings(cls: type[S], **values: Any) -> S:
    """``cls`` from its defaults and ``values`` only: the environment never changes a document."""

    class Documented(cls):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            *_: PydanticBaseSettingsSource,
            **__: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    Documented.__name__ = Documented.__qualname__ = cls.__name__
    values.setdefault("kafka_bootstrap_servers", DOCUMENTED_SERVER)
    values.setdefault("kafka_topic_prefix", "")
    return cast(S, Documented(**values))


class _Refused:
    """Stands in for a connection: any use is a bug in registration code (it must only wire)."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> NoReturn:
        raise RuntimeError(
            f"the documentation runtime has no {self._what} ({name} was used): registration must "
            "only wire handlers, not do I/O"
        )


def documentation_runtime(settings: ServiceSettings, *, component: str) -> Runtime:
    """A :class:`Runtime` whose broker is real but never started and whose pool refuses every use."""
    broker = create_broker(settings, client_id=f"gunma-{component}", metrics_registry=None)
    pool = cast(db.Pool, _Refused("database pool"))
    return Runtime(settings, component, pool, broker, Publisher(broker))


@dataclass(frozen=True, slots=True)
class Publishes:
    """A topic a service writes, with its contract, for the document."""

    topic: str
    payload: Any
    description: str


def declare_publishers(broker: KafkaBroker, publishes: Iterable[Publishes]) -> None:
    """Declare publishers for the document only (the services publish through ``Publisher``)."""
    for item in publishes:
        broker.publisher(
            item.topic, title=f"{item.topic}:publish", description=item.description, schema=item.payload
        )


def declare_dead_letters(broker: KafkaBroker) -> None:
    """Every durable subscriber may write ``<topic>.dlq``: one send channel per consumed topic."""
    topics = sorted({t for sub in broker.subscribers for t in getattr(sub.specification, "topics", ())})
    for topic in topics:
        broker.publisher(
            f"{topic}.dlq",
            title=f"{topic}.dlq:publish",
            description=(
                f"Records of {topic} that can never be processed: the original key, value (bytes as "
                "received, possibly invalid) and headers, plus x-dlq-reason, x-dlq-error-type, "
                "x-dlq-source-topic|partition|offset, x-dlq-consumer and x-dlq-failed-at. "
                "Replayed with `gunma dlq replay`."
            ),
            schema=bytes,
        )


def asyncapi_app(broker: KafkaBroker, *, title: str, description: str) -> FastStream:
    """The FastStream application ``faststream docs gen|serve --factory`` expects."""
    from faststream.specification import AsyncAPI

    return FastStream(
        broker,
        specification=AsyncAPI(
            title=title, version=DOCUMENT_VERSION, description=description, schema_version="3.0.0"
        ),
    )


def to_document(app: FastStream) -> dict[str, Any]:
    document: dict[str, Any] = app.schema.to_specification().to_jsonable()
    return document


def to_yaml(app: FastStream) -> str:
    """The AsyncAPI document as YAML with sorted keys: the same code gives the same bytes."""
    return yaml.safe_dump(to_document(app), sort_keys=True, allow_unicode=True, width=100)
