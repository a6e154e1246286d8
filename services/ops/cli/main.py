"""The root of the ``gunma`` command: global options, the command groups, and error handling.

Each group is a module of its own: keys, dlq, topics, schema (migrate) and codes work on PostgreSQL and
Kafka directly; csv, notices, audience and stats call the services' HTTP APIs (http.py: URLs and the
API key from GUNMA_OPS_*). The reference is docs/operations.md, "The ops CLI".
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from services.common.settings import load_settings
from services.ops import codes_cli
from services.ops.settings import OpsSettings

from . import audience, csv, dlq, keys, notices, schema, stats, topics
from .common import CliError, State, err

app = typer.Typer(
    name="gunma",
    help="Operate the Gunma Model system: API keys, dead-letter topics, migrations, Kafka topics, "
    "registration codes, CSV uploads, notices, audiences, statistics.\n\n"
    "Connections come from the same environment variables as the services (GUNMA_DATABASE_URL, "
    "GUNMA_KAFKA_BOOTSTRAP_SERVERS, GUNMA_KAFKA_TOPIC_PREFIX, or GUNMA_OPS_*), or the options below; "
    "the services' APIs from GUNMA_OPS_INGEST_URL, GUNMA_OPS_ROUTER_URL and GUNMA_OPS_API_KEY.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(keys.app, name="keys")
app.add_typer(dlq.app, name="dlq")
app.add_typer(topics.app, name="topics")
app.add_typer(codes_cli.app, name="codes")
app.command("migrate")(schema.command)
app.add_typer(csv.app, name="csv")
app.add_typer(notices.app, name="notices")
app.add_typer(audience.app, name="audience")
app.command("stats")(stats.command)


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL DSN (default: $GUNMA_DATABASE_URL)", show_default=False),
    ] = None,
    bootstrap_servers: Annotated[
        str | None,
        typer.Option(
            help="Kafka host:port[,...] (default: $GUNMA_KAFKA_BOOTSTRAP_SERVERS)", show_default=False
        ),
    ] = None,
    topic_prefix: Annotated[
        str | None,
        typer.Option(help="topic name prefix (default: $GUNMA_KAFKA_TOPIC_PREFIX)", show_default=False),
    ] = None,
) -> None:
    overrides: dict[str, Any] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    if bootstrap_servers is not None:
        overrides["kafka_bootstrap_servers"] = bootstrap_servers
    if topic_prefix is not None:
        overrides["kafka_topic_prefix"] = topic_prefix
    ctx.obj = State(load_settings(OpsSettings, **overrides))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``gunma`` script: user errors are one line on stderr, never a traceback."""
    try:
        app(args=argv, prog_name="gunma")
    except CliError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(error.code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
