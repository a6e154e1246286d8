"""The onboarding conversation wired into the router's line-events consumer (docs/onboarding.md).

For each batch of LINE events, inside the consumer's tracked transaction (after the follow state):

1. duplicates of a webhook event already handled (a relay that published twice: another offset, same
   ``webhookEventId``) are dropped (``processed_messages``);
2. the batch's subscriber rows are locked (``FOR UPDATE``, in id order), their dialogue state loaded;
3. each event is one turn of the pure dialogue (``dialogue.handle``); its effects are applied to the
   registry at once (registration code look-up and its answer, consent log, link + reminders due now,
   stop/resume, erasure), the new state saved with the values audiences read mirrored into the
   registry's columns, and the reply staged in the outbox (``reply_outbox``);
4. after the commit the staged replies are published to deliveries.ready.v1 (and the scheduler is
   woken when reminders were raised).

Before the transaction, first follows get their LINE profile language (``line_profile``).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from prometheus_client import Counter

from services.common import idempotency
from services.common.contracts import (
    DeliveryReady,
    LineEvent,
    NoticeCategory,
    SubscriberFollowed,
)
from services.common.db import Connection
from services.common.kafka import Consumed

from . import registration_codes, registry, reply_outbox
from .dialogue import (
    DialogueConfig,
    EffectResult,
    ErasePersonalData,
    LinkEmployer,
    LinkWorker,
    RecordConsent,
    ResumeAll,
    StopAll,
    SubscriberState,
    conversation_delivery,
    handle,
    prepare,
    render_effect_result,
)
from .line_profile import ProfileLanguages
from .reminders import ReminderPlanner
from .reply_outbox import ReplyRelay

if TYPE_CHECKING:
    from .app import RouterParts

log = logging.getLogger(__name__)

DEDUPE_CONSUMER = "router.dialogue"

TURNS = Counter("gunma_router_conversation_turns_total", "LINE events answered by the dialogue", ["event"])
EFFECTS = Counter("gunma_router_conversation_effects_total", "Effects applied to the registry", ["effect"])
DUPLICATES = Counter(
    "gunma_router_conversation_duplicates_total", "Webhook events seen again at another offset (skipped)"
)


@dataclass(slots=True)
class _Known:
    """A subscriber as the batch has left it so far."""

    exists: bool
    state: SubscriberState | None
    declared_establishment_id: str | None


#: The state, and what the registry mirrors from it (audiences and reminders read these columns). Only
#: values the turn changed are written ($9..$13), so a turn never undoes what another writer of the
#: registry (the ops tools, a test's shortcut) set meanwhile, e.g. a first follow's empty state.
_SAVE = """
UPDATE subscribers SET
    dialogue = $2,
    language = CASE WHEN $9 THEN $3 ELSE language END,
    declared_nationality = CASE WHEN $10 THEN $4 ELSE declared_nationality END,
    declared_residence_status = CASE WHEN $11 THEN $5 ELSE declared_residence_status END,
    opted_out_categories = CASE WHEN $12 THEN $6 ELSE opted_out_categories END,
    stopped_at = CASE WHEN NOT $13 THEN stopped_at WHEN $7 THEN COALESCE(stopped_at, $8) END,
    updated_at = now()
WHERE line_user_id = $1
"""


class Conversation:
    """The ConversationHandler (and ConversationHooks) of the router; see the module docstring."""

    def __init__(
        self,
        *,
        config: DialogueConfig,
        reminders: ReminderPlanner,
        relay: ReplyRelay,
        clock: Callable[[], datetime],
        wake: Callable[[], None],
        zone: tzinfo,
        profiles: ProfileLanguages | None = None,
        dedupe_consumer: str = DEDUPE_CONSUMER,
        dedupe_retention_days: int = 7,
        sigkill_after_commit: int = 0,
    ) -> None:
        self._config = config
        self._reminders = reminders
        self._relay = relay
        self._clock = clock
        self._wake = wake
        self._zone = zone
        self._profiles = profiles
        self._dedupe = dedupe_consumer
        self._dedupe_retention_days = dedupe_retention_days
        self._profile_languages: dict[str, str] = {}
        self._staged: list[int] = []
        self._raised = False
        self._sigkill_after_commit = sigkill_after_commit
        self._commits_with_replies = 0

    # --- lifecycle (ConversationHooks) --------------------------------------------------------------
    async def start(self) -> None:
        if self._profiles is not None:
            await self._profiles.start()
        self._relay.start(housekeeping=self.purge)

    async def stop(self, timeout: float) -> None:
        await self._relay.stop(timeout)
        if self._profiles is not None:
            await self._profiles.close()

    async def before_transaction(self, events: Sequence[Consumed[LineEvent]]) -> None:
        # A failed attempt may have left these (its transaction rolled back: nothing to publish).
        self._profile_languages, self._staged, self._raised = {}, [], False
        if self._profiles is None:
            return
        first_follows = [
            item.value
            for item in events
            if isinstance(item.value, SubscriberFollowed)
            and not item.value.is_unblocked
            and item.value.mode == "active"
        ]
        if not first_follows:
            return
        found = await self._profiles.languages(e.line_user_id for e in first_follows)
        self._profile_languages = {
            e.webhook_event_id: found[e.line_user_id] for e in first_follows if e.line_user_id in found
        }

    async def after_commit(self) -> None:
        staged, self._staged = self._staged, []
        raised, self._raised = self._raised, False
        if staged and self._sigkill_after_commit:
            self._commits_with_replies += 1
            if self._commits_with_replies >= self._sigkill_after_commit:
                log.error("TEST: SIGKILL after the commit, before the replies are published")
                os.kill(os.getpid(), signal.SIGKILL)
        if staged:
            await self._relay.relay_after_commit(staged)
        if raised:
            self._wake()

    async def purge(self, conn: Connection) -> int:
        """Forget handled webhook ids older than the retention (LINE and ingest redeliver within minutes)."""
        status = await conn.execute(
            "DELETE FROM processed_messages WHERE consumer = $1"
            " AND processed_at < now() - make_interval(days => $2)",
            self._dedupe,
            self._dedupe_retention_days,
        )
        return int(status.split()[-1])

    # --- the handler --------------------------------------------------------------------------------
    async def __call__(self, conn: Connection, events: Sequence[Consumed[LineEvent]]) -> None:
        self._staged, self._raised = [], False
        now = self._clock()
        fresh = await idempotency.claim(conn, self._dedupe, [item.value.webhook_event_id for item in events])
        todo: list[LineEvent] = []
        for item in events:
            webhook_id = item.value.webhook_event_id
            if webhook_id in fresh:
                fresh.discard(webhook_id)
                todo.append(item.value)
            else:
                DUPLICATES.inc()
        if not todo:
            return
        users = sorted({event.line_user_id for event in todo})
        rows = await conn.fetch(
            "SELECT line_user_id, dialogue, declared_establishment_id FROM subscribers"
            " WHERE line_user_id = ANY($1::text[]) ORDER BY line_user_id FOR UPDATE",
            users,
        )
        known = {user: _Known(False, None, None) for user in users}
        for row in rows:
            data = row["dialogue"]
            known[row["line_user_id"]] = _Known(
                True, SubscriberState.from_dict(data) if data else None, row["declared_establishment_id"]
            )
        deliveries: list[DeliveryReady] = []
        for event in todo:
            delivery = await self._turn(conn, event, known, now)
            if delivery is not None:
                deliveries.append(delivery)
        self._staged = await reply_outbox.stage(conn, deliveries)

    async def _turn(
        self, conn: Connection, event: LineEvent, known: dict[str, _Known], now: datetime
    ) -> DeliveryReady | None:
        user = event.line_user_id
        subscriber = known[user]
        outcome = handle(
            subscriber.state,
            event,
            now=now,
            config=self._config,
            profile_language=self._profile_languages.get(event.webhook_event_id),
        )
        TURNS.labels(event.type).inc()
        if outcome.state is not None and not subscriber.exists:
            await registry.ensure_subscriber(conn, user)
            subscriber.exists = True
        effects = list(outcome.effects)
        erased = False
        index = 0
        while index < len(effects):
            effect = effects[index]
            index += 1
            EFFECTS.labels(type(effect).__name__).inc()
            match effect:
                case LinkEmployer(code):
                    answer = await self._link_employer(conn, event, subscriber, code, now)
                    assert outcome.state is not None  # a turn that asks for a link keeps its state
                    later = render_effect_result(outcome.state, answer, now=now, config=self._config)
                    outcome = outcome.then(later)
                    effects.extend(later.effects)
                case LinkWorker(worker_id, consent_version, consented_at):
                    await self._link_worker(conn, user, worker_id, consent_version, consented_at, known, now)
                case RecordConsent(version, language, at):
                    await conn.execute(
                        """
                        INSERT INTO consent_log (line_user_id, consent_version, language, consented_at,
                                                 webhook_event_id)
                        VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
                        """,
                        user,
                        version,
                        language,
                        at,
                        event.webhook_event_id,
                    )
                case StopAll("requested"):
                    await registry.set_stopped(conn, user, True, at=now)
                case ResumeAll("requested"):
                    await registry.set_stopped(conn, user, False, at=now)
                case StopAll() | ResumeAll():
                    pass  # unfollow / re-follow: the follow state applied before this hook says it all
                case ErasePersonalData(at):
                    await conn.execute("DELETE FROM consent_log WHERE line_user_id = $1", user)
                    await registry.erase_subscriber(conn, user, on=at.astimezone(self._zone).date())
                    erased = True
        if erased:
            known[user] = _Known(False, None, None)
        elif outcome.state is not None:
            await self._save(conn, user, subscriber.state, outcome.state, now)
            subscriber.state = outcome.state
        return conversation_delivery(event, outcome, now=now, config=self._config)

    async def _link_employer(
        self, conn: Connection, event: LineEvent, subscriber: _Known, code: str, now: datetime
    ) -> EffectResult:
        found = await registration_codes.lookup(conn, code)
        if found.establishment_id is not None and found.municipality_code is not None:
            day = event.line_timestamp.astimezone(self._zone).date()
            await registry.set_employer(
                conn,
                event.line_user_id,
                establishment_id=found.establishment_id,
                municipality_code=found.municipality_code,
                on=day,
            )
            if subscriber.declared_establishment_id != found.establishment_id:
                await registration_codes.count_registration(conn, code, now)
                subscriber.declared_establishment_id = found.establishment_id
        return found.result

    async def _link_worker(
        self,
        conn: Connection,
        user: str,
        worker_id: str,
        consent_version: str,
        consented_at: datetime,
        known: dict[str, _Known],
        now: datetime,
    ) -> None:
        moved_from = await registry.link_worker(
            conn, user, worker_id=worker_id, consent_version=consent_version, at=consented_at
        )
        if moved_from is not None:
            # The card is now linked to this account: the other one's dialogue must not claim it still is.
            await conn.execute(
                "UPDATE subscribers SET dialogue = jsonb_set(dialogue, '{worker_linked}', 'false')"
                " WHERE line_user_id = $1 AND dialogue IS NOT NULL",
                moved_from,
            )
            other = known.get(moved_from)
            if other is not None and other.state is not None:
                other.state = other.state.with_(worker_linked=False)
        if await self._reminders.evaluate(conn, now, [worker_id]):
            self._raised = True

    async def _save(
        self,
        conn: Connection,
        user: str,
        before: SubscriberState | None,
        state: SubscriberState,
        now: datetime,
    ) -> None:
        mandatory = self._config.mandatory_categories

        def opted_out(of: SubscriberState) -> list[str]:
            return sorted(c.value for c in of.categories_opted_out if NoticeCategory(c) not in mandatory)

        old = before or SubscriberState(language=state.language)  # a new subscriber: nothing said yet
        await conn.execute(
            _SAVE,
            user,
            state.to_dict(),
            state.language,
            state.nationality,
            state.residence_status.value if state.residence_status is not None else None,
            opted_out(state),
            state.stopped,
            now,
            # the language reaches the registry once the worker chose it (before: a guess)
            state.language_confirmed and (not old.language_confirmed or old.language != state.language),
            old.nationality != state.nationality,
            old.residence_status != state.residence_status,
            opted_out(old) != opted_out(state),
            old.stopped != state.stopped,
        )


def conversation_factory(parts: RouterParts) -> Conversation:
    """``create_app(settings, conversation=conversation_factory)``: the dialogue with the router's parts.

    Reads the catalogs and builds the word indexes (``dialogue.prepare``): a broken catalog or a keyword
    clash fails start-up here, before any LINE event is consumed.
    """
    settings = parts.settings
    config = settings.dialogue_config()
    prepare(config)
    relay = ReplyRelay(
        pool=parts.runtime.pool,
        publisher=parts.runtime.publisher,
        topic=settings.topics.deliveries_ready,
        poll_seconds=settings.dialogue_relay_poll_seconds,
    )
    token = settings.line_channel_access_token
    profiles = (
        ProfileLanguages(
            base_url=settings.line_api_base_url,
            access_token=token.get_secret_value(),
            timeout=settings.line_profile_timeout_seconds,
            proxy=settings.line_api_proxy,
            trust_env=settings.line_api_trust_env,
        )
        if token is not None
        else None
    )
    return Conversation(
        config=config,
        reminders=parts.reminders,
        relay=relay,
        clock=parts.clock,
        wake=parts.wake,
        zone=settings.zone,
        profiles=profiles,
        dedupe_consumer=settings.kafka_topic_prefix + DEDUPE_CONSUMER,
        dedupe_retention_days=settings.dialogue_dedupe_retention_days,
        sigkill_after_commit=settings.test_sigkill_after_commit,
    )
