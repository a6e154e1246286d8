"""The staff API on real PostgreSQL: preview, human translations that win, glossary, engines."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from services.common import auth
from services.common.auth import KeyStore, Role
from services.common.contracts import NoticeContent
from services.common.db import Pool
from services.common.problems import install_problem_handlers
from services.translate import store
from services.translate.api import ApiContext, build_router
from services.translate.budget import BudgetStore
from services.translate.domain.content import source_hash
from services.translate.domain.fallback import fallback_line

from .harness import EngineStub, engine_for, notice_content, translator_for


@dataclass
class Api:
    client: httpx.AsyncClient
    context: ApiContext
    stub: EngineStub
    staff: dict[str, str]
    other_staff: dict[str, str]
    city_staff: dict[str, str]
    ops: dict[str, str]


async def _key(pool: Pool, role: Role, cities: tuple[str, ...] = ()) -> dict[str, str]:
    async with pool.acquire() as conn:
        key, _ = await auth.create_key(conn, name=f"translate-api {role.value}", role=role, cities=cities)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(params=[False, True], ids=["one-approver", "four-eyes"])
async def api(pool: Pool, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    stub = EngineStub()
    engine = engine_for(stub.backend(), pool)
    translator = translator_for(pool, {"libretranslate": engine}, {"es": "libretranslate"})
    context = ApiContext(
        pool=pool,
        keys=KeyStore(pool, cache_seconds=0),
        translator=translator,
        engines={"libretranslate": engine},
        budget=BudgetStore(pool, limits={"libretranslate": 1_000_000}, zone=ZoneInfo("Asia/Tokyo")),
        four_eyes=request.param,
    )
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(build_router(lambda: context))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://translate.test"
    ) as client:
        yield Api(
            client,
            context,
            stub,
            await _key(pool, Role.STAFF),
            await _key(pool, Role.STAFF),
            await _key(pool, Role.STAFF, ("102016",)),
            await _key(pool, Role.OPS),
        )


async def _known_notice(pool: Pool, content: NoticeContent, cities: tuple[str, ...] = ()) -> uuid.UUID:
    notice_id = uuid.uuid4()
    await store.remember_notices(
        pool, [(notice_id, content, source_hash(content))], origin="notice", cities=[cities]
    )
    return notice_id


async def test_every_route_needs_a_key(api: Api) -> None:
    notice_id = uuid.uuid4()
    for method, path in [
        ("POST", f"/v1/notices/{notice_id}/preview"),
        ("POST", "/v1/preview"),
        ("GET", f"/v1/notices/{notice_id}/translations"),
        ("POST", f"/v1/notices/{notice_id}/translations/es"),
        ("GET", "/v1/glossary"),
        ("GET", "/v1/engines"),
    ]:
        answer = await api.client.request(method, path)
        assert answer.status_code == 401, (method, path)


async def test_preview_of_a_known_notice_in_every_language(api: Api, pool: Pool) -> None:
    notice_id = await _known_notice(pool, notice_content())
    answer = await api.client.post(f"/v1/notices/{notice_id}/preview", headers=api.ops)
    assert answer.status_code == 200, answer.text
    previews = {p["language"]: p for p in answer.json()["languages"]}
    assert len(previews) == 25
    assert previews["es"]["translation_source"] == "machine" and previews["es"]["revision"] is not None
    assert previews["en"]["translation_source"] == "approved"  # written in English
    assert previews["ne"]["messages"][0]["text"].startswith(fallback_line("ne", "en"))
    assert len(api.stub.requests) == 1
    # the deliveries reuse what the preview stored
    again = await api.client.post(
        f"/v1/notices/{notice_id}/preview", json={"languages": ["es"]}, headers=api.staff
    )
    assert again.json()["languages"][0]["revision"] == previews["es"]["revision"]
    assert len(api.stub.requests) == 1


async def test_preview_of_posted_content_formats_the_sample_values(api: Api) -> None:
    answer = await api.client.post(
        "/v1/preview",
        json={
            "content": {
                "title": "Renew by {date}",
                "body": "Go to {city} city hall.",
                "source_language": "en",
            },
            "languages": ["es", "ja"],
            "values": {"date": "2027-03-31", "city": "Maebashi"},
        },
        headers=api.staff,
    )
    assert answer.status_code == 200, answer.text
    es, ja = answer.json()["languages"]
    assert es["revision"] is None and "31 de marzo de 2027" in es["messages"][0]["text"]
    assert ja["translation_source"] == "fallback"
    assert ja["messages"][0]["text"].startswith(fallback_line("ja", "en"))
    bad = await api.client.post(
        "/v1/preview", json={"content": {"title": "x"}, "languages": ["xx"]}, headers=api.staff
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"body.content.body", "body.content.source_language", "body.languages"} <= fields


async def test_a_city_key_sees_only_its_cities_notices(api: Api, pool: Pool) -> None:
    everywhere = await _known_notice(pool, notice_content())
    own_city = await _known_notice(pool, notice_content(), cities=("102016",))
    answer = await api.client.get(f"/v1/notices/{everywhere}/translations", headers=api.city_staff)
    assert answer.status_code == 404
    answer = await api.client.get(f"/v1/notices/{own_city}/translations", headers=api.city_staff)
    assert answer.status_code == 200


async def test_submitted_and_approved_translation_wins(api: Api, pool: Pool) -> None:
    source = notice_content()
    notice_id = await _known_notice(pool, source)
    machine = await api.context.translator.resolve(notice_id, source, "es")
    assert machine.source == "machine"
    nepali = await api.context.translator.resolve(notice_id, source, "ne")
    assert nepali.source == "fallback" and nepali.text_language == "en"

    path = f"/v1/notices/{notice_id}/translations/es"
    missing = await api.client.post(path, json={"title": "Termina", "body": "Sin fecha."}, headers=api.staff)
    assert missing.status_code == 422
    assert "{date}" in missing.json()["detail"] and "{city}" in missing.json()["detail"]
    wrong_language = await api.client.post(
        f"/v1/notices/{notice_id}/translations/en",
        json={"title": "x {date}", "body": "{city}"},
        headers=api.staff,
    )
    assert wrong_language.status_code == 422
    by_ops = await api.client.post(path, json={"title": "x {date}", "body": "{city}"}, headers=api.ops)
    assert by_ops.status_code == 403

    submitted = await api.client.post(
        path,
        json={
            "title": "Su periodo de estancia termina el {date}",
            "body": "Solicite la prórroga en {city} antes del {date}.",
            "note": "checked by the international exchange association",
        },
        headers=api.staff,
    )
    assert submitted.status_code == 201, submitted.text
    submission = submitted.json()
    assert submission["status"] == "submitted" and submission["matches_current_text"]

    approve = f"{path}/{submission['id']}/approve"
    if api.context.four_eyes:
        same = await api.client.post(approve, headers=api.staff)
        assert same.status_code == 409
    approved = await api.client.post(approve, headers=api.other_staff)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    current = await api.context.translator.translations_for([(notice_id, source, "es")])
    (row,) = current.values()
    assert row.source == "approved" and row.title.startswith("Su periodo")
    listing = (await api.client.get(f"/v1/notices/{notice_id}/translations", headers=api.staff)).json()
    by_language = {t["language"]: t for t in listing["translations"]}
    assert by_language["es"]["translation_source"] == "approved"
    assert [h["status"] for h in listing["human_translations"]] == ["approved"]
    # the Nepali fallback is re-examined now that another language changed (same text: same revision)
    (ne,) = (await api.context.translator.translations_for([(notice_id, source, "ne")])).values()
    assert ne.revision == nepali.revision


async def test_approve_now_reject_and_stale_submissions(api: Api, pool: Pool) -> None:
    source = notice_content()
    notice_id = await _known_notice(pool, source)
    path = f"/v1/notices/{notice_id}/translations/vi"
    body = {
        "title": "Thời hạn lưu trú kết thúc vào {date}",
        "body": "Hãy gia hạn tại {city}.",
        "approve": True,
    }
    answer = await api.client.post(path, json=body, headers=api.staff)
    if api.context.four_eyes:
        assert answer.status_code == 409
        return
    assert answer.status_code == 201 and answer.json()["status"] == "approved"
    (row,) = (await api.context.translator.translations_for([(notice_id, source, "vi")])).values()
    assert row.source == "approved" and row.text_language == "vi"

    second = (await api.client.post(path, json={**body, "approve": False}, headers=api.staff)).json()
    rejected = await api.client.post(
        f"{path}/{second['id']}/reject", json={"note": "typo"}, headers=api.staff
    )
    assert rejected.json()["status"] == "rejected"
    again = await api.client.post(f"{path}/{second['id']}/approve", headers=api.staff)
    assert again.status_code == 409

    third = (await api.client.post(path, json={**body, "approve": False}, headers=api.staff)).json()
    changed = NoticeContent(
        title=source.title, body=source.body + " Changed.", source_language="en", category=source.category
    )
    await store.remember_notices(
        pool, [(notice_id, changed, source_hash(changed))], origin="notice", cities=[()]
    )
    stale = await api.client.post(f"{path}/{third['id']}/approve", headers=api.staff)
    assert stale.status_code == 409 and "changed" in stale.json()["detail"]


async def test_glossary_is_editable_and_used_for_new_translations(api: Api, pool: Pool) -> None:
    term = f"tax office {uuid.uuid4().hex[:6]}"
    path = f"/v1/glossary/en/{term}"
    put = await api.client.put(path, json={"translations": {"es": "oficina de impuestos"}}, headers=api.staff)
    assert put.status_code == 200, put.text
    listed = (await api.client.get("/v1/glossary?source_language=en", headers=api.ops)).json()
    assert {"source_language": "en", "term": term, "translations": {"es": "oficina de impuestos"}} in listed
    seeded = {(e["source_language"], e["term"]) for e in listed}
    assert ("en", "residence card") in seeded

    source = NoticeContent(
        title=f"Visit the {term}", body="Bring your {date} receipt.", source_language="en", category="tax"
    )
    row = await api.context.translator.resolve(uuid.uuid4(), source, "es")
    assert row.title == "«es» Visit the oficina de impuestos"
    # the engine never saw the term (its token may even make the segment a memory hit)
    assert all(term not in text for request in api.stub.requests for text in request["q"])

    bad = await api.client.put(path, json={"translations": {"xx": "?"}}, headers=api.staff)
    assert bad.status_code == 422
    assert (await api.client.delete(path, headers=api.staff)).status_code == 204
    assert (await api.client.delete(path, headers=api.staff)).status_code == 404


async def test_engines_report_their_circuit_and_budget(api: Api) -> None:
    answer = await api.client.get("/v1/engines", headers=api.ops)
    assert answer.status_code == 200
    (engine,) = answer.json()
    assert engine["backend"] == "libretranslate" and engine["languages"] == ["es"]
    assert engine["breaker"] == "closed" and engine["monthly_budget"] == 1_000_000
    assert engine["characters_left"] == 1_000_000 - engine["characters_used"]
