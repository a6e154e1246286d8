"""Who receives a notice: the filter, narrowed to the submitting key's cities.

Each list of :class:`AudienceFilter` narrows the audience and an empty list means everyone. A staff
key limited to some municipalities never reaches anyone outside them: without a city filter its
notice goes to its cities; with one, to the cities in both (cities outside the scope are dropped and
reported). After resolution ``None`` means "no restriction" and an empty tuple means "nobody".

Who is reachable at all is fixed too: following the account, not erased, not reported unreachable by
LINE, not stopped, and not opted out of the notice's category.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.common.contracts import AudienceFilter, NoticeCategory
from services.common.errors import FieldError


@dataclass(frozen=True, slots=True)
class Audience:
    cities: tuple[str, ...] | None = None
    nationalities: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    residence_statuses: tuple[str, ...] | None = None
    employers: tuple[str, ...] | None = None
    #: subscribers who opted out of this category are left out; None: no category (counts only)
    category: str | None = None
    #: cities asked for but outside the submitting key's scope
    dropped_cities: tuple[str, ...] = ()

    @property
    def nobody(self) -> bool:
        return any(
            value == ()
            for value in (
                self.cities,
                self.nationalities,
                self.languages,
                self.residence_statuses,
                self.employers,
            )
        )


def _distinct(values: Iterable[str]) -> tuple[str, ...] | None:
    out = tuple(sorted(set(values)))
    return out or None


def resolve(
    audience: AudienceFilter,
    *,
    scope_cities: Sequence[str] = (),
    category: NoticeCategory | str | None = None,
) -> Audience:
    """The filter as the audience query takes it, with the scope applied."""
    scope = set(scope_cities)
    requested = set(audience.cities)
    dropped: tuple[str, ...] = ()
    cities: tuple[str, ...] | None
    if not scope:
        cities = _distinct(requested)
    elif not requested:
        cities = tuple(sorted(scope))
    else:
        cities = tuple(sorted(requested & scope))
        dropped = tuple(sorted(requested - scope))
    return Audience(
        cities=cities,
        nationalities=_distinct(audience.nationalities),
        languages=_distinct(audience.languages),
        residence_statuses=_distinct(status.value for status in audience.residence_statuses),
        employers=_distinct(audience.employers),
        category=None if category is None else str(category),
        dropped_cities=dropped,
    )


def scope_violations(audience: AudienceFilter, scope_cities: Sequence[str]) -> list[FieldError]:
    """The cities a city-limited key asked for outside its scope, each named by its field."""
    if not scope_cities:
        return []
    scope = set(scope_cities)
    return [
        {"field": f"audience.cities[{i}]", "reason": f"municipality {city} is outside this key's scope"}
        for i, city in enumerate(audience.cities)
        if city not in scope
    ]


def batch_count(recipients: int, batch_size: int) -> int:
    """How many batches of at most ``batch_size`` carry ``recipients`` ids."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    return math.ceil(recipients / batch_size) if recipients > 0 else 0
