"""The root of the ``gunma`` command: global options, the command groups, and error handling.

Each group is a module of its own (keys, dlq, topics, schema). Commands for the services' HTTP APIs
(push a CSV, notices, audience counts, delivery status, employer registration codes) join as further
groups when those APIs exist; see docs/operations.md.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from services.common.settings import load_settings
from services.ops.settings import OpsSettings

from . import dlq, keys, schema, topics
from .common import CliError, State, err

app = typer.Typer(
    name="gunma",
    help="Operate the Gunma Model system: API keys, dead-letter topics, migrations, Kafka topics.\n\n"
    "Connections come from the same environment variables as the services (GUNMA_DATABASE_URL, "
    "GUNMA_KAFKA_BOOTSTRAP_SERVERS, GUNMA_KAFKA_TOPIC_PREFIX, or GUNMA_OPS_*), or the options below.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(keys.app, name="keys")
app.add_typer(dlq.app, name="dlq")
app.add_typer(topics.app, name="topics")
app.command("migrate")(schema.command)


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
