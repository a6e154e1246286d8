"""``gunma csv push FILE``: stream a government CSV extract to ingest (POST /v1/employment-events/csv).

This is ``python -m services.ingest.cli push-csv`` with the ops CLI's URL and key settings: the upload,
the progress bar, the report and the exit status are that command's (0 every row accepted or already
accepted, 1 some rows rejected, 2 the upload failed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.ingest import cli as ingest_cli

from . import http
from .common import State

app = typer.Typer(help="Government CSV extracts: push one to ingest.", no_args_is_help=True)


@app.command()
def push(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="the CSV file (Shift_JIS or UTF-8)"),
    ],
    charset: Annotated[
        str | None, typer.Option(help="the file's encoding if known (shift_jis, utf-8); else detected")
    ] = None,
    report: Annotated[str, typer.Option(help="problems: rows not accepted; all: every row")] = "problems",
    output: Annotated[Path | None, typer.Option(help="save the whole per-row report (NDJSON) here")] = None,
    show: Annotated[int, typer.Option(min=0, help="how many problem rows to print")] = 20,
    timeout: Annotated[
        float, typer.Option(min=1, help="seconds to wait for the report once the file is sent")
    ] = 3600,
    ingest_url: http.IngestUrlOption = None,
    api_key: http.ApiKeyOption = None,
) -> None:
    """Stream FILE to ingest with a progress bar, then print the summary and the rows not accepted
    (needs a feed key). Re-sending a file is safe: rows accepted before count as duplicates."""
    state: State = ctx.obj
    api = http.ingest(state, ingest_url, api_key)
    ingest_cli.push_csv(
        file=file,
        url=api.base_url,
        key=api.key,
        charset=charset,
        report=report,
        output=output,
        show=show,
        timeout=timeout,
    )
