"""The translate service's AsyncAPI document: its real consumer registration, wired without connecting.

faststream docs gen --factory services.translate.asyncapi:asyncapi_app --yaml
python -m services.ops.apidocs          (writes docs/api/, what CI compares with the code)
"""

from __future__ import annotations

from typing import Any

from faststream import FastStream

from services.common import asyncapi
from services.common.contracts import DeliveryReady

from .app import registration
from .settings import TranslateSettings

DESCRIPTION = """\
Turns each planned batch into LINE message objects in the batch's language: approved translations
first, then the translation memory, then a machine-translation backend, then the fallback chain;
each (notice, language) is translated once, never once per recipient. Submitted notices are kept for
previews and translated ahead. Batches are consumed with explicit offset commits after the results are
published (see docs/translate.md); a record that can never be processed goes to <topic>.dlq."""


def asyncapi_app() -> FastStream:
    # No machine-translation backend: the consumers are the same with any (backends are wiring).
    settings = asyncapi.documentation_settings(TranslateSettings)
    runtime = asyncapi.documentation_runtime(settings, component="translate")
    state: dict[str, Any] = {}
    registration(settings, {}, state)(runtime)
    asyncapi.declare_publishers(
        runtime.broker,
        [
            asyncapi.Publishes(
                settings.topics.deliveries_ready,
                DeliveryReady,
                "One DeliveryReady per planned batch, keyed notice_id:language: the rendered messages "
                "and the translation's source (approved, memory, machine, fallback).",
            )
        ],
    )
    asyncapi.declare_dead_letters(runtime.broker)
    return asyncapi.asyncapi_app(runtime.broker, title="Gunma Model translate", description=DESCRIPTION)
