"""Employer registration codes over the router's API and the ops CLI, on the real database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import orjson
import pytest
from typer.testing import CliRunner

from services.common import db
from services.common.auth import Role, create_key
from services.common.codes import ResidenceStatus
from services.common.contracts import Establishment, WorkerHired
from services.ops.cli.main import app as cli
from services.router import registration_codes, registry
from services.router.dialogue import EmployerCodeAccepted, EmployerCodeRevoked, EmployerCodeUnknown
from services.router.dialogue.employer_code import is_valid
from tests.integration.router.conftest import RunningRouter, worker_id

OIZUMI, OTA = "105244", "102059"


@pytest.fixture(scope="module")
async def router(start_router: Any) -> AsyncIterator[RunningRouter]:
    async with start_router(line_basic_id="@gunma-pref", api_key_cache_seconds=0) as running:
        yield running


@pytest.fixture(scope="module")
async def keys(pool: db.Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        return {
            "prefecture": (await create_key(conn, name="gunma staff", role=Role.STAFF))[0],
            "oizumi": (await create_key(conn, name="oizumi staff", role=Role.STAFF, cities=(OIZUMI,)))[0],
            "ops": (await create_key(conn, name="ops", role=Role.OPS))[0],
            "feed": (await create_key(conn, name="feed", role=Role.FEED))[0],
        }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_id() -> str:
    digits = f"{uuid.uuid4().int % 10**11:011d}"
    return f"{digits[:4]}-{digits[4:10]}-{digits[10]}"


async def feed_establishment(pool: db.Pool, city: str, name: str = "Oizumi Motors") -> str:
    """An establishment as the government feed reports it (with a hire)."""
    ident = new_id()
    async with pool.acquire() as conn, conn.transaction():
        await registry.apply_employment(
            conn,
            [
                WorkerHired(
                    worker_id=worker_id(),
                    source="test",
                    source_event_id=uuid.uuid4().hex,
                    reported_at=datetime.now(UTC),
                    establishment=Establishment(establishment_id=ident, name=name, municipality_code=city),
                    nationality="BR",
                    residence_status=ResidenceStatus.LONG_TERM_RESIDENT,
                    hired_on=datetime.now(UTC).date(),
                )
            ],
        )
    return ident.replace("-", "")


async def test_issue_for_a_known_establishment_with_deep_link_and_qr_code(
    router: RunningRouter, keys: dict[str, str], pool: db.Pool
) -> None:
    ident = await feed_establishment(pool, OIZUMI)
    path = f"/v1/establishments/{ident[:4]}-{ident[4:10]}-{ident[10:]}/registration-codes"
    answer = await router.client.post(
        path, json={"note": "poster, canteen"}, headers=auth(keys["prefecture"])
    )
    assert answer.status_code == 201, answer.text
    code = answer.json()
    assert code["code"].startswith("GM-") and is_valid(code["symbols"])
    assert code["code"] == f"GM-{code['symbols'][:4]}-{code['symbols'][4:]}"
    assert (code["establishment_id"], code["municipality_code"], code["city_name_en"]) == (
        ident,
        OIZUMI,
        "Oizumi",
    )
    assert code["establishment_from_feed"] is True and code["active"] is True and code["registrations"] == 0
    assert code["deep_link"] == f"https://line.me/R/oaMessage/%40gunma-pref/?{code['code']}"
    assert unquote(code["deep_link"].split("?", 1)[1]) == code["message"] == code["code"]
    qr = await router.client.get(code["qr_svg"], headers=auth(keys["prefecture"]))
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in qr.content and code["code"].encode() in qr.content  # the title
    # The conversation's look-up finds it.
    async with pool.acquire() as conn:
        found = await registration_codes.lookup(conn, code["symbols"])
    assert found.result == EmployerCodeAccepted(code["symbols"], "大泉町", "Oizumi")
    assert (found.establishment_id, found.municipality_code) == (ident, OIZUMI)


async def test_an_unknown_establishment_needs_its_name_and_city_and_the_feed_later_wins(
    router: RunningRouter, keys: dict[str, str], pool: db.Pool
) -> None:
    ident = new_id().replace("-", "")
    path = f"/v1/establishments/{ident}/registration-codes"
    missing = await router.client.post(path, json={}, headers=auth(keys["ops"]))
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["field"] == "establishment_id"
    bad_city = await router.client.post(
        path, json={"establishment": {"name": "X", "municipality_code": "99999"}}, headers=auth(keys["ops"])
    )
    assert bad_city.status_code == 422
    assert bad_city.json()["errors"][0]["field"] == "establishment.municipality_code"
    entered = await router.client.post(
        path,
        json={"establishment": {"name": "Ota Foods (new)", "municipality_code": "10205"}},
        headers=auth(keys["ops"]),
    )
    assert entered.status_code == 201, entered.text
    body = entered.json()
    assert (body["establishment_name"], body["municipality_code"], body["establishment_from_feed"]) == (
        "Ota Foods (new)",
        OTA,
        False,
    )
    # Known now: different city details are a conflict, none are fine.
    conflict = await router.client.post(
        path, json={"establishment": {"name": "x", "municipality_code": OIZUMI}}, headers=auth(keys["ops"])
    )
    assert conflict.status_code == 409
    # The feed's first report of it replaces what the issuer entered.
    async with pool.acquire() as conn, conn.transaction():
        await registry.apply_employment(
            conn,
            [
                WorkerHired(
                    worker_id=worker_id(),
                    source="test",
                    source_event_id=uuid.uuid4().hex,
                    reported_at=datetime.now(UTC),
                    establishment=Establishment(
                        establishment_id=ident, name="Ota Foods KK", municipality_code=OTA
                    ),
                    nationality="VN",
                    residence_status=ResidenceStatus.TECHNICAL_INTERN_1B,
                    hired_on=datetime.now(UTC).date(),
                )
            ],
        )
        place = await registration_codes.find_establishment(conn, ident)
    assert place is not None and (place.name, place.from_feed) == ("Ota Foods KK", True)


async def test_a_city_key_issues_and_sees_codes_in_its_cities_only(
    router: RunningRouter, keys: dict[str, str], pool: db.Pool
) -> None:
    in_oizumi = await feed_establishment(pool, OIZUMI)
    in_ota = await feed_establishment(pool, OTA, name="Ota Foods")
    city = auth(keys["oizumi"])
    mine = await router.client.post(
        f"/v1/establishments/{in_oizumi}/registration-codes", json={}, headers=city
    )
    assert mine.status_code == 201
    other = await router.client.post(f"/v1/establishments/{in_ota}/registration-codes", json={}, headers=city)
    assert other.status_code == 404, "another city's establishment is not disclosed"
    listed = await router.client.get(f"/v1/establishments/{in_ota}/registration-codes", headers=city)
    assert listed.status_code == 404
    new_elsewhere = await router.client.post(
        f"/v1/establishments/{new_id()}/registration-codes",
        json={"establishment": {"name": "Elsewhere", "municipality_code": OTA}},
        headers=city,
    )
    assert new_elsewhere.status_code == 403
    assert new_elsewhere.json()["errors"][0]["field"] == "establishment.municipality_code"
    foreign = await router.client.post(
        f"/v1/establishments/{in_ota}/registration-codes", json={}, headers=auth(keys["prefecture"])
    )
    assert foreign.status_code == 201
    lookup = await router.client.get(f"/v1/registration-codes/{foreign.json()['code']}", headers=city)
    assert lookup.status_code == 404
    feed = await router.client.post(
        f"/v1/establishments/{in_oizumi}/registration-codes", json={}, headers=auth(keys["feed"])
    )
    assert feed.status_code == 403


async def test_revoke_list_and_replace_codes(
    router: RunningRouter, keys: dict[str, str], pool: db.Pool
) -> None:
    ident = await feed_establishment(pool, OIZUMI)
    staff = auth(keys["prefecture"])
    base = f"/v1/establishments/{ident}/registration-codes"
    first = (await router.client.post(base, json={}, headers=staff)).json()
    second = (await router.client.post(base, json={}, headers=staff)).json()
    assert first["symbols"] != second["symbols"]
    revoked = await router.client.post(
        f"{base}/{first['code'].lower()}/revoke", json={"reason": "leaked"}, headers=staff
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False and revoked.json()["revoke_reason"] == "leaked"
    again = await router.client.post(f"{base}/{first['symbols']}/revoke", headers=staff)
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    active = (await router.client.get(base, headers=staff)).json()
    everything = (await router.client.get(base, params={"include_revoked": "true"}, headers=staff)).json()
    assert [c["symbols"] for c in active] == [second["symbols"]]
    assert {c["symbols"] for c in everything} == {first["symbols"], second["symbols"]}
    qr = await router.client.get(f"{base}/{first['symbols']}/qr.svg", headers=staff)
    assert qr.status_code == 409, "a revoked code has no QR code to print"
    third = (await router.client.post(base, json={"revoke_previous": True}, headers=staff)).json()
    active = (await router.client.get(base, headers=staff)).json()
    assert [c["symbols"] for c in active] == [third["symbols"]]
    async with pool.acquire() as conn:
        assert (await registration_codes.lookup(conn, first["symbols"])).result == EmployerCodeRevoked(
            first["symbols"]
        )
    malformed = await router.client.post(f"{base}/GM-AAAA-AAAA/revoke", headers=staff)
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "code"
    other_establishment = await feed_establishment(pool, OIZUMI)
    wrong_owner = await router.client.post(
        f"/v1/establishments/{other_establishment}/registration-codes/{third['symbols']}/revoke",
        headers=staff,
    )
    assert wrong_owner.status_code == 404


async def test_the_ops_cli_issues_lists_and_revokes(pool: db.Pool, database_url: str, tmp_path: Any) -> None:
    def invoke(args: list[str]) -> Any:
        return CliRunner().invoke(cli, args)

    async def run(args: list[str]) -> Any:
        return await asyncio.to_thread(invoke, args)  # the CLI runs its own event loop

    ident = await feed_establishment(pool, OTA, name="Ota Foods")
    qr = tmp_path / "code.svg"
    base = ["--database-url", database_url, "codes"]
    issued = await run(
        [*base, "issue", ident, "--note", "poster", "--qr", str(qr), "--basic-id", "@gunma-pref", "--json"]
    )
    assert issued.exit_code == 0, issued.output
    row = orjson.loads(issued.stdout.strip().splitlines()[-1])
    assert row["deep_link"].startswith("https://line.me/R/oaMessage/%40gunma-pref/?GM-")
    assert qr.read_bytes().startswith(b"<?xml") and b"<svg" in qr.read_bytes()
    listed = await run([*base, "list", ident, "--json"])
    assert listed.exit_code == 0 and row["code"] in listed.stdout
    revoked = await run([*base, "revoke", row["code"], "--reason", "leaked", "--by", "cli:tester"])
    assert revoked.exit_code == 0, revoked.output
    async with pool.acquire() as conn:
        found = await registration_codes.get(conn, row["code"].replace("GM-", "").replace("-", ""))
    assert found is not None and (found.revoked_by, found.revoke_reason, found.issued_by[:4]) == (
        "cli:tester",
        "leaked",
        "cli:",
    )
    unknown = await run([*base, "issue", new_id()])
    assert unknown.exit_code == 1 and "--name and --city" in str(unknown.exception)
    entered = await run([*base, "issue", new_id(), "--name", "New Co", "--city", "10205", "--json"])
    assert entered.exit_code == 0, entered.output
    bad = await run([*base, "revoke", "GM-AAAA-AAAA"])
    assert bad.exit_code == 1 and "not a valid registration code" in str(bad.exception)


async def test_an_unknown_code_is_unknown(pool: db.Pool) -> None:
    async with pool.acquire() as conn:
        found = await registration_codes.lookup(conn, "00000000")
    assert found.result == EmployerCodeUnknown("00000000") and found.establishment_id is None
