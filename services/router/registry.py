"""The registry in PostgreSQL: employment facts, establishments and LINE subscribers.

Everything here takes a connection (usually inside the caller's transaction) and applies a whole batch
with set-based SQL: arrays in, one statement per table, never a statement per record.

The functions under "Subscribers" are the registry's API for the onboarding dialogue (language,
employer, details, consent and link, categories, stop, erase); the conversation calls them inside the
transaction of the line-events consumer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.common import languages
from services.common.codes import ResidenceStatus, is_country_code, normalize_municipality_code
from services.common.contracts import (
    EmploymentEvent,
    LineEvent,
    NoticeCategory,
    SubscriberFollowed,
    SubscriberUnfollowed,
    WorkerHired,
    WorkerSeparated,
)
from services.common.db import Connection

from .domain.employment import Employment, collapse, effective_date

# --------------------------------------------------------------------------------------------------
# Employment facts

_ATTRS_NEWER = (
    "(EXCLUDED.attrs_on, EXCLUDED.attrs_reported_at, EXCLUDED.attrs_event_id)"
    " > (e.attrs_on, e.attrs_reported_at, e.attrs_event_id)"
)


def _slot_newer(slot: str) -> str:
    return (
        f"(EXCLUDED.{slot}_on IS NOT NULL AND (e.{slot}_on IS NULL OR "
        f"(EXCLUDED.{slot}_on, EXCLUDED.{slot}_reported_at, EXCLUDED.{slot}_event_id)"
        f" > (e.{slot}_on, e.{slot}_reported_at, e.{slot}_event_id)))"
    )


def _take(column: str, condition: str) -> str:
    return f"{column} = CASE WHEN {condition} THEN EXCLUDED.{column} ELSE e.{column} END"


_ATTR_COLUMNS = (
    "municipality_code",
    "nationality",
    "residence_status",
    "period_expires_on",
    "source",
    "attrs_on",
    "attrs_reported_at",
    "attrs_event_id",
)
_HIRED_COLUMNS = ("hired_on", "hired_reported_at", "hired_event_id")
_SEPARATED_COLUMNS = ("separated_on", "separated_reported_at", "separated_event_id")

#: The batch is copied (COPY, binary) into this temporary table, then upserted in one statement: COPY
#: costs less than half of what array parameters cost to encode and to parse.
_BATCH_TABLE = "employment_batch"
_CREATE_BATCH_TABLE = f"""
CREATE TEMP TABLE IF NOT EXISTS {_BATCH_TABLE} (
    worker_id text COLLATE "C", establishment_id text COLLATE "C", municipality_code text,
    nationality text, residence_status text, period_expires_on date, source text,
    attrs_on date, attrs_reported_at timestamptz, attrs_event_id uuid,
    hired_on date, hired_reported_at timestamptz, hired_event_id uuid,
    separated_on date, separated_reported_at timestamptz, separated_event_id uuid
) ON COMMIT DELETE ROWS
"""

#: One upsert per batch of collapsed states; each slot keeps the newer fact (domain/employment.py).
#: Returns how many rows changed and which of the changed workers are linked to a subscriber.
EMPLOYMENT_UPSERT = f"""
WITH up AS (
    INSERT INTO employments AS e (
        worker_id, establishment_id, municipality_code, nationality, residence_status,
        period_expires_on, source, attrs_on, attrs_reported_at, attrs_event_id,
        hired_on, hired_reported_at, hired_event_id,
        separated_on, separated_reported_at, separated_event_id)
    SELECT * FROM {_BATCH_TABLE}
    ON CONFLICT (worker_id, establishment_id) DO UPDATE SET
        {", ".join(_take(c, _ATTRS_NEWER) for c in _ATTR_COLUMNS)},
        {", ".join(_take(c, _slot_newer("hired")) for c in _HIRED_COLUMNS)},
        {", ".join(_take(c, _slot_newer("separated")) for c in _SEPARATED_COLUMNS)},
        updated_at = now()
    WHERE {_ATTRS_NEWER} OR {_slot_newer("hired")} OR {_slot_newer("separated")}
    RETURNING e.worker_id
)
-- LIMIT 1 keeps the probe a nested loop over the subscribers_worker index, whatever the estimates.
SELECT (SELECT count(*) FROM up) AS changed,
       ARRAY(SELECT DISTINCT up.worker_id FROM up,
             LATERAL (SELECT 1 FROM subscribers s
                      WHERE s.worker_id = up.worker_id AND s.worker_id IS NOT NULL LIMIT 1) AS hit
       ) AS linked
"""  # noqa: S608 - built from the constant names above

#: Establishments, newest report first; sorted so that concurrent batches lock rows in one order.
ESTABLISHMENT_UPSERT = """
INSERT INTO establishments AS x (establishment_id, name, address, municipality_code, reported_at, event_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::uuid[])
ORDER BY 1
ON CONFLICT (establishment_id) DO UPDATE SET
    name = COALESCE(EXCLUDED.name, x.name),
    address = COALESCE(EXCLUDED.address, x.address),
    municipality_code = EXCLUDED.municipality_code,
    reported_at = EXCLUDED.reported_at,
    event_id = EXCLUDED.event_id,
    updated_at = now()
WHERE (EXCLUDED.reported_at, EXCLUDED.event_id) > (x.reported_at, x.event_id)
"""

#: What the feed says about linked workers, copied onto their subscriber rows (the generated columns
#: then pick record or declared values). Attributes from the newest fact of any employment; employer
#: and city from the current job (active, hired last) or else the job left last.
REFRESH_RECORDS = """
WITH ids AS (SELECT DISTINCT unnest($1::text[]) COLLATE "C" AS worker_id),
attrs AS (
    SELECT DISTINCT ON (e.worker_id) e.worker_id, e.nationality, e.residence_status, e.period_expires_on
    FROM employments e JOIN ids ON e.worker_id = ids.worker_id
    ORDER BY e.worker_id, e.attrs_on DESC, e.attrs_reported_at DESC, e.attrs_event_id DESC
),
job AS (
    SELECT DISTINCT ON (e.worker_id) e.worker_id,
           CASE WHEN e.active THEN e.establishment_id END AS establishment_id,
           e.municipality_code,
           CASE WHEN e.active THEN COALESCE(e.hired_on, e.attrs_on) ELSE e.separated_on END AS state_on
    FROM employments e JOIN ids ON e.worker_id = ids.worker_id
    ORDER BY e.worker_id, e.active DESC,
             CASE WHEN e.active THEN COALESCE(e.hired_on, e.attrs_on) ELSE e.separated_on END DESC,
             e.establishment_id
)
UPDATE subscribers s SET
    record_establishment_id = job.establishment_id,
    record_municipality_code = job.municipality_code,
    record_nationality = attrs.nationality,
    record_residence_status = attrs.residence_status,
    record_period_expires_on = attrs.period_expires_on,
    record_state_on = job.state_on,
    updated_at = now()
FROM ids LEFT JOIN attrs ON attrs.worker_id = ids.worker_id LEFT JOIN job ON job.worker_id = ids.worker_id
WHERE s.worker_id = ids.worker_id
"""


@dataclass(frozen=True, slots=True)
class EmploymentApplied:
    received: int
    employments: int
    changed: int
    #: workers whose facts changed and who are linked to a subscriber (reminders, record refresh)
    linked_workers: list[str]


Row = tuple[Any, ...]


def row_of_state(state: Employment) -> Row:
    """The batch-table row of a combined state (several facts about one employment in a batch)."""
    attrs, key, hired, separated = state.attrs, state.attrs_key, state.hired, state.separated
    return (
        state.worker_id,
        state.establishment_id,
        attrs.municipality_code,
        attrs.nationality,
        attrs.residence_status,
        attrs.period_expires_on,
        attrs.source,
        key.on,
        key.reported_at,
        key.event_id,
        hired.on if hired else None,
        hired.reported_at if hired else None,
        hired.event_id if hired else None,
        separated.on if separated else None,
        separated.reported_at if separated else None,
        separated.event_id if separated else None,
    )


def row_of_event(event: EmploymentEvent) -> Row:
    """The row of a single fact, built straight from the event: the hot path, equal to
    ``row_of_state(from_event(event))`` (a unit test holds them together) at a fraction of the cost."""
    establishment = event.establishment
    reported_at, event_id = event.reported_at, event.event_id
    hired = separated = False
    if isinstance(event, WorkerHired):
        on, hired = event.hired_on, True
    elif isinstance(event, WorkerSeparated):
        on, separated = event.separated_on, True
    else:
        on = effective_date(event)
    return (
        event.worker_id,
        establishment.establishment_id,
        establishment.municipality_code,
        event.nationality,
        str.__str__(event.residence_status),  # the StrEnum's value, without the enum descriptor
        event.period_expires_on,
        event.source,
        on,
        reported_at,
        event_id,
        on if hired else None,
        reported_at if hired else None,
        event_id if hired else None,
        on if separated else None,
        reported_at if separated else None,
        event_id if separated else None,
    )


def employment_rows(events: Sequence[EmploymentEvent]) -> list[Row]:
    """One row per employment: single facts directly, several facts about one employment combined."""
    first: dict[tuple[str, str], EmploymentEvent] = {}
    repeated: dict[tuple[str, str], list[EmploymentEvent]] = {}
    for event in events:
        key = (event.worker_id, event.establishment.establishment_id)
        seen = first.get(key)
        if seen is None:
            first[key] = event
        elif key in repeated:
            repeated[key].append(event)
        else:
            repeated[key] = [seen, event]
    rows = [row_of_event(event) for key, event in first.items() if key not in repeated]
    rows.extend(row_of_state(collapse(facts)[0]) for facts in repeated.values())
    return rows


def _establishment_columns(events: Iterable[EmploymentEvent]) -> list[list[Any]]:
    newest: dict[str, EmploymentEvent] = {}
    for event in events:
        establishment_id = event.establishment.establishment_id
        seen = newest.get(establishment_id)
        if (
            seen is None
            or event.reported_at > seen.reported_at
            or (event.reported_at == seen.reported_at and event.event_id > seen.event_id)
        ):
            newest[establishment_id] = event
    columns: list[list[Any]] = [[] for _ in range(6)]
    for establishment_id in sorted(newest):
        event = newest[establishment_id]
        columns[0].append(establishment_id)
        columns[1].append(event.establishment.name)
        columns[2].append(event.establishment.address)
        columns[3].append(event.establishment.municipality_code)
        columns[4].append(event.reported_at)
        columns[5].append(event.event_id)
    return columns


async def apply_employment(conn: Connection, events: Sequence[EmploymentEvent]) -> EmploymentApplied:
    """Apply a batch of employment facts: employments, linked subscribers, then establishments.

    Establishments come last so that their row locks (shared between concurrent batches) are held
    for the shortest time.
    """
    if not events:
        return EmploymentApplied(0, 0, 0, [])
    rows = employment_rows(events)
    await conn.execute(_CREATE_BATCH_TABLE)
    await conn.copy_records_to_table(_BATCH_TABLE, records=rows)
    result = await conn.fetchrow(EMPLOYMENT_UPSERT)
    assert result is not None
    linked: list[str] = list(result["linked"])
    if linked:
        await refresh_records(conn, linked)
    await conn.execute(ESTABLISHMENT_UPSERT, *_establishment_columns(events))
    return EmploymentApplied(len(events), len(rows), int(result["changed"]), linked)


async def refresh_records(conn: Connection, worker_ids: Sequence[str]) -> None:
    """Copy the feed's current view of these workers onto their linked subscribers."""
    if worker_ids:
        await conn.execute(REFRESH_RECORDS, list(worker_ids))


# --------------------------------------------------------------------------------------------------
# LINE follow state

#: Follow state by LINE's event time: an older follow or unfollow than the one applied is ignored.
#: A follow clears an "unreachable" mark older than itself.
FOLLOW_UPSERT = """
INSERT INTO subscribers AS s (line_user_id, followed, follow_changed_at, first_followed_at)
SELECT u, f, t, CASE WHEN f THEN t END FROM unnest($1::text[], $2::bool[], $3::timestamptz[]) AS x(u, f, t)
ON CONFLICT (line_user_id) DO UPDATE SET
    followed = EXCLUDED.followed,
    follow_changed_at = EXCLUDED.follow_changed_at,
    first_followed_at = COALESCE(s.first_followed_at, EXCLUDED.first_followed_at),
    unreachable_at = CASE WHEN EXCLUDED.followed AND s.unreachable_at <= EXCLUDED.follow_changed_at
                          THEN NULL ELSE s.unreachable_at END,
    updated_at = now()
WHERE s.follow_changed_at IS NULL OR s.follow_changed_at < EXCLUDED.follow_changed_at
RETURNING line_user_id
"""


async def apply_follow_state(conn: Connection, events: Iterable[LineEvent]) -> int:
    """Apply follows and unfollows (the newest per user by LINE's timestamp); return rows changed."""
    newest: dict[str, SubscriberFollowed | SubscriberUnfollowed] = {}
    for event in events:
        if not isinstance(event, SubscriberFollowed | SubscriberUnfollowed):
            continue
        seen = newest.get(event.line_user_id)
        if seen is None or (event.line_timestamp, event.webhook_event_id) > (
            seen.line_timestamp,
            seen.webhook_event_id,
        ):
            newest[event.line_user_id] = event
    if not newest:
        return 0
    users = sorted(newest)
    rows = await conn.fetch(
        FOLLOW_UPSERT,
        users,
        [isinstance(newest[u], SubscriberFollowed) for u in users],
        [newest[u].line_timestamp for u in users],
    )
    return len(rows)


# --------------------------------------------------------------------------------------------------
# Subscribers: the API for the onboarding dialogue


class SubscriberError(ValueError):
    """A value the registry refuses; the message names the field."""


@dataclass(frozen=True, slots=True)
class Subscriber:
    line_user_id: str
    language: str | None
    followed: bool
    unreachable: bool
    stopped: bool
    opted_out_categories: tuple[str, ...]
    worker_id: str | None
    consented_at: datetime | None
    consent_version: str | None
    establishment_id: str | None
    municipality_code: str | None
    nationality: str | None
    residence_status: str | None
    declared_establishment_id: str | None
    declared_municipality_code: str | None
    declared_nationality: str | None
    declared_residence_status: str | None
    record_period_expires_on: date | None

    @property
    def linked(self) -> bool:
        return self.worker_id is not None


async def get_subscriber(conn: Connection, line_user_id: str) -> Subscriber | None:
    row = await conn.fetchrow(
        """
        SELECT line_user_id, language, followed, unreachable_at IS NOT NULL AS unreachable,
               stopped_at IS NOT NULL AS stopped, opted_out_categories, worker_id, consented_at,
               consent_version, establishment_id, municipality_code, nationality, residence_status,
               declared_establishment_id, declared_municipality_code, declared_nationality,
               declared_residence_status, record_period_expires_on
        FROM subscribers WHERE line_user_id = $1
        """,
        line_user_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["opted_out_categories"] = tuple(values["opted_out_categories"])
    return Subscriber(**values)


async def ensure_subscriber(conn: Connection, line_user_id: str) -> bool:
    """Create the row of a user we have not seen follow (e.g. they wrote first); True if created."""
    status = await conn.execute(
        "INSERT INTO subscribers (line_user_id) VALUES ($1) ON CONFLICT DO NOTHING", line_user_id
    )
    return status.endswith(" 1")


async def _update(conn: Connection, line_user_id: str, assignments: str, *args: Any) -> None:
    status = await conn.execute(
        f"UPDATE subscribers SET {assignments}, updated_at = now() WHERE line_user_id = $1",  # noqa: S608 - fixed fragments
        line_user_id,
        *args,
    )
    if not status.endswith(" 1"):
        raise SubscriberError(f"line_user_id: no subscriber {line_user_id[:5]}…")


async def set_language(conn: Connection, line_user_id: str, language: str) -> None:
    if language not in languages.LANGUAGE_CODES:
        raise SubscriberError(f"language: unsupported language {language!r}")
    await _update(conn, line_user_id, "language = $2", language)


async def set_employer(
    conn: Connection, line_user_id: str, *, establishment_id: str, municipality_code: str, on: date
) -> None:
    """The employer the worker declared (registration code), its city, and the day they declared it."""
    try:
        city = normalize_municipality_code(municipality_code)
    except ValueError as error:
        raise SubscriberError(f"municipality_code: {error}") from None
    await _update(
        conn,
        line_user_id,
        "declared_establishment_id = $2, declared_municipality_code = $3, declared_establishment_on = $4",
        establishment_id,
        city,
        on,
    )


async def set_city(conn: Connection, line_user_id: str, municipality_code: str | None) -> None:
    city = None
    if municipality_code is not None:
        try:
            city = normalize_municipality_code(municipality_code)
        except ValueError as error:
            raise SubscriberError(f"municipality_code: {error}") from None
    await _update(conn, line_user_id, "declared_municipality_code = $2", city)


async def set_nationality(conn: Connection, line_user_id: str, nationality: str | None) -> None:
    code = None if nationality is None else nationality.upper()
    if code is not None and not is_country_code(code):
        raise SubscriberError(f"nationality: {nationality!r} is not an ISO 3166-1 alpha-2 code")
    await _update(conn, line_user_id, "declared_nationality = $2", code)


async def set_residence_status(
    conn: Connection, line_user_id: str, residence_status: ResidenceStatus | None
) -> None:
    value = None if residence_status is None else ResidenceStatus(residence_status).value
    await _update(conn, line_user_id, "declared_residence_status = $2", value)


async def set_opted_out(
    conn: Connection, line_user_id: str, categories: Iterable[NoticeCategory | str]
) -> None:
    """Replace the categories the subscriber does not want to receive."""
    chosen = sorted({NoticeCategory(c).value for c in categories})
    await _update(conn, line_user_id, "opted_out_categories = $2", chosen)


async def set_stopped(conn: Connection, line_user_id: str, stopped: bool, *, at: datetime) -> None:
    """ "Stop everything" (still following, receives nothing) or resume."""
    await _update(conn, line_user_id, "stopped_at = $2", at if stopped else None)


async def link_worker(
    conn: Connection, line_user_id: str, *, worker_id: str, consent_version: str, at: datetime
) -> str | None:
    """Link the subscriber to the employment record ``worker_id`` with consent given at ``at``.

    A worker has one linked LINE account: a link held by another account moves here. Returns that
    other account's id, if any. The record's values are copied at once. Call
    :meth:`services.router.reminders.ReminderPlanner.evaluate` afterwards (same transaction) so that
    reminders already due are raised now rather than at the next periodic run.
    """
    if not consent_version or len(consent_version) > 64:
        raise SubscriberError("consent_version: required, at most 64 characters")
    previous = await conn.fetchval(
        "SELECT line_user_id FROM subscribers WHERE worker_id = $1 AND line_user_id <> $2 FOR UPDATE",
        worker_id,
        line_user_id,
    )
    if previous is not None:
        await unlink_worker(conn, previous)
    await _update(
        conn,
        line_user_id,
        "worker_id = $2, consented_at = $3, consent_version = $4",
        worker_id,
        at,
        consent_version,
    )
    await refresh_records(conn, [worker_id])
    return str(previous) if previous is not None else None


async def unlink_worker(conn: Connection, line_user_id: str) -> None:
    """Withdraw consent: drop the link and every value copied from the record."""
    await _update(
        conn,
        line_user_id,
        "worker_id = NULL, consented_at = NULL, consent_version = NULL, record_establishment_id = NULL,"
        " record_municipality_code = NULL, record_nationality = NULL, record_residence_status = NULL,"
        " record_period_expires_on = NULL, record_state_on = NULL",
    )
    await conn.execute(
        "DELETE FROM reminder_deliveries WHERE line_user_id = $1 AND state = 'pending'", line_user_id
    )


async def erase_subscriber(conn: Connection, line_user_id: str, *, on: date) -> bool:
    """ "Delete my data": the row, its link and pending reminders go; one anonymous count stays.

    LINE user ids in audience snapshots of past notices expire with their retention period
    (``GUNMA_ROUTER_RECIPIENTS_RETENTION_DAYS``).
    """
    await conn.execute("DELETE FROM reminder_deliveries WHERE line_user_id = $1", line_user_id)
    status = await conn.execute("DELETE FROM subscribers WHERE line_user_id = $1", line_user_id)
    if not status.endswith(" 1"):
        return False
    await conn.execute(
        """
        INSERT INTO subscriber_erasures (erased_on, erasures) VALUES ($1, 1)
        ON CONFLICT (erased_on) DO UPDATE SET erasures = subscriber_erasures.erasures + 1
        """,
        on,
    )
    return True
