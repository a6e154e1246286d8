"""``gunma dlq``: see what was dead-lettered and why; replay it into its source topic, once."""

from __future__ import annotations

import getpass
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.common import logs
from services.ops import dlq

from .common import KAFKA_ERRORS, CliError, State, database, err, kafka_error, out, run

app = typer.Typer(
    help="Dead-letter topics (<topic>.dlq): records a consumer could never process, with the reason.",
    no_args_is_help=True,
)

TopicArgument = Annotated[
    str,
    typer.Argument(
        help="dead-letter topic, e.g. deliveries.planned.v1.dlq ('.dlq' and GUNMA_KAFKA_TOPIC_PREFIX "
        "are added when missing)"
    ),
]


@app.command("list")
def list_topics(ctx: typer.Context) -> None:
    """Every dead-letter topic with the records it holds and how many were replayed."""
    state: State = ctx.obj

    async def go() -> tuple[dict[str, int], dict[str, int] | None]:
        counts = await dlq.dead_letter_topics(state.bootstrap, state.prefix)
        try:
            async with database(state) as conn:
                exists = await conn.fetchval("SELECT to_regclass('ops_dlq_replays') IS NOT NULL")
                rows = (
                    await conn.fetch(
                        "SELECT dlq_topic, count(*) AS n FROM ops_dlq_replays GROUP BY dlq_topic"
                    )
                    if exists
                    else []
                )
            return counts, {r["dlq_topic"]: r["n"] for r in rows}
        except CliError as error:
            err.print(f"[yellow]replay counts unavailable[/yellow]: {escape(str(error))}")
            return counts, None

    try:
        counts, replayed = run(go())
    except KAFKA_ERRORS as error:
        raise kafka_error(state, error) from None
    table = Table(
        "dead-letter topic", "records", "replayed", title=f"dead-letter topics at {state.bootstrap}"
    )
    for name, count in counts.items():
        table.add_row(name, str(count), "?" if replayed is None else str(replayed.get(name, 0)))
    out.print(table)


@app.command()
def show(
    ctx: typer.Context,
    topic: TopicArgument,
    limit: Annotated[int, typer.Option(min=0, help="records to list (0: only the summary)")] = 20,
    from_offset: Annotated[int, typer.Option(min=0, help="first offset to list")] = 0,
    payload: Annotated[
        bool,
        typer.Option(
            "--payload", help="also print each record's value (may hold personal data: handle accordingly)"
        ),
    ] = False,
) -> None:
    """Why records were dead-lettered: a summary by consumer, error type and reason, then the records."""
    state: State = ctx.obj
    name = dlq.resolve(topic, state.prefix)

    async def go() -> list[dlq.DeadLetter]:
        async with aclosing(dlq.read(state.bootstrap, name)) as letters:
            return [letter async for letter in letters]

    try:
        letters = run(go())
    except dlq.DlqError as error:
        raise CliError(str(error)) from None
    except KAFKA_ERRORS as error:
        raise kafka_error(state, error) from None

    summary = Table("consumer", "error type", "reason", "records", title=f"{name}: {len(letters)} records")
    for consumer, error_type, reason, count in dlq.summarize(letters):
        summary.add_row(consumer, error_type, escape(logs.scrub(reason)), str(count))
    out.print(summary)
    listed = [x for x in letters if x.offset >= from_offset][:limit]
    if not listed:
        return
    records = Table("offset", "failed at", "consumer", "type", "source p/o", "event", "reason")
    if payload:
        records.add_column("payload")
    for letter in listed:
        event = " ".join(filter(None, (letter.header("x-event-type"), letter.header("x-event-id"))))
        row = [
            str(letter.offset),
            letter.failed_at[:19] or _when(letter.timestamp_ms),
            letter.consumer,
            letter.error_type,
            letter.source_position,
            event,
            escape(logs.scrub(letter.reason[:300])),
        ]
        if payload:
            row.append(escape(letter.value[:500].decode("utf-8", "replace")))
        records.add_row(*row)
    out.print(records)


def _when(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@app.command()
def replay(
    ctx: typer.Context,
    topic: TopicArgument,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="count what would be replayed; publish nothing")
    ] = False,
    error_type: Annotated[
        list[str] | None,
        typer.Option("--error-type", help="only these x-dlq-error-type values (invalid, permanent, ...)"),
    ] = None,
    consumer: Annotated[
        list[str] | None, typer.Option("--consumer", help="only records this consumer group dead-lettered")
    ] = None,
    from_offset: Annotated[int | None, typer.Option(min=0, help="first dead-letter offset to replay")] = None,
    to_offset: Annotated[int | None, typer.Option(min=0, help="last dead-letter offset to replay")] = None,
    by: Annotated[str | None, typer.Option(help="who replays (recorded); default: the OS user")] = None,
) -> None:
    """Publish dead letters back to their source topic without the x-dlq-* headers, each at most once.

    Replayed records are recorded in PostgreSQL (ops_dlq_replays): replaying the same topic again
    publishes only what was not replayed before. Fix the cause first (a deployment, a translation,
    a setting): a record that fails again is dead-lettered again, as a new record that can be replayed.
    """
    state: State = ctx.obj
    name = dlq.resolve(topic, state.prefix)
    select = dlq.Selection(
        error_types=frozenset(error_type or ()),
        consumers=frozenset(consumer or ()),
        offsets=(from_offset, to_offset),
    )
    if from_offset is not None and to_offset is not None and from_offset > to_offset:
        raise CliError("--from-offset is after --to-offset")
    who = by or _os_user()

    async def go() -> dlq.ReplayReport:
        counts = await dlq.dead_letter_topics(state.bootstrap, name)
        if name not in counts:
            raise dlq.DlqError(f"topic {name!r} does not exist")
        async with database(state) as conn:
            if not dry_run:
                await dlq.ensure_schema(conn)
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            ) as progress:
                task = progress.add_task("checking" if dry_run else "replaying", total=counts[name])
                report = await dlq.replay(
                    conn,
                    state.bootstrap,
                    name,
                    replayed_by=who,
                    select=select,
                    dry_run=dry_run,
                    progress=lambda n: progress.advance(task, n),
                )
                progress.update(task, completed=counts[name])
                return report

    try:
        report = run(go())
    except dlq.DlqError as error:
        raise CliError(str(error)) from None
    except KAFKA_ERRORS as error:
        raise kafka_error(state, error) from None
    verb = "would replay" if dry_run else "replayed"
    targets = ", ".join(f"{n} to {t}" for t, n in sorted(report.source_topics.items())) or "nothing"
    err.print(
        f"[green]{verb} {report.replayed}[/green] ({targets}); "
        f"{report.already_replayed} replayed before, {report.not_selected} not selected"
    )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers with a numeric user)
        return "unknown"
