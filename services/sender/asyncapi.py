"""The sender's AsyncAPI document: its real consumer registration, wired without connecting.

faststream docs gen --factory services.sender.asyncapi:asyncapi_app --yaml
python -m services.ops.apidocs          (writes docs/api/, what CI compares with the code)
"""

from __future__ import annotations

from faststream import FastStream

from services.common import asyncapi
from services.common.contracts import DeliveryResult

from .app import line_api, registration
from .settings import SenderSettings

DESCRIPTION = """\
Sends rendered messages through the LINE Messaging API (multicast, push, reply) with a deterministic
X-Line-Retry-Key per batch, under LINE's rate limits and monthly quota, and reports one DeliveryResult
per batch. Batches are consumed with explicit offset commits after the outcome is recorded (see
docs/sender.md); a batch that cannot be sent goes to deliveries.ready.v1.dlq with its reason."""


def asyncapi_app() -> FastStream:
    settings = asyncapi.documentation_settings(
        SenderSettings, line_channel_access_token=asyncapi.PLACEHOLDER_SECRET, consumers=1
    )
    runtime = asyncapi.documentation_runtime(settings, component="sender")
    registration(settings, line_api(settings), {})(runtime)
    asyncapi.declare_publishers(
        runtime.broker,
        [
            asyncapi.Publishes(
                settings.topics.deliveries_results,
                DeliveryResult,
                "One result per batch (sent or failed, with LINE's request id or the reason), keyed "
                "notice_id:language; the router records it.",
            )
        ],
    )
    asyncapi.declare_dead_letters(runtime.broker)
    return asyncapi.asyncapi_app(runtime.broker, title="Gunma Model sender", description=DESCRIPTION)
