"""Audience filters: empty means everyone, lists narrow, a city key never reaches beyond its cities."""

from __future__ import annotations

from services.common.contracts import AudienceFilter, NoticeCategory
from services.router.domain.audience import Audience, batch_count, resolve, scope_violations

MAEBASHI, TAKASAKI, OIZUMI = "102016", "102024", "105244"


def test_an_empty_filter_from_a_prefecture_key_means_everyone() -> None:
    audience = resolve(AudienceFilter(), category=NoticeCategory.TAX)
    assert audience == Audience(category="tax")
    assert not audience.nobody


def test_each_list_narrows_and_is_normalised() -> None:
    audience = resolve(
        AudienceFilter(
            cities=("10202", TAKASAKI, MAEBASHI),
            nationalities=("vn", "VN", "PH"),
            languages=("vi",),
            residence_statuses=("specified_skilled_worker_1",),  # type: ignore[arg-type]
            employers=("1001-123456-7",),
        )
    )
    assert audience.cities == (MAEBASHI, TAKASAKI)
    assert audience.nationalities == ("PH", "VN")
    assert audience.languages == ("vi",)
    assert audience.residence_statuses == ("specified_skilled_worker_1",)
    assert audience.employers == ("10011234567",)


def test_a_city_key_without_a_city_filter_reaches_its_cities_only() -> None:
    audience = resolve(AudienceFilter(), scope_cities=(OIZUMI,))
    assert audience.cities == (OIZUMI,)


def test_a_city_key_asking_for_other_cities_gets_only_its_own_and_the_rest_is_reported() -> None:
    audience = resolve(AudienceFilter(cities=(OIZUMI, MAEBASHI)), scope_cities=(OIZUMI, TAKASAKI))
    assert audience.cities == (OIZUMI,)
    assert audience.dropped_cities == (MAEBASHI,)


def test_a_city_key_asking_only_for_other_cities_reaches_nobody_not_everybody() -> None:
    audience = resolve(AudienceFilter(cities=(MAEBASHI,)), scope_cities=(OIZUMI,))
    assert audience.cities == ()
    assert audience.nobody


def test_scope_violations_name_the_field() -> None:
    errors = scope_violations(AudienceFilter(cities=(OIZUMI, MAEBASHI)), (OIZUMI,))
    assert errors == [
        {"field": "audience.cities[1]", "reason": f"municipality {MAEBASHI} is outside this key's scope"}
    ]
    assert scope_violations(AudienceFilter(cities=(MAEBASHI,)), ()) == []


def test_batches_of_five_hundred() -> None:
    assert [batch_count(n, 500) for n in (0, 1, 499, 500, 501, 1000, 1001)] == [0, 1, 1, 1, 2, 2, 3]
