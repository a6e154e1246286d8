"""The demo data set: deterministic, realistic, and every row is one ingest accepts."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from services.common.codes import normalize_municipality_code
from services.demo import generate
from services.ingest.domain.csv_rows import RowConverter, resolve_header
from services.ingest.feed_api import validate_event

PEPPER = b"unit-test-pepper-0123456789abcdef0123"


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    generate.write_csv(first, generate.workers(300, seed=7))
    generate.write_csv(second, generate.workers(300, seed=7))
    assert first.read_bytes() == second.read_bytes()
    other = generate.csv_bytes(generate.workers(300, seed=8))
    assert other != first.read_bytes()


def test_main_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "demo.csv"
    assert generate.main(["--workers", "50", "--encoding", "cp932", "--output", str(out)]) == 0
    text = out.read_bytes().decode("cp932")
    assert text.startswith("届出番号,届出種別,")
    assert text.count("\r\n") >= 51


def test_every_row_is_accepted_by_ingest() -> None:
    people = list(generate.workers(2_000, seed=11))
    raw = generate.csv_bytes(people).decode()
    reader = csv.reader(io.StringIO(raw))
    layout = resolve_header(next(reader))
    assert not layout.unknown and not layout.personal
    converter = RowConverter(
        layout, source="demo", pepper=PEPPER, default_reported_at="2026-04-01T00:00:00+09:00"
    )
    kinds: Counter[str] = Counter()
    ids = set()
    for row in reader:
        assert len(row) == len(generate.HEADER)  # no field needed quoting
        converted = converter.convert(row)
        assert not isinstance(converted, list), converted
        kinds[converted.event_type] += 1
        ids.add(converted.source_event_id)
    separated = sum(1 for p in people if p.separated_on)
    assert kinds["worker.hired"] == 2_000
    assert kinds["worker.separated"] == separated
    assert len(ids) == 2_000 + separated  # every row has its own feed event id


def test_shape_of_the_population() -> None:
    today = date(2027, 1, 15)
    people = list(generate.workers(10_000, today=today))
    cities = Counter(p.employer.municipality_code for p in people)
    assert set(cities) == {c.code for c in generate.PILOT_CITIES}
    assert all(normalize_municipality_code(c) == c for c in cities)
    nationalities = Counter(p.nationality for p in people)
    assert nationalities.most_common(1)[0][0] == "VN"
    assert {"BR", "PH", "PE", "CN", "ID", "NP"} <= set(nationalities)
    assert len({p.card_number for p in people}) == 10_000
    assert len({p.employer.establishment_id for p in people}) == 100
    expiring = [p for p in people if p.period_expires_on is not None]
    assert all(today < p.period_expires_on <= today + timedelta(days=1825) for p in expiring)  # type: ignore[operator]
    # enough periods of stay end soon for every expiry reminder (14, 30 and 90 days) to have readers
    soon = Counter(
        min(d for d in (14, 30, 90) if (p.period_expires_on - today).days <= d)  # type: ignore[operator]
        for p in expiring
        if (p.period_expires_on - today).days <= 90  # type: ignore[operator]
    )
    assert min(soon.values()) > 50
    assert all(
        p.hired_on < today and (p.separated_on is None or p.hired_on < p.separated_on <= today)
        for p in people
    )
    assert 150 < sum(1 for p in people if p.separated_on) < 450
    assert all(p.language for p in people)


def test_json_events_are_valid_feed_events_with_the_same_facts() -> None:
    people = list(generate.workers(500, seed=3))
    events = list(generate.json_events(people))
    assert len(events) == 500 + sum(1 for p in people if p.separated_on)
    for index, event in enumerate(events):
        validated = validate_event(event, index, PEPPER)
        assert not isinstance(validated, list), validated
    assert [e["event_id"] for e in events if e["type"] == "hired"] == [p.event_id for p in people]
