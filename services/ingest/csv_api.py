"""POST /v1/employment-events/csv: a monthly extract, streamed in, answered with a per-row report.

The answer (200, ``application/x-ndjson``) is one JSON object per line: first the summary
(``"kind": "summary"``: rows, accepted, duplicates, rejected, the encoding and columns found), then one
line per row that was not simply accepted (``?report=all``: every row), each with its row number (as a
spreadsheet shows it: the header is row 1), status, and for rejections every column and reason.
422 when the header cannot be used, when no row at all could be taken, or when the file cannot be read
to the end (rows before that point are kept: send the fixed file again, they come back as duplicates).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.requests import ClientDisconnect

from services.common.auth import Principal, Role
from services.common.problems import Problem

from .csv_upload import CsvUpload, ReportMode, header_table
from .domain.csv_rows import HeaderError
from .domain.csv_stream import CsvFormatError
from .http_common import Ingest, check_length, guard, problem_responses

_MEDIA_TYPES = frozenset(
    {
        "text/csv",
        "application/csv",
        "text/plain",
        "text/tab-separated-values",
        "application/vnd.ms-excel",
        "application/octet-stream",
    }
)

_REPORT_DOC = """\
One JSON object per line. The first is the summary:
`{"kind": "summary", "upload_id", "rows", "accepted", "duplicates", "rejected", "blank_rows", "encoding",
"delimiter", "columns": {header: field}, "ignored_columns": {"personal": [...], "unknown": [...]},
"report", "seconds"}`; then, in row order, one line per row that was not simply accepted:
`{"row": 7, "status": "rejected", "errors": [{"column": "在留期間満了日", "field": "period_expires_on",
"reason": "..."}]}` or `{"row": 9, "status": "duplicate", "source_event_id", "event_id", "detail"}`
(with `?report=all` also `{"row": 2, "status": "accepted", "event_id"}`)."""


class _TooLargeError(Exception):
    pass


def _charset(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "text/csv")
    media, _, params = content_type.partition(";")
    if media.strip().lower() not in _MEDIA_TYPES:
        raise Problem(
            415,
            "Unsupported media type",
            f"send the file as text/csv (optionally with a charset), not {media.strip()!r}",
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def routes(ingest: Ingest) -> APIRouter:
    router = APIRouter(tags=["employment feed"])
    settings = ingest.settings
    feed_key = Annotated[Principal, Depends(guard(ingest, Role.FEED))]

    @router.post(
        "/v1/employment-events/csv",
        summary="Upload a CSV extract of employment status notifications (streamed)",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "Every row was read and every good row is durably recorded. " + _REPORT_DOC,
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            },
            **problem_responses(400, 401, 403, 413, 415, 422, 429),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The CSV file. Japanese or English headers (see docs/ingest.md and "
                "x-accepted-headers); UTF-8 with or without BOM, Shift_JIS/CP932 or UTF-16.",
                "content": {
                    "text/csv": {
                        "schema": {"type": "string", "format": "binary"},
                        "x-accepted-headers": header_table(),
                    }
                },
            }
        },
    )
    async def upload_csv(
        request: Request,
        principal: feed_key,
        report: Annotated[
            ReportMode, Query(description="problems: rejected and duplicate rows; all: every row")
        ] = "problems",
        filename: Annotated[
            str | None, Query(max_length=255, description="For the upload's audit record")
        ] = None,
    ) -> Response:
        """Rows are read as they arrive and recorded in chunks; good rows go through when others are bad."""
        charset = _charset(request)
        limit = settings.max_csv_body_bytes
        check_length(request, limit)
        try:
            upload = CsvUpload(ingest, principal, charset=charset, report=report, filename=filename)
        except CsvFormatError as error:
            raise Problem(415, "Unsupported charset", str(error)) from None
        await upload.begin()
        size = 0
        try:
            async for data in request.stream():
                size += len(data)
                if size > limit:
                    raise _TooLargeError
                await upload.feed(data)
            await upload.finish()
        except HeaderError as error:
            await _abort(upload, str(error) or "unusable header", keep_rows=False)
            raise Problem(
                422,
                "Unusable header",
                f"the header row cannot be used: {error}",
                errors=[{"field": f"header: {p.column}", "reason": p.reason} for p in error.problems],
                accepted_headers=header_table(),
            ) from None
        except CsvFormatError as error:
            await _abort(upload, str(error), keep_rows=True)
            raise Problem(
                422,
                "The file could not be read to the end",
                f"{error}. {_progress(upload)}",
                errors=[{"field": f"row {upload.last_row}", "reason": str(error)}],
                summary=upload.summary(),
            ) from None
        except _TooLargeError:
            await _abort(upload, "body too large", keep_rows=True)
            raise Problem(
                413,
                "Request body too large",
                f"an upload may be at most {limit} bytes. {_progress(upload)}",
                summary=upload.summary(),
            ) from None
        except ClientDisconnect:
            await _abort(upload, "the client closed the connection mid-upload", keep_rows=True)
            return Response(status_code=400)  # nobody is listening any more
        except BaseException:
            await _abort(upload, "internal error", keep_rows=False)
            raise
        counts = upload.counts
        if counts.rows and not counts.accepted and not counts.duplicates:
            lines = upload.first_lines(settings.csv_problem_rows)
            summary = upload.summary()
            upload.close()
            raise Problem(
                422,
                "No row could be accepted",
                f"all {counts.rows} rows were rejected; the first problems are listed",
                errors=[
                    {"field": f"row {line['row']}: {e['column']}", "reason": e["reason"]}
                    for line in lines
                    for e in line.get("errors", [])
                ],
                summary=summary,
            )
        return StreamingResponse(upload.report(), media_type="application/x-ndjson")

    return router


async def _abort(upload: CsvUpload, reason: str, *, keep_rows: bool) -> None:
    try:
        await upload.abort(reason, keep_rows=keep_rows)
    finally:
        upload.close()


def _progress(upload: CsvUpload) -> str:
    c = upload.counts
    return (
        f"Rows up to {upload.last_row} were processed (accepted {c.accepted}, duplicates {c.duplicates}, "
        f"rejected {c.rejected}); send the corrected file again: accepted rows come back as duplicates."
    )
