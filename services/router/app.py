"""Composition root of the router service: settings, infrastructure, handlers, scheduler, HTTP routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI

from services.common.auth import KeyStore
from services.common.contracts import utcnow
from services.common.http import NO_PUBLIC_DOCS, Check, add_operational_routes
from services.common.problems import Problem, install_problem_handlers
from services.common.runtime import Runtime, running

from .api import ApiContext, build_router
from .codes_api import build_codes_router
from .domain.quiet_hours import QuietHours
from .handlers import ConversationHandler, ConversationHooks, register_consumers
from .planning import Planner
from .reminders import ReminderPlanner
from .scheduler import Scheduler
from .settings import RouterSettings


@dataclass(frozen=True, slots=True)
class RouterParts:
    """What the conversation may use besides its connection: publish replies (``runtime.publisher``),
    raise reminders after a link (``reminders.evaluate``, then ``wake``), read settings and time."""

    runtime: Runtime
    settings: RouterSettings
    reminders: ReminderPlanner
    clock: Callable[[], datetime]
    #: make the scheduler look for due work now (e.g. reminders just raised)
    wake: Callable[[], None]


#: Builds the conversation handler once the runtime exists (the dialogue plugs in here).
ConversationFactory = Callable[[RouterParts], ConversationHandler]


def registration(
    settings: RouterSettings,
    *,
    clock: Callable[[], datetime],
    conversation: ConversationFactory | None,
    state: dict[str, object],
) -> Callable[[Runtime], None]:
    """Wires planner, reminders, scheduler and consumers to a runtime (what ``state`` then holds is the
    lifespan's and the API's); the AsyncAPI document (asyncapi.py) runs the same function."""
    quiet = QuietHours(settings.quiet_hours_start, settings.quiet_hours_end, settings.zone)

    def register(runtime: Runtime) -> None:
        topic = settings.topics.deliveries_planned
        planner = Planner(
            pool=runtime.pool,
            publisher=runtime.publisher,
            topic=topic,
            quiet=quiet,
            batch_size=settings.batch_size,
            publish_chunk=settings.publish_chunk,
            fallback_language=settings.unset_language_fallback,
            clock=clock,
        )
        reminders = ReminderPlanner(
            pool=runtime.pool,
            publisher=runtime.publisher,
            topic=topic,
            quiet=quiet,
            chunk=settings.reminder_chunk,
            fallback_language=settings.unset_language_fallback,
        )
        scheduler = Scheduler(
            pool=runtime.pool,
            planner=planner,
            reminders=reminders,
            clock=clock,
            poll_seconds=settings.scheduler_poll_seconds,
            reminder_interval_seconds=settings.reminder_interval_seconds,
            release_workers=settings.release_workers,
            recipients_retention_days=settings.recipients_retention_days,
            reminders_retention_days=settings.reminders_retention_days,
        )
        handler = (
            conversation(RouterParts(runtime, settings, reminders, clock, scheduler.wake))
            if conversation is not None
            else None
        )
        register_consumers(
            runtime,
            employment_max_records=settings.employment_max_records,
            employment_consumers=settings.employment_consumers,
            employment_partition_fetch_bytes=settings.employment_partition_fetch_bytes,
            quiet=quiet,
            clock=clock,
            reminders=reminders,
            wake=scheduler.wake,
            conversation=handler,
        )
        state["conversation"] = handler
        state["runtime"] = runtime
        state["scheduler"] = scheduler
        state["api"] = ApiContext(
            pool=runtime.pool,
            keys=KeyStore(runtime.pool, cache_seconds=settings.api_key_cache_seconds),
            clock=clock,
            fallback_language=settings.unset_language_fallback,
            code_prefix=settings.dialogue_employer_code_prefix,
            line_basic_id=settings.line_basic_id,
        )

    return register


def create_app(
    settings: RouterSettings,
    *,
    clock: Callable[[], datetime] = utcnow,
    conversation: ConversationFactory | None = None,
) -> FastAPI:
    """The router. ``clock`` is injectable for tests; ``conversation`` handles messages and postbacks."""
    state: dict[str, object] = {}
    register = registration(settings, clock=clock, conversation=conversation, state=state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(settings, component="router", register=register):
            scheduler = state["scheduler"]
            assert isinstance(scheduler, Scheduler)
            hooks = state.get("conversation")
            scheduler.start()
            if isinstance(hooks, ConversationHooks):
                await hooks.start()
            try:
                yield
            finally:
                if isinstance(hooks, ConversationHooks):
                    await hooks.stop(timeout=settings.shutdown_grace_seconds / 4)
                await scheduler.stop(timeout=settings.shutdown_grace_seconds / 2)

    app = FastAPI(title="Gunma Model router", lifespan=lifespan, **NO_PUBLIC_DOCS)
    install_problem_handlers(app)

    def api_context() -> ApiContext:
        context = state.get("api")
        if not isinstance(context, ApiContext):
            raise Problem(503, "Starting", "the router is not ready yet")
        return context

    app.include_router(build_router(api_context))
    app.include_router(build_codes_router(api_context))

    def checks() -> dict[str, Check]:
        runtime = state.get("runtime")
        if not isinstance(runtime, Runtime):
            return {}
        return runtime.readiness_checks()

    add_operational_routes(app, checks)
    return app
