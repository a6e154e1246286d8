"""``gunma topics``: create this system's topics, and show them with their consumer groups' lag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.table import Table

from services.common.kafka import ensure_topics
from services.ops import kafka_meta

from .common import KAFKA_ERRORS, State, err, kafka_error, out, run

app = typer.Typer(help="Kafka topics of this system (services/common/topics.py).", no_args_is_help=True)


@app.command()
def ensure(
    ctx: typer.Context,
    replication_factor: Annotated[
        int | None,
        typer.Option(min=1, max=5, help="default: GUNMA_KAFKA_REPLICATION_FACTOR (3 in production)"),
    ] = None,
) -> None:
    """Create the missing topics with their partition counts (existing ones are left alone)."""
    state: State = ctx.obj
    factor = replication_factor or state.settings.kafka_replication_factor
    try:
        created = run(ensure_topics(state.bootstrap, state.settings.topics, replication_factor=factor))
    except KAFKA_ERRORS as error:
        raise kafka_error(state, error) from None
    except RuntimeError as error:  # a topic Kafka refused to create, with its reason
        raise kafka_error(state, error) from None
    total = len(state.settings.topics.specs_with_dlq())
    for name in created:
        err.print(f"created {name}")
    err.print(f"[green]{len(created)} created[/green], {total - len(created)} existed already")


@dataclass(frozen=True, slots=True)
class TopicRow:
    name: str
    expected_partitions: int
    partitions: int | None
    records: int | None


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    topic: str
    lag: int
    partitions: int


async def describe_topics(state: State, *, groups: bool) -> tuple[list[TopicRow], list[GroupLag]]:
    specs = state.settings.topics.specs_with_dlq()
    existing = await kafka_meta.partitions(state.bootstrap, [name for name, _ in specs])
    consumer = AIOKafkaConsumer(bootstrap_servers=state.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        rows: list[TopicRow] = []
        ends: dict[TopicPartition, int] = {}
        for name, spec in specs:
            if name not in existing:
                rows.append(TopicRow(name, spec.partitions, None, None))
                continue
            tps = [TopicPartition(name, p) for p in existing[name]]
            topic_ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            ends.update(topic_ends)
            rows.append(
                TopicRow(name, spec.partitions, len(tps), sum(topic_ends[tp] - starts[tp] for tp in tps))
            )
    finally:
        await kafka_meta.stop(consumer)
    lags: list[GroupLag] = []
    if groups:
        lags = await _group_lags(state, ends)
    return rows, lags


async def _group_lags(state: State, ends: dict[TopicPartition, int]) -> list[GroupLag]:
    """Committed-offset lag per group and topic: what KEDA's Kafka scaler sees."""
    admin = AIOKafkaAdminClient(bootstrap_servers=state.bootstrap)
    await admin.start()
    try:
        lags: list[GroupLag] = []
        for group, *_ in sorted(await admin.list_consumer_groups()):
            offsets = await admin.list_consumer_group_offsets(group)
            per_topic: dict[str, tuple[int, int]] = {}
            for tp, meta in offsets.items():
                if tp not in ends or meta.offset < 0:
                    continue
                lag, count = per_topic.get(tp.topic, (0, 0))
                per_topic[tp.topic] = (lag + max(0, ends[tp] - meta.offset), count + 1)
            lags.extend(GroupLag(str(group), t, lag, n) for t, (lag, n) in sorted(per_topic.items()))
        return lags
    finally:
        await admin.close()


@app.command()
def describe(
    ctx: typer.Context,
    groups: Annotated[
        bool, typer.Option("--groups/--no-groups", help="also show consumer groups' lag")
    ] = True,
) -> None:
    """Each topic: partitions (expected and actual), records kept; each consumer group's lag."""
    state: State = ctx.obj
    try:
        rows, lags = run(describe_topics(state, groups=groups))
    except KAFKA_ERRORS as error:
        raise kafka_error(state, error) from None
    table = Table("topic", "partitions", "records", title=f"topics at {state.bootstrap}")
    for row in rows:
        if row.partitions is None:
            table.add_row(row.name, f"[red]missing[/red] (wants {row.expected_partitions})", "")
            continue
        partitions = str(row.partitions)
        if row.partitions != row.expected_partitions:
            partitions = f"[yellow]{row.partitions}[/yellow] (wants {row.expected_partitions})"
        table.add_row(row.name, partitions, str(row.records))
    out.print(table)
    if groups:
        group_table = Table("consumer group", "topic", "partitions", "lag", title="consumer groups")
        for lag in lags:
            group_table.add_row(lag.group, lag.topic, str(lag.partitions), str(lag.lag))
        out.print(group_table)
    missing = [r.name for r in rows if r.partitions is None]
    if missing:
        err.print(f"[yellow]{len(missing)} topic(s) missing[/yellow]: run 'gunma topics ensure'")
