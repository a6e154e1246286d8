"""Deployment choices for the dialogue; the defaults are the Gunma pilot's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from services.common import codes, languages
from services.common.codes import ResidenceStatus
from services.common.contracts.notices import NoticeCategory

from . import employer_code, texts

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"

#: Nationalities offered as buttons, by number of workers in the pilot; others are typed.
PILOT_NATIONALITIES: tuple[str, ...] = (
    "VN", "PH", "ID", "CN", "BR", "NP", "MM", "PE", "LK", "TH", "KH", "MN", "BD", "IN", "PK", "UZ", "KR",
)  # fmt: skip

#: The statuses most workers hold, as buttons (at most 12: LINE shows 13 quick replies, one is Skip).
COMMON_STATUSES: tuple[ResidenceStatus, ...] = (
    ResidenceStatus.TECHNICAL_INTERN_1B,
    ResidenceStatus.TECHNICAL_INTERN_2B,
    ResidenceStatus.TECHNICAL_INTERN_3B,
    ResidenceStatus.SPECIFIED_SKILLED_WORKER_1,
    ResidenceStatus.SPECIFIED_SKILLED_WORKER_2,
    ResidenceStatus.ENGINEER_HUMANITIES_INTERNATIONAL,
    ResidenceStatus.PERMANENT_RESIDENT,
    ResidenceStatus.LONG_TERM_RESIDENT,
    ResidenceStatus.SPOUSE_OR_CHILD_OF_JAPANESE,
    ResidenceStatus.STUDENT,
    ResidenceStatus.DEPENDENT,
    ResidenceStatus.DESIGNATED_ACTIVITIES,
)

#: A valid code used as the example in texts (never issued: the issuer should skip it).
EXAMPLE_CODE_BODY = "7KQ29XP" + employer_code.check_symbol("7KQ29XP")


@dataclass(frozen=True, slots=True)
class DialogueConfig:
    """Hashable (tuples and frozensets only), so indexes built from it can be cached per config."""

    #: offered languages, in the order the picker shows them
    languages: tuple[str, ...] = tuple(lang.code for lang in languages.DEFAULT_LANGUAGES)
    #: the language of the greeting when LINE gives no (offered) profile language
    default_language: str = "en"
    employer_code_prefix: str = "GM"
    #: wrong codes before onboarding goes on without one, and before codes are refused for a while
    max_code_failures: int = 5
    code_lockout: timedelta = timedelta(hours=1)
    nationalities: tuple[str, ...] = PILOT_NATIONALITIES
    residence_statuses: tuple[ResidenceStatus, ...] = COMMON_STATUSES
    #: always sent, not offered in the topic choice (only "stop" ends them)
    mandatory_categories: frozenset[NoticeCategory] = frozenset({NoticeCategory.DISASTER})
    privacy_policy_url: str | None = None
    #: the deployment's contact text (phone, opening hours), shown in help; not translated
    contact: str | None = None
    #: "we cannot reply here" is sent at most once per period
    fallback_quiet_period: timedelta = timedelta(minutes=2)
    #: how long after LINE's event time a reply token is used; after that the sender pushes
    reply_token_lifetime: timedelta = timedelta(seconds=50)
    locales_dir: Path = field(default=LOCALES_DIR)

    def __post_init__(self) -> None:
        unknown = [code for code in self.languages if code not in languages.LANGUAGE_CODES]
        if unknown or not self.languages:
            raise ValueError(f"languages: unsupported or empty {unknown}")
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("languages: duplicates")
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} is not in languages")
        prefix = self.employer_code_prefix
        if not (prefix == "" or (prefix.isascii() and prefix.isalpha() and prefix.isupper())):
            raise ValueError("employer_code_prefix must be upper-case ASCII letters (or empty)")
        if self.max_code_failures < 1:
            raise ValueError("max_code_failures must be at least 1")
        bad = [code for code in self.nationalities if not codes.is_country_code(code)]
        if bad:
            raise ValueError(f"nationalities: not ISO 3166-1 alpha-2 {bad}")
        if not 1 <= len(self.residence_statuses) <= 12:
            raise ValueError("residence_statuses: between 1 and 12 (one quick reply is Skip)")
        unlabelled = [s.value for s in self.residence_statuses if s not in texts.STATUS_TEXTS]
        if unlabelled:
            raise ValueError(f"residence_statuses: no label in the catalogs for {unlabelled}")
        if len(NoticeCategory) - len(self.mandatory_categories) > 12:
            raise ValueError("too many optional categories for one quick reply")

    @property
    def example_code(self) -> str:
        return employer_code.display(EXAMPLE_CODE_BODY, self.employer_code_prefix)
