"""The router's AsyncAPI document: its real consumer registration, wired without connecting.

The router runs with the onboarding conversation as ``python -m services.router`` does (unless
``dialogue_enabled`` is off): the conversation's replies are a publication of their own.

    faststream docs gen --factory services.router.asyncapi:asyncapi_app --yaml
    python -m services.ops.apidocs          (writes docs/api/, what CI compares with the code)
"""

from __future__ import annotations

from faststream import FastStream

from services.common import asyncapi
from services.common.contracts import DeliveryPlanned, DeliveryReady, utcnow

from .app import registration
from .conversation import conversation_factory
from .settings import RouterSettings

DESCRIPTION = """\
Keeps the registry (employers, employment records, LINE subscribers with their language and city) from
the event streams; records notices and releases them at their time outside quiet hours as per-language
batches of at most 500 LINE user ids; raises personal reminders (residence expiry, the 14-day
notification, a new city); talks with workers who write to the LINE account (onboarding: language,
consent, employer code) and records what the sender reports. Every consumer applies a batch in one
PostgreSQL transaction with its offset-tracking row, so a redelivered record changes nothing (see
docs/router.md); a record that can never be processed goes to <topic>.dlq."""


def asyncapi_app() -> FastStream:
    # One employment consumer: how many run in one process is tuning, not the contract.
    settings = asyncapi.documentation_settings(RouterSettings, employment_consumers=1)
    runtime = asyncapi.documentation_runtime(settings, component="router")
    state: dict[str, object] = {}
    conversation = conversation_factory if settings.dialogue_enabled else None
    registration(settings, clock=utcnow, conversation=conversation, state=state)(runtime)
    publishes = [
        asyncapi.Publishes(
            settings.topics.deliveries_planned,
            DeliveryPlanned,
            "A notice's or a personal reminder's recipients in one language, at most 500 LINE user ids "
            "per batch, keyed notice_id:language; translate renders each batch.",
        )
    ]
    if state.get("conversation") is not None:
        publishes.append(
            asyncapi.Publishes(
                settings.topics.deliveries_ready,
                DeliveryReady,
                "Conversation replies (onboarding, language choice, consent), already rendered from "
                "the message catalogs in the worker's language, sent with the reply token while it is "
                "fresh; keyed notice_id:language.",
            )
        )
    asyncapi.declare_publishers(runtime.broker, publishes)
    asyncapi.declare_dead_letters(runtime.broker)
    return asyncapi.asyncapi_app(runtime.broker, title="Gunma Model router", description=DESCRIPTION)
