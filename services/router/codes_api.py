"""HTTP routes for employer registration codes (issued and revoked by the prefecture per establishment).

| method and path | who |
| --- | --- |
| ``POST /v1/establishments/{id}/registration-codes`` | ops, staff (a city key: its cities only) |
| ``GET /v1/establishments/{id}/registration-codes`` | the same |
| ``POST /v1/establishments/{id}/registration-codes/{code}/revoke`` | the same |
| ``GET /v1/establishments/{id}/registration-codes/{code}/qr.svg`` | the same: the printable QR code |
| ``GET /v1/registration-codes/{code}`` | the same: which establishment a code belongs to |

An establishment the registry does not know yet (the feed lags by weeks) is entered by the issuing call
when it gives ``establishment: {name, municipality_code}``; the feed's first report then replaces those
details. A city key may only issue for, see and revoke codes of establishments in its cities; another
city's establishment is a 404 (its existence is not disclosed), and entering one there is a 403.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.common.auth import KeyStore, Principal, Role, require
from services.common.codes import normalize_municipality_code
from services.common.problems import Problem

from . import registration_codes as rc
from .api import ApiContext
from .dialogue import employer_code

EstablishmentPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9A-Za-z-]{1,32}$",
        description="雇用保険適用事業所番号 (or another stable id), with or without hyphens",
    ),
]
CodePath = Annotated[str, Path(min_length=8, max_length=40, description="GM-7KQ2-9XPJ, or the 8 symbols")]


class EstablishmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    municipality_code: str = Field(description="全国地方公共団体コード, 5 or 6 digits")
    address: str | None = Field(default=None, max_length=300)


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: required when the registry does not know the establishment yet
    establishment: EstablishmentIn | None = None
    note: str | None = Field(default=None, max_length=200, description="e.g. 'poster, canteen'")
    #: revoke the establishment's other active codes (a leaked code, a yearly rotation)
    revoke_previous: bool = False


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=200)


class CodeOut(BaseModel):
    code: str = Field(description="as printed, e.g. GM-7KQ2-9XPJ")
    symbols: str = Field(description="the 8 symbols without prefix or hyphens")
    active: bool
    establishment_id: str
    establishment_name: str | None
    establishment_from_feed: bool
    municipality_code: str
    city_name_ja: str | None
    city_name_en: str | None
    note: str | None
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    registrations: int = Field(description="subscribers who registered with this code (anonymous count)")
    last_used_at: datetime | None
    #: what the worker's phone sends to the LINE account
    message: str
    #: https://line.me/R/oaMessage/{basic id}/?{code}: opens the chat (adding the account) with the code typed
    deep_link: str | None
    #: the printable QR code of the deep link (this API, same key)
    qr_svg: str | None


def _establishment_id(value: str) -> str:
    return value.replace("-", "").upper()


def build_codes_router(context: Callable[[], ApiContext]) -> APIRouter:
    def keys() -> KeyStore:
        return context().keys

    issuer = require(keys, Role.STAFF, Role.OPS)
    router = APIRouter(prefix="/v1", tags=["registration codes"])

    def out(code: rc.RegistrationCode) -> CodeOut:
        ctx = context()
        shown = employer_code.display(code.code, ctx.code_prefix)
        place = code.establishment
        link = rc.deep_link(ctx.line_basic_id, shown) if ctx.line_basic_id else None
        return CodeOut(
            code=shown,
            symbols=code.code,
            active=code.active,
            establishment_id=place.establishment_id,
            establishment_name=place.name,
            establishment_from_feed=place.from_feed,
            municipality_code=place.municipality_code,
            city_name_ja=place.city_name_ja,
            city_name_en=place.city_name_en,
            note=code.note,
            issued_at=code.issued_at,
            issued_by=code.issued_by,
            revoked_at=code.revoked_at,
            revoked_by=code.revoked_by,
            revoke_reason=code.revoke_reason,
            registrations=code.registrations,
            last_used_at=code.last_used_at,
            message=shown,
            deep_link=link,
            qr_svg=(
                f"/v1/establishments/{place.establishment_id}/registration-codes/{code.code}/qr.svg"
                if link
                else None
            ),
        )

    def in_scope(principal: Principal, municipality_code: str) -> bool:
        return principal.prefecture_wide or municipality_code in principal.cities

    def not_found(establishment_id: str) -> Problem:
        return Problem(
            404,
            "Establishment not found",
            f"no establishment {establishment_id} that this key may see; to register one the feed has not "
            "reported yet, give establishment.name and establishment.municipality_code",
            errors=[{"field": "establishment_id", "reason": "unknown, or outside this key's cities"}],
        )

    def symbols(value: str) -> str:
        body = rc.parse(value, context().code_prefix)
        if body is None:
            raise Problem(
                422,
                "Invalid registration code",
                "a code is 8 symbols with a check symbol, e.g. GM-7KQ2-9XPJ",
                errors=[{"field": "code", "reason": "not a valid registration code"}],
            )
        return body

    async def owned(establishment_id: str, code: str, principal: Principal) -> rc.RegistrationCode:
        async with context().pool.acquire() as conn:
            found = await rc.get(conn, symbols(code))
        if (
            found is None
            or found.establishment.establishment_id != _establishment_id(establishment_id)
            or not in_scope(principal, found.establishment.municipality_code)
        ):
            raise Problem(404, "Code not found", f"no code {code} of establishment {establishment_id}")
        return found

    @router.post(
        "/establishments/{establishment_id}/registration-codes", response_model=CodeOut, status_code=201
    )
    async def issue(
        establishment_id: EstablishmentPath,
        request: IssueRequest,
        principal: Annotated[Principal, Depends(issuer)],
    ) -> CodeOut:
        """Issue a new registration code for an establishment (entering the establishment if needed)."""
        ident = _establishment_id(establishment_id)
        ctx = context()
        async with ctx.pool.acquire() as conn, conn.transaction():
            place = await rc.find_establishment(conn, ident)
            if place is not None and not in_scope(principal, place.municipality_code):
                raise not_found(ident)
            if place is None:
                given = request.establishment
                if given is None:
                    raise not_found(ident)
                try:
                    city = normalize_municipality_code(given.municipality_code)
                except ValueError as error:
                    raise Problem(
                        422,
                        "Invalid establishment",
                        str(error),
                        errors=[{"field": "establishment.municipality_code", "reason": str(error)}],
                    ) from None
                if not in_scope(principal, city):
                    raise Problem(
                        403,
                        "Outside your scope",
                        f"this key may enter establishments in {', '.join(principal.cities)} only",
                        errors=[
                            {
                                "field": "establishment.municipality_code",
                                "reason": "outside this key's cities",
                            }
                        ],
                    )
                await rc.enter_establishment(
                    conn,
                    ident,
                    name=given.name,
                    municipality_code=city,
                    address=given.address,
                    by=principal.key_id,
                )
            elif request.establishment is not None:
                try:
                    given_city = normalize_municipality_code(request.establishment.municipality_code)
                except ValueError:
                    given_city = None
                if given_city != place.municipality_code:
                    raise Problem(
                        409,
                        "Establishment differs from the registry",
                        f"the registry has establishment {ident} in {place.municipality_code}",
                        errors=[
                            {
                                "field": "establishment.municipality_code",
                                "reason": f"the registry says {place.municipality_code}",
                            }
                        ],
                    )
            code = await rc.issue(
                conn,
                ident,
                by=principal.key_id,
                now=ctx.clock(),
                note=request.note,
                revoke_previous=request.revoke_previous,
            )
        return out(code)

    @router.get("/establishments/{establishment_id}/registration-codes", response_model=list[CodeOut])
    async def list_codes(
        establishment_id: EstablishmentPath,
        principal: Annotated[Principal, Depends(issuer)],
        include_revoked: Annotated[bool, Query(description="also revoked codes")] = False,
    ) -> list[CodeOut]:
        """The establishment's codes, newest first."""
        ident = _establishment_id(establishment_id)
        async with context().pool.acquire() as conn:
            place = await rc.find_establishment(conn, ident)
            if place is None or not in_scope(principal, place.municipality_code):
                raise not_found(ident)
            codes = await rc.list_codes(conn, ident, include_revoked=include_revoked)
        return [out(code) for code in codes]

    @router.post(
        "/establishments/{establishment_id}/registration-codes/{code}/revoke", response_model=CodeOut
    )
    async def revoke(
        establishment_id: EstablishmentPath,
        code: CodePath,
        principal: Annotated[Principal, Depends(issuer)],
        request: RevokeRequest | None = None,
    ) -> CodeOut:
        """Revoke a code at once: workers who send it are told to ask for a new one. Again: no change."""
        found = await owned(establishment_id, code, principal)
        ctx = context()
        async with ctx.pool.acquire() as conn:
            revoked = await rc.revoke(
                conn,
                found.code,
                by=principal.key_id,
                now=ctx.clock(),
                reason=request.reason if request else None,
            )
        assert revoked is not None
        return out(revoked)

    @router.get(
        "/establishments/{establishment_id}/registration-codes/{code}/qr.svg",
        response_class=Response,
        responses={200: {"content": {"image/svg+xml": {}}}},
    )
    async def qr(
        establishment_id: EstablishmentPath, code: CodePath, principal: Annotated[Principal, Depends(issuer)]
    ) -> Response:
        """The QR code to print: scanning it opens the chat with the code ready to send."""
        found = await owned(establishment_id, code, principal)
        ctx = context()
        if not ctx.line_basic_id:
            raise Problem(409, "No LINE account ID", "set GUNMA_ROUTER_LINE_BASIC_ID to make deep links")
        if not found.active:
            raise Problem(409, "Code revoked", f"code {code} was revoked; issue a new one")
        shown = employer_code.display(found.code, ctx.code_prefix)
        svg = rc.qr_svg(rc.deep_link(ctx.line_basic_id, shown), title=shown)
        return Response(content=svg, media_type="image/svg+xml")

    @router.get("/registration-codes/{code}", response_model=CodeOut)
    async def find(code: CodePath, principal: Annotated[Principal, Depends(issuer)]) -> CodeOut:
        """Which establishment a code belongs to, and whether it is still valid."""
        async with context().pool.acquire() as conn:
            found = await rc.get(conn, symbols(code))
        if found is None or not in_scope(principal, found.establishment.municipality_code):
            raise Problem(404, "Code not found", f"no code {code} that this key may see")
        return out(found)

    return router
