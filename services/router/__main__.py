"""``python -m services.router``: run the router service until SIGTERM."""

import gc

from services.common import logs
from services.common.http import serve
from services.common.settings import load_settings

from .app import create_app
from .conversation import conversation_factory
from .settings import RouterSettings


def main() -> None:
    settings = load_settings(RouterSettings)
    logs.configure(settings.service_name, settings.log_level)
    # Every employment batch keeps thousands of validated events alive until it commits, so CPython's
    # default thresholds run a full collection every few batches; they cost a third of the consumer's
    # CPU (bench/router_plan.py: 51 -> 35 us per event). Young collections stay as they are; the full
    # ones become a hundred times rarer, and what start-up allocated is never scanned again.
    gc.freeze()
    gc.set_threshold(700, 10, settings.gc_full_collection_threshold)
    serve(
        create_app(settings, conversation=conversation_factory if settings.dialogue_enabled else None),
        settings,
    )


if __name__ == "__main__":
    main()
