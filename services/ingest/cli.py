"""Command line for the ingest service: push a monthly CSV extract and show what became of it.

    python -m services.ingest.cli push-csv extract.csv --url https://ingest.example --key "$KEY"

The file is streamed (never read whole), with a progress bar; the answer's summary and the rows that
were not accepted are printed, and the whole per-row report can be saved with ``--output``. The key
can come from ``GUNMA_INGEST_API_KEY`` instead of the command line (which shells keep in history).
Exit status: 0 every row accepted (or already accepted), 1 some rows rejected, 2 the upload failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

app = typer.Typer(help="Gunma Model ingest: send data in from the command line.", no_args_is_help=True)
_CHUNK = 1024 * 1024


@app.callback()
def _main() -> None:
    """Commands for the ingest service."""


def _chunks(path: Path, progress: Progress, task: Any) -> Iterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(_CHUNK):
            progress.update(task, advance=len(block))
            yield block


def _problem(console: Console, response: httpx.Response) -> None:
    try:
        body = orjson.loads(response.read())
    except orjson.JSONDecodeError:
        console.print(f"[red]HTTP {response.status_code}[/red] {response.text[:2000]}")
        return
    console.print(f"[red]HTTP {response.status_code} {body.get('title', '')}[/red]: {body.get('detail', '')}")
    for error in body.get("errors", [])[:50]:
        console.print(f"  {error.get('field')}: {error.get('reason')}")
    summary = body.get("summary")
    if summary:
        console.print(
            f"  processed before the stop: accepted {summary.get('accepted')}, "
            f"duplicates {summary.get('duplicates')}, rejected {summary.get('rejected')}"
        )


@app.command("push-csv")
def push_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file")],
    url: Annotated[str, typer.Option(envvar="GUNMA_INGEST_URL", help="Base URL of the ingest service")] = (
        "http://127.0.0.1:8001"
    ),
    key: Annotated[
        str, typer.Option(envvar="GUNMA_INGEST_API_KEY", help="A feed API key (gmk_...)", show_default=False)
    ] = "",
    charset: Annotated[
        str | None, typer.Option(help="The file's encoding if known (shift_jis, utf-8); else detected")
    ] = None,
    report: Annotated[str, typer.Option(help="problems: rows not accepted; all: every row")] = "problems",
    output: Annotated[Path | None, typer.Option(help="Save the whole per-row report (NDJSON) here")] = None,
    show: Annotated[int, typer.Option(help="How many problem rows to print")] = 20,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the answer once the file is sent")
    ] = 3600,
) -> None:
    """Stream FILE to POST /v1/employment-events/csv and print the summary and the problem rows."""
    console = Console(stderr=True)
    if not key:
        console.print("[red]no API key: pass --key or set GUNMA_INGEST_API_KEY[/red]")
        raise typer.Exit(2)
    if report not in ("problems", "all"):
        console.print("[red]--report must be problems or all[/red]")
        raise typer.Exit(2)
    content_type = "text/csv" + (f"; charset={charset}" if charset else "")
    size = file.stat().st_size
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"sending {file.name}", total=size)
            with httpx.stream(
                "POST",
                f"{url.rstrip('/')}/v1/employment-events/csv",
                params={"report": report, "filename": file.name},
                content=_chunks(file, progress, task),
                headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
                timeout=httpx.Timeout(60, read=timeout),
            ) as response:
                progress.update(task, description="waiting for the report")
                if response.status_code != 200:
                    progress.stop()
                    _problem(console, response)
                    raise typer.Exit(2)
                summary, problems = _read_report(response, output, show)
    except httpx.HTTPError as error:
        console.print(f"[red]upload failed:[/red] {error}")
        raise typer.Exit(2) from None
    _print(console, summary, problems, show, output)
    raise typer.Exit(1 if summary.get("rejected") else 0)


def _read_report(
    response: httpx.Response, output: Path | None, show: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = response.iter_lines()
    summary: dict[str, Any] = orjson.loads(next(lines))
    problems: list[dict[str, Any]] = []
    sink = output.open("w", encoding="utf-8") if output else None
    try:
        if sink:
            sink.write(orjson.dumps(summary).decode() + "\n")
        for line in lines:
            if not line:
                continue
            if sink:
                sink.write(line + "\n")
            if len(problems) < show:
                row = orjson.loads(line)
                if row.get("status") != "accepted":
                    problems.append(row)
    finally:
        if sink:
            sink.close()
    return summary, problems


def _print(
    console: Console, summary: dict[str, Any], problems: list[dict[str, Any]], show: int, output: Path | None
) -> None:
    out = Console()
    table = Table(title=f"upload {summary.get('upload_id')}", show_header=False)
    for name in ("rows", "accepted", "duplicates", "rejected", "blank_rows", "encoding", "seconds"):
        table.add_row(name, str(summary.get(name)))
    ignored = summary.get("ignored_columns") or {}
    if ignored.get("personal"):
        table.add_row("not kept (names)", ", ".join(ignored["personal"]))
    if ignored.get("unknown"):
        table.add_row("unknown columns", ", ".join(ignored["unknown"]))
    out.print(table)
    if problems:
        rows = Table(
            "row", "status", "column", "reason", title=f"first {min(show, len(problems))} problem rows"
        )
        for problem in problems:
            errors = problem.get("errors") or [{"column": "", "reason": problem.get("detail", "")}]
            for error in errors:
                rows.add_row(
                    str(problem.get("row")),
                    problem.get("status", ""),
                    error.get("column", ""),
                    error["reason"],
                )
        out.print(rows)
    if output:
        console.print(f"full report: {output}")


def main() -> None:
    app(prog_name="python -m services.ingest.cli")


if __name__ == "__main__":
    main()
