"""The demo data set: employers in four pilot cities of Gunma and their foreign workers, written as the
government's employment feed sends them (a CSV extract in ingest's format, Japanese headers).

    python -m services.demo.generate --output .local/demo/employment.csv            # 10,000 workers
    python -m services.demo.generate --workers 1000000 --encoding cp932 --output big.csv
    python -m services.demo.generate --today 2027-01-15 --output demo.csv            # dates around that day

The same ``--seed``, ``--workers``, ``--employers-per-city`` and ``--today`` give a byte-identical file
(the random generator is seeded; nothing depends on the clock, the machine or hash randomisation).
``--today`` (default: a fixed day) anchors hire, separation and expiry dates, so that a demo run today
can pass today's date and still have periods of stay ending in 14, 30 and 90 days.

Everything is fictional: company names, addresses, residence card numbers (2 letters, 8 digits,
2 letters, unique per worker), and the mix of nationalities and statuses of residence follows the shape
of Gunma's foreign workforce (Vietnam first; large Brazilian and Peruvian communities in Ota, Isesaki and
Oizumi; technical interns and specified skilled workers in manufacturing) without claiming real numbers.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from services.common.codes import ResidenceStatus

#: A fixed default for ``--today``: the same file on every machine and every day.
DEFAULT_TODAY = date(2026, 4, 1)
DEFAULT_SEED = 20260401


@dataclass(frozen=True, slots=True)
class City:
    code: str  # JIS X 0402 with check digit
    name_ja: str
    name_en: str
    towns: tuple[str, ...]


#: The four pilot-like cities: Maebashi (the prefectural capital), Takasaki, Isesaki and Ota.
PILOT_CITIES: tuple[City, ...] = (
    City("102016", "前橋市", "Maebashi", ("大手町", "本町", "千代田町", "駒形町", "朝倉町", "鳥羽町")),
    City("102024", "高崎市", "Takasaki", ("八幡町", "倉賀野町", "問屋町", "新町", "吉井町", "貝沢町")),
    City("102041", "伊勢崎市", "Isesaki", ("境", "宮子町", "三和町", "連取町", "長沼町", "赤堀今井町")),
    City("102059", "太田市", "Ota", ("浜町", "西新町", "新田木崎町", "飯塚町", "東新町", "尾島町")),
)

_PREFIXES = (
    "上毛", "赤城", "榛名", "妙義", "利根", "渡良瀬", "碓氷", "からっ風", "群馬", "北関東", "関東", "両毛",
)  # fmt: skip
_INDUSTRIES = (
    ("自動車部品", "株式会社{p}{i}"),
    ("食品", "{p}{i}工業株式会社"),
    ("電子", "株式会社{p}{i}"),
    ("物流", "{p}{i}株式会社"),
    ("介護サービス", "社会福祉法人{p}会"),
    ("農園", "有限会社{p}{i}"),
    ("建設", "{p}{i}株式会社"),
    ("縫製", "有限会社{p}{i}"),
    ("プラスチック成形", "株式会社{p}{i}"),
    ("金属加工", "{p}{i}株式会社"),
)
_SITES = ("工場", "事業所", "営業所", "センター")


@dataclass(frozen=True, slots=True)
class Employer:
    #: 雇用保険適用事業所番号 as written in the extract (4-6-1 digits, hyphenated)
    establishment_id: str
    name: str
    address: str
    municipality_code: str
    industry: str

    @property
    def registry_id(self) -> str:
        """The id as the registry keeps it (hyphens removed)."""
        return self.establishment_id.replace("-", "")


@dataclass(frozen=True, slots=True)
class Nationality:
    code: str  # ISO 3166-1 alpha-2
    name_ja: str  # as the form writes it
    weight: int
    #: languages its people would pick in the LINE account, with weights
    languages: tuple[tuple[str, int], ...]
    #: statuses of residence, with weights
    statuses: tuple[tuple[ResidenceStatus, int], ...]


S = ResidenceStatus
_FACTORY = (
    (S.TECHNICAL_INTERN_2A, 30),
    (S.SPECIFIED_SKILLED_WORKER_1, 35),
    (S.ENGINEER_HUMANITIES_INTERNATIONAL, 25),
    (S.PERMANENT_RESIDENT, 10),
)
NATIONALITIES: tuple[Nationality, ...] = (
    Nationality(
        "VN", "ベトナム", 30, (("vi", 95), ("en", 3), ("ja-x-easy", 2)),
        ((S.TECHNICAL_INTERN_1A, 15), (S.TECHNICAL_INTERN_2A, 30), (S.TECHNICAL_INTERN_3A, 10),
         (S.SPECIFIED_SKILLED_WORKER_1, 25), (S.ENGINEER_HUMANITIES_INTERNATIONAL, 12),
         (S.PERMANENT_RESIDENT, 3), (S.STUDENT, 5)),
    ),
    Nationality(
        "BR", "ブラジル", 15, (("pt-BR", 90), ("ja", 5), ("es", 5)),
        ((S.LONG_TERM_RESIDENT, 35), (S.PERMANENT_RESIDENT, 45), (S.SPOUSE_OR_CHILD_OF_JAPANESE, 20)),
    ),
    Nationality(
        "PH", "フィリピン", 15, (("fil", 55), ("en", 45)),
        ((S.SPOUSE_OR_CHILD_OF_JAPANESE, 20), (S.PERMANENT_RESIDENT, 25), (S.LONG_TERM_RESIDENT, 15),
         (S.SPECIFIED_SKILLED_WORKER_1, 15), (S.TECHNICAL_INTERN_2A, 15),
         (S.ENGINEER_HUMANITIES_INTERNATIONAL, 10)),
    ),
    Nationality(
        "CN", "中国", 8, (("zh-Hans", 90), ("ja", 10)),
        ((S.TECHNICAL_INTERN_2A, 25), (S.ENGINEER_HUMANITIES_INTERNATIONAL, 25), (S.PERMANENT_RESIDENT, 25),
         (S.SPOUSE_OR_CHILD_OF_JAPANESE, 10), (S.SPECIFIED_SKILLED_WORKER_1, 15)),
    ),
    Nationality(
        "ID", "インドネシア", 7, (("id", 95), ("en", 5)),
        ((S.TECHNICAL_INTERN_1A, 20), (S.TECHNICAL_INTERN_2A, 35), (S.SPECIFIED_SKILLED_WORKER_1, 35),
         (S.ENGINEER_HUMANITIES_INTERNATIONAL, 10)),
    ),
    Nationality(
        "PE", "ペルー", 6, (("es", 95), ("ja", 5)),
        ((S.LONG_TERM_RESIDENT, 35), (S.PERMANENT_RESIDENT, 50), (S.SPOUSE_OR_CHILD_OF_JAPANESE, 15)),
    ),
    Nationality(
        "NP", "ネパール", 5, (("ne", 85), ("en", 15)),
        ((S.ENGINEER_HUMANITIES_INTERNATIONAL, 30), (S.STUDENT, 30), (S.DEPENDENT, 15),
         (S.SPECIFIED_SKILLED_WORKER_1, 25)),
    ),
    Nationality(
        "MM", "ミャンマー", 4, (("my", 95), ("en", 5)),
        ((S.TECHNICAL_INTERN_2A, 40), (S.SPECIFIED_SKILLED_WORKER_1, 45),
         (S.ENGINEER_HUMANITIES_INTERNATIONAL, 15)),
    ),
    Nationality("TH", "タイ", 3, (("th", 100),), _FACTORY),
    Nationality("KH", "カンボジア", 2, (("km", 100),), _FACTORY),
    Nationality("LK", "スリランカ", 2, (("si", 80), ("en", 20)), _FACTORY),
    Nationality("BD", "バングラデシュ", 1, (("bn", 80), ("en", 20)), _FACTORY),
    Nationality("MN", "モンゴル", 1, (("mn", 100),), _FACTORY),
    Nationality("KR", "韓国", 1, (("ko", 100),), _FACTORY),
)  # fmt: skip

#: The longest period of stay each status is usually granted, in days (none: no expiry).
_PERIOD_DAYS: dict[ResidenceStatus, int | None] = {
    S.TECHNICAL_INTERN_1A: 365,
    S.TECHNICAL_INTERN_2A: 365,
    S.TECHNICAL_INTERN_3A: 730,
    S.SPECIFIED_SKILLED_WORKER_1: 365,
    S.ENGINEER_HUMANITIES_INTERNATIONAL: 1825,
    S.LONG_TERM_RESIDENT: 1825,
    S.SPOUSE_OR_CHILD_OF_JAPANESE: 1825,
    S.STUDENT: 1550,
    S.DEPENDENT: 1825,
    S.PERMANENT_RESIDENT: None,
}
#: Statuses whose holders usually have permission for outside activities (アルバイト).
_OUTSIDE_ACTIVITY = frozenset({S.STUDENT, S.DEPENDENT})
#: Share of workers who also have a separation (離職) row after their hire.
SEPARATED_SHARE = 0.03

HEADER = (
    "届出番号",
    "届出種別",
    "届出日",
    "在留カード番号",
    "国籍・地域",
    "在留資格",
    "在留期間満了日",
    "生年",
    "性別",
    "資格外活動許可の有無",
    "雇入れ年月日",
    "離職年月日",
    "雇用保険適用事業所番号",
    "事業所名称",
    "事業所所在地",
    "市区町村コード",
)


@dataclass(frozen=True, slots=True)
class Worker:
    #: the feed's own id of the hire (届出番号); a separation row has ``event_id + "-S"``
    event_id: str
    card_number: str
    nationality: str
    residence_status: ResidenceStatus
    period_expires_on: date | None
    birth_year: int
    sex: str  # 男 / 女
    outside_activity_permitted: bool
    employer: Employer
    hired_on: date
    hire_reported_on: date
    separated_on: date | None
    #: the language this worker would pick in the LINE account (for simulated followers)
    language: str

    @property
    def active(self) -> bool:
        return self.separated_on is None

    @property
    def separation_event_id(self) -> str:
        return self.event_id + "-S"


def _check_digit(digits: str) -> int:
    """A check digit for the fictional 事業所番号 (weighted sum mod 10; not the real scheme)."""
    return sum(int(d) * (i % 3 + 1) for i, d in enumerate(digits)) % 10


def employers(*, seed: int = DEFAULT_SEED, per_city: int = 25) -> list[Employer]:
    """``per_city`` employers in each pilot city, the same for a seed."""
    rnd = random.Random(f"employers:{seed}")  # noqa: S311 - deterministic demo data, not secrets
    made: list[Employer] = []
    used: set[str] = set()
    for c, city in enumerate(PILOT_CITIES):
        for n in range(per_city):
            industry, pattern = _INDUSTRIES[rnd.randrange(len(_INDUSTRIES))]
            town = rnd.choice(city.towns)
            # An establishment (事業所) is a company's site: "株式会社上毛電子 尾島工場".
            company = pattern.format(p=rnd.choice(_PREFIXES), i=industry)
            name = f"{company} {town}{rnd.choice(_SITES)}"
            suffix = 2
            while name in used:  # two sites of one name would confuse a reader of the demo
                name = f"{company} {town}第{suffix}{rnd.choice(_SITES)}"
                suffix += 1
            used.add(name)
            office = f"{1000 + c * 100 + n % 100:04d}"
            serial = f"{rnd.randrange(1_000_000):06d}"
            establishment_id = f"{office}-{serial}-{_check_digit(office + serial)}"
            address = (
                f"群馬県{city.name_ja}{town}{rnd.randint(1, 5)}丁目{rnd.randint(1, 30)}-{rnd.randint(1, 20)}"
            )
            made.append(Employer(establishment_id, name, address, city.code, industry))
    return made


def _pick(rnd: random.Random, weighted: Sequence[tuple[object, int]]) -> object:
    total = sum(w for _, w in weighted)
    point = rnd.randrange(total)
    for value, weight in weighted:
        point -= weight
        if point < 0:
            return value
    raise AssertionError("unreachable")


def workers(
    count: int = 10_000,
    *,
    seed: int = DEFAULT_SEED,
    today: date = DEFAULT_TODAY,
    employers_per_city: int = 25,
    separated_share: float = SEPARATED_SHARE,
) -> Iterator[Worker]:
    """``count`` workers, each employed by one of :func:`employers`; the same for the same arguments."""
    places = employers(seed=seed, per_city=employers_per_city)
    rnd = random.Random(f"workers:{seed}")  # noqa: S311 - deterministic demo data
    nationality_weights = [(n, n.weight) for n in NATIONALITIES]
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    for n in range(count):
        nationality = _pick(rnd, nationality_weights)
        assert isinstance(nationality, Nationality)
        status = _pick(rnd, nationality.statuses)
        assert isinstance(status, ResidenceStatus)
        language = _pick(rnd, nationality.languages)
        assert isinstance(language, str)
        longest = _PERIOD_DAYS.get(status, 1095)
        expires = None if longest is None else today + timedelta(days=rnd.randint(1, longest))
        hired_on = today - timedelta(days=rnd.randint(20, 5 * 365))
        reported = min(hired_on + timedelta(days=rnd.randint(1, 10)), today)
        separated_on = None
        if rnd.random() < separated_share:
            separated_on = max(today - timedelta(days=rnd.randint(1, 60)), hired_on + timedelta(days=1))
        card = f"{rnd.choice(letters)}{rnd.choice(letters)}{n:08d}{rnd.choice(letters)}{rnd.choice(letters)}"
        yield Worker(
            event_id=f"GUNMA-DEMO-{seed % 100_000:05d}-{n:08d}",
            card_number=card,
            nationality=nationality.code,
            residence_status=status,
            period_expires_on=expires,
            birth_year=today.year - rnd.randint(19, 55),
            sex="男" if rnd.random() < 0.58 else "女",
            outside_activity_permitted=status in _OUTSIDE_ACTIVITY and rnd.random() < 0.9,
            employer=places[rnd.randrange(len(places))],
            hired_on=hired_on,
            hire_reported_on=reported,
            separated_on=separated_on,
            language=language,
        )


_NAMES_JA = {n.code: n.name_ja for n in NATIONALITIES}


def _reiwa(day: date) -> str:
    """令和 as the residence card prints it (the dates here are all after 2019-05-01)."""
    year = day.year - 2018
    return f"令和{'元' if year == 1 else year}年{day.month}月{day.day}日"


def _slashed(day: date) -> str:
    return f"{day.year}/{day.month:02d}/{day.day:02d}"


def rows(people: Iterator[Worker] | Sequence[Worker]) -> Iterator[list[str]]:
    """The header, then a hire row per worker and a separation row for those who left."""
    yield list(HEADER)
    for w in people:
        common = [
            w.card_number,
            _NAMES_JA[w.nationality],
            w.residence_status.label_ja,
            _reiwa(w.period_expires_on) if w.period_expires_on else "",
            str(w.birth_year),
            w.sex,
            "有" if w.outside_activity_permitted else "無",
        ]
        place = [
            w.employer.establishment_id,
            w.employer.name,
            w.employer.address,
            w.employer.municipality_code,
        ]
        reported = f"{w.hire_reported_on.isoformat()}T09:00:00+09:00"
        yield [w.event_id, "雇入れ", reported, *common, _slashed(w.hired_on), "", *place]
        if w.separated_on is not None:
            reported = f"{w.separated_on.isoformat()}T17:00:00+09:00"
            yield [w.separation_event_id, "離職", reported, *common, "", _slashed(w.separated_on), *place]


def json_events(people: Iterator[Worker] | Sequence[Worker]) -> Iterator[dict[str, Any]]:
    """The same facts as :func:`rows`, as events of the JSON feed (``POST /v1/employment-events``)."""
    for w in people:
        common: dict[str, Any] = {
            "residence_card_number": w.card_number,
            "nationality": w.nationality,
            "residence_status": w.residence_status.value,
            "period_expires_on": w.period_expires_on.isoformat() if w.period_expires_on else None,
            "birth_year": w.birth_year,
            "sex": "male" if w.sex == "男" else "female",
            "outside_activity_permitted": w.outside_activity_permitted,
            "establishment": {
                "establishment_id": w.employer.establishment_id,
                "name": w.employer.name,
                "address": w.employer.address,
                "municipality_code": w.employer.municipality_code,
            },
        }
        yield {
            "type": "hired",
            "event_id": w.event_id,
            "reported_at": f"{w.hire_reported_on.isoformat()}T09:00:00+09:00",
            "hired_on": w.hired_on.isoformat(),
            **common,
        }
        if w.separated_on is not None:
            yield {
                "type": "separated",
                "event_id": w.separation_event_id,
                "reported_at": f"{w.separated_on.isoformat()}T17:00:00+09:00",
                "separated_on": w.separated_on.isoformat(),
                **common,
            }


def _csv_line(fields: list[str]) -> str:
    # No field holds a comma, quote or line break (checked by the tests), so no quoting is needed.
    return ",".join(fields) + "\r\n"


def write_csv(path: Path, people: Iterator[Worker] | Sequence[Worker], *, encoding: str = "utf-8") -> int:
    """Write the extract (CRLF line ends, as Excel writes them); return the number of data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = -1
    with path.open("w", encoding=encoding, newline="") as out:
        for fields in rows(people):
            out.write(_csv_line(fields))
            written += 1
    return written


def csv_bytes(people: Iterator[Worker] | Sequence[Worker], *, encoding: str = "utf-8") -> bytes:
    return "".join(_csv_line(fields) for fields in rows(people)).encode(encoding)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.demo.generate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--today", type=date.fromisoformat, default=DEFAULT_TODAY, help="YYYY-MM-DD")
    parser.add_argument("--employers-per-city", type=int, default=25)
    parser.add_argument(
        "--separated-share",
        type=float,
        default=SEPARATED_SHARE,
        help="share of workers who also get a separation row (0: exactly one row per worker)",
    )
    parser.add_argument("--encoding", choices=["utf-8", "utf-8-sig", "cp932"], default="utf-8")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.workers < 0 or args.employers_per_city < 1 or not 0 <= args.separated_share <= 1:
        parser.error("--workers must be >= 0, --employers-per-city >= 1, --separated-share in 0..1")
    people = workers(
        args.workers,
        seed=args.seed,
        today=args.today,
        employers_per_city=args.employers_per_city,
        separated_share=args.separated_share,
    )
    count = write_csv(args.output, people, encoding=args.encoding)
    print(
        f"{args.output}: {count:,} rows ({args.workers:,} workers of {args.employers_per_city * 4} employers "
        f"in {', '.join(c.name_en for c in PILOT_CITIES)}; seed {args.seed}, today {args.today})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
