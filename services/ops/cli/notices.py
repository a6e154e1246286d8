"""``gunma notices``: create a notice (ingest POST /v1/notices), follow it, cancel it (router /v1/notices).

``create`` checks the notice locally with ingest's own model first (so a typo is reported before
anything is sent), then posts it with an ``Idempotency-Key``: a retry after a lost answer returns the
same notice instead of a second one. The key is printed; pass it again with ``--idempotency-key`` to
retry safely from another shell. The notice id goes to stdout alone (``ID=$(gunma notices create ...)``).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.common.contracts import NoticeCategory, Priority
from services.ingest.domain.notices import NoticeIn

from . import http
from .audience import (
    CityOption,
    EmployerOption,
    LanguageOption,
    NationalityOption,
    StatusOption,
    given_audience,
    option_errors,
)
from .common import CliError, State, err, out

app = typer.Typer(
    help="Staff notices: create one, see where notices stand, cancel one before it is sent.",
    no_args_is_help=True,
)


class SourceLanguage(StrEnum):
    """The languages a notice may be written in (translate starts from them)."""

    JA = "ja"
    EN = "en"


#: A send time without an offset is read in the prefecture's time zone.
ZONE = ZoneInfo("Asia/Tokyo")
#: States after which nothing changes any more by itself.
FINAL_STATES = frozenset({"cancelled"})


def _text(value: str | None, path: Path | None, name: str) -> str:
    if value is not None and path is not None:
        raise CliError(f"give --{name} or --{name}-file, not both")
    if path is not None:
        try:
            text = (
                typer.get_text_stream("stdin").read()
                if str(path) == "-"
                else path.read_text(encoding="utf-8")
            )
        except (OSError, UnicodeDecodeError) as error:
            raise CliError(f"--{name}-file: cannot read {path}: {error}") from None
        return text.strip("\n")
    if value is None:
        raise CliError(f"missing --{name} (or --{name}-file FILE, '-' for stdin)")
    return value


def send_time(value: str | None, now: datetime | None = None) -> datetime | None:
    """ISO 8601; without an offset it is Japan time (Asia/Tokyo)."""
    if value is None or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CliError(
            f"--send-at: {value!r} is not an ISO 8601 time such as 2026-12-01T09:00 (Japan time) "
            "or 2026-12-01T00:00:00Z"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=ZONE)


def notice_body(
    *,
    title: str,
    body: str,
    source_language: str,
    category: NoticeCategory,
    priority: Priority,
    send_at: datetime | None,
    audience: dict[str, list[str]],
) -> dict[str, Any]:
    """The request body, checked and normalised with ingest's model (the service's rules and messages)."""
    data = {
        "title": title,
        "body": body,
        "source_language": source_language,
        "category": category.value,
        "priority": priority.value,
        "send_at": send_at.isoformat() if send_at else None,
        "audience": audience,
    }
    try:
        notice = NoticeIn.model_validate(data)
    except ValidationError as error:
        raise CliError(
            option_errors(error, {"title": "--title", "body": "--body", "send_at": "--send-at"})
        ) from None
    problem = notice.send_at_problem(datetime.now(ZONE))
    if problem:
        raise CliError(f"--send-at: {problem}")
    return notice.model_dump(mode="json")


@app.command()
def create(
    ctx: typer.Context,
    category: Annotated[
        NoticeCategory,
        typer.Option(help="what it is about (recipients may opt out per category)", case_sensitive=False),
    ],
    title: Annotated[str | None, typer.Option(help="the title (at most 200 characters)")] = None,
    title_file: Annotated[Path | None, typer.Option(help="read the title from a file ('-': stdin)")] = None,
    body: Annotated[
        str | None, typer.Option(help="the text; placeholders {date}, {city}, {employer}; '{{' for a brace")
    ] = None,
    body_file: Annotated[
        Path | None, typer.Option(help="read the text from a UTF-8 file ('-': stdin)")
    ] = None,
    source_language: Annotated[
        SourceLanguage, typer.Option(help="the language it is written in", case_sensitive=False)
    ] = SourceLanguage.JA,
    priority: Annotated[
        Priority, typer.Option(help="emergency ignores quiet hours", case_sensitive=False)
    ] = Priority.NORMAL,
    send_at: Annotated[
        str | None,
        typer.Option(
            help="when to send, ISO 8601 (Japan time without an offset); default: as soon as allowed"
        ),
    ] = None,
    city: CityOption = None,
    nationality: NationalityOption = None,
    language: LanguageOption = None,
    residence_status: StatusOption = None,
    employer: EmployerOption = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="repeat a create safely: the same key and text return the same notice (default: new)"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check and print the request; send nothing")
    ] = False,
    ingest_url: http.IngestUrlOption = None,
    api_key: http.ApiKeyOption = None,
    as_json: http.JsonOption = False,
) -> None:
    """Submit a notice through ingest (needs a staff key). Prints the notice id on stdout.

    Each audience option narrows who receives it; none means every subscriber (a city-scoped key:
    everyone in its cities). See the count first with 'gunma audience count' and the same options.
    """
    state: State = ctx.obj
    request = notice_body(
        title=_text(title, title_file, "title"),
        body=_text(body, body_file, "body"),
        source_language=source_language.value,
        category=category,
        priority=priority,
        send_at=send_time(send_at),
        audience=given_audience(city, nationality, language, residence_status, employer),
    )
    key = idempotency_key or str(uuid.uuid4())
    if dry_run:
        err.print(f"[yellow]dry run[/yellow]: POST /v1/notices with Idempotency-Key {key}")
        print(orjson.dumps(request, option=orjson.OPT_INDENT_2).decode())
        return
    api = http.ingest(state, ingest_url, api_key)
    response = api.request("POST", "/v1/notices", json=request, headers={"Idempotency-Key": key}, retry=True)
    answer = response.json()
    if as_json:
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
        return
    replayed = response.headers.get("Idempotent-Replayed") == "true"
    verb = "already accepted (same Idempotency-Key)" if replayed else "accepted"
    when = answer.get("send_at") or "as soon as allowed"
    cities = answer.get("audience", {}).get("cities") or []
    err.print(
        f"[green]{verb}[/green]: notice [bold]{answer['notice_id']}[/bold], {answer.get('priority')}, "
        f"send {when}, cities {', '.join(cities) or 'all'} (Idempotency-Key {key}); "
        f"follow it with: gunma notices status {answer['notice_id']} --watch"
    )
    print(answer["notice_id"])


@app.command()
def status(
    ctx: typer.Context,
    notice_id: Annotated[
        str | None, typer.Argument(help="a notice id; without one: the latest notices")
    ] = None,
    state_filter: Annotated[
        str | None, typer.Option("--state", help="list only: scheduled, publishing, planned or cancelled")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="list only: how many")] = 50,
    watch: Annotated[
        bool, typer.Option("--watch", help="with an id: progress bars until every batch is reported")
    ] = False,
    interval: Annotated[float, typer.Option(min=0.2, max=600, help="--watch: seconds between looks")] = 2.0,
    timeout: Annotated[float, typer.Option(min=1, help="--watch: stop after this many seconds")] = 3600.0,
    router_url: http.RouterUrlOption = None,
    api_key: http.ApiKeyOption = None,
    as_json: http.JsonOption = False,
) -> None:
    """Where notices stand: the latest ones, or one notice's schedule and its recipients per language
    (planned, sent, failed, unreachable, pending)."""
    state: State = ctx.obj
    api = http.router(state, router_url, api_key)
    if notice_id is None:
        if watch:
            raise CliError("--watch needs a notice id")
        params: dict[str, Any] = {"limit": limit}
        if state_filter:
            params["state"] = state_filter
        notices = api.request("GET", "/v1/notices", params=params).json()
        if as_json:
            print(orjson.dumps(notices, option=orjson.OPT_INDENT_2).decode())
            return
        _print_list(notices)
        return
    ident = _notice_id(notice_id)
    if watch:
        _watch(api, ident, interval=interval, timeout=timeout)
        return
    answer = api.request("GET", f"/v1/notices/{ident}").json()
    if as_json:
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
        return
    print_status(answer)


@app.command()
def cancel(
    ctx: typer.Context,
    notice_id: Annotated[str, typer.Argument(help="the notice id")],
    router_url: http.RouterUrlOption = None,
    api_key: http.ApiKeyOption = None,
) -> None:
    """Cancel a notice that has not been released yet (needs a staff key); refused once it is sent."""
    state: State = ctx.obj
    api = http.router(state, router_url, api_key)
    ident = _notice_id(notice_id)
    api.request("POST", f"/v1/notices/{ident}/cancel", retry=True)
    err.print(f"[green]cancelled[/green] notice [bold]{ident}[/bold]")


def _notice_id(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise CliError(f"{value!r} is not a notice id (a UUID such as 0b6f4c9e-...)") from None


def _print_list(notices: list[dict[str, Any]]) -> None:
    table = Table("notice", "state", "priority", "category", "title", "submitted", "release", "recipients")
    for n in notices:
        table.add_row(
            str(n.get("notice_id")),
            str(n.get("state")),
            str(n.get("priority")),
            str(n.get("category")),
            escape(str(n.get("title", ""))[:60]),
            _time(n.get("submitted_at")),
            _time(n.get("release_at")),
            "" if n.get("recipients") is None else str(n["recipients"]),
        )
    table.title = f"{len(notices)} notices"
    out.print(table)


def _time(value: Any) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value)).astimezone(ZONE).strftime("%Y-%m-%d %H:%M JST")
    except ValueError:
        return str(value)


def print_status(answer: dict[str, Any]) -> None:
    head = Table(show_header=False, title=f"notice {answer.get('notice_id')}")
    for label, key in (
        ("title", "title"),
        ("state", "state"),
        ("priority", "priority"),
        ("category", "category"),
        ("submitted by (key id)", "submitted_by"),
    ):
        head.add_row(label, escape(str(answer.get(key, ""))))
    for label, key in (
        ("submitted", "submitted_at"),
        ("send at", "send_at"),
        ("release at", "release_at"),
        ("released", "released_at"),
        ("planned", "planned_at"),
        ("cancelled", "cancelled_at"),
    ):
        if answer.get(key):
            head.add_row(label, _time(answer[key]))
    if answer.get("held_reason"):
        head.add_row("held", escape(str(answer["held_reason"])))
    if answer.get("recipients") is not None:
        head.add_row("recipients", f"{answer['recipients']} in {answer.get('batches')} batches")
    if answer.get("dropped_cities"):
        head.add_row("cities outside the key's scope", ", ".join(answer["dropped_cities"]))
    out.print(head)
    columns = ("batches", "published_batches", "planned", "sent", "failed", "unreachable", "pending")
    table = Table("language", "batches", "published", "planned", "sent", "failed", "unreachable", "pending")
    for row in answer.get("languages", []):
        table.add_row(row.get("language", ""), *(str(row.get(c, 0)) for c in columns))
    totals = answer.get("totals") or {}
    if answer.get("languages"):
        table.add_section()
        table.add_row("total", *(str(totals.get(c, 0)) for c in columns))
    out.print(table)


def _watch(api: http.Api, notice_id: str, *, interval: float, timeout: float) -> None:
    """Progress bars (sent + failed of planned, per language) until nothing is pending or ``timeout``."""
    deadline = time.monotonic() + timeout
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        waiting = progress.add_task("router", total=None, note="waiting for the notice", start=True)
        final: dict[str, Any] | None = None
        while final is None:
            answer = _look(api, notice_id)
            if answer is not None:
                progress.update(waiting, note=_phase(answer), total=1, completed=_done_phase(answer))
                for row in answer.get("languages", []):
                    language = str(row.get("language"))
                    if language not in tasks:
                        tasks[language] = progress.add_task(language, total=row.get("planned") or 0, note="")
                    done = int(row.get("sent", 0)) + int(row.get("failed", 0))
                    note = f"failed {row['failed']}" if row.get("failed") else ""
                    progress.update(tasks[language], total=row.get("planned") or 0, completed=done, note=note)
                if _finished(answer):
                    final = answer
                    continue
            if time.monotonic() >= deadline:
                raise CliError(
                    f"still not finished after {timeout:g} s; "
                    f"look again with: gunma notices status {notice_id}"
                )
            time.sleep(interval)
    print_status(final)


def _look(api: http.Api, notice_id: str) -> dict[str, Any] | None:
    """The notice's status, or None while the router has not received it yet (404)."""
    try:
        answer: dict[str, Any] = api.request("GET", f"/v1/notices/{notice_id}").json()
    except http.ApiError as error:
        if error.status == 404:
            return None
        raise
    return answer


def _phase(answer: dict[str, Any]) -> str:
    state = str(answer.get("state"))
    if state == "scheduled":
        return f"scheduled for {_time(answer.get('release_at'))}" + (
            f" (held: {answer['held_reason']})" if answer.get("held_reason") else ""
        )
    return state


def _done_phase(answer: dict[str, Any]) -> int:
    return 1 if answer.get("state") in ("planned", "cancelled") else 0


def _finished(answer: dict[str, Any]) -> bool:
    if answer.get("state") in FINAL_STATES:
        return True
    totals = answer.get("totals") or {}
    return answer.get("state") == "planned" and int(totals.get("pending", 1)) == 0
