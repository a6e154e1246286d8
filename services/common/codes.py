"""Code lists used on the foreign-worker employment status notification (外国人雇用状況届出).

- status of residence (在留資格): the statuses of the Immigration Control Act, with the labels used on
  the form, so feeds may send either our code or the Japanese label;
- nationality/region: ISO 3166-1 alpha-2, taken from Babel's CLDR territory list;
- municipality: 全国地方公共団体コード (JIS X 0402), six digits with its check digit.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache, lru_cache

from babel import Locale


class ResidenceStatus(StrEnum):
    """在留資格. Values are stable codes; ``label_ja`` gives the wording of the form."""

    PROFESSOR = "professor"
    ARTIST = "artist"
    RELIGIOUS_ACTIVITIES = "religious_activities"
    JOURNALIST = "journalist"
    HIGHLY_SKILLED_PROFESSIONAL_1A = "highly_skilled_professional_1a"
    HIGHLY_SKILLED_PROFESSIONAL_1B = "highly_skilled_professional_1b"
    HIGHLY_SKILLED_PROFESSIONAL_1C = "highly_skilled_professional_1c"
    HIGHLY_SKILLED_PROFESSIONAL_2 = "highly_skilled_professional_2"
    BUSINESS_MANAGER = "business_manager"
    LEGAL_ACCOUNTING = "legal_accounting"
    MEDICAL = "medical"
    RESEARCHER = "researcher"
    INSTRUCTOR = "instructor"
    ENGINEER_HUMANITIES_INTERNATIONAL = "engineer_humanities_international"
    INTRA_COMPANY_TRANSFEREE = "intra_company_transferee"
    NURSING_CARE = "nursing_care"
    ENTERTAINER = "entertainer"
    SKILLED_LABOR = "skilled_labor"
    SPECIFIED_SKILLED_WORKER_1 = "specified_skilled_worker_1"
    SPECIFIED_SKILLED_WORKER_2 = "specified_skilled_worker_2"
    TECHNICAL_INTERN_1A = "technical_intern_1a"
    TECHNICAL_INTERN_1B = "technical_intern_1b"
    TECHNICAL_INTERN_2A = "technical_intern_2a"
    TECHNICAL_INTERN_2B = "technical_intern_2b"
    TECHNICAL_INTERN_3A = "technical_intern_3a"
    TECHNICAL_INTERN_3B = "technical_intern_3b"
    EMPLOYMENT_FOR_SKILL_DEVELOPMENT = "employment_for_skill_development"
    CULTURAL_ACTIVITIES = "cultural_activities"
    STUDENT = "student"
    TRAINEE = "trainee"
    DEPENDENT = "dependent"
    DESIGNATED_ACTIVITIES = "designated_activities"
    PERMANENT_RESIDENT = "permanent_resident"
    SPOUSE_OR_CHILD_OF_JAPANESE = "spouse_or_child_of_japanese"
    SPOUSE_OR_CHILD_OF_PERMANENT_RESIDENT = "spouse_or_child_of_permanent_resident"
    LONG_TERM_RESIDENT = "long_term_resident"

    @property
    def label_ja(self) -> str:
        return _LABELS_JA[self]

    @property
    def has_period(self) -> bool:
        """Whether a period of stay (and so an expiry to remind of) applies."""
        return self is not ResidenceStatus.PERMANENT_RESIDENT and self is not (
            ResidenceStatus.HIGHLY_SKILLED_PROFESSIONAL_2
        )


_LABELS_JA: dict[ResidenceStatus, str] = {
    ResidenceStatus.PROFESSOR: "教授",
    ResidenceStatus.ARTIST: "芸術",
    ResidenceStatus.RELIGIOUS_ACTIVITIES: "宗教",
    ResidenceStatus.JOURNALIST: "報道",
    ResidenceStatus.HIGHLY_SKILLED_PROFESSIONAL_1A: "高度専門職1号イ",
    ResidenceStatus.HIGHLY_SKILLED_PROFESSIONAL_1B: "高度専門職1号ロ",
    ResidenceStatus.HIGHLY_SKILLED_PROFESSIONAL_1C: "高度専門職1号ハ",
    ResidenceStatus.HIGHLY_SKILLED_PROFESSIONAL_2: "高度専門職2号",
    ResidenceStatus.BUSINESS_MANAGER: "経営・管理",
    ResidenceStatus.LEGAL_ACCOUNTING: "法律・会計業務",
    ResidenceStatus.MEDICAL: "医療",
    ResidenceStatus.RESEARCHER: "研究",
    ResidenceStatus.INSTRUCTOR: "教育",
    ResidenceStatus.ENGINEER_HUMANITIES_INTERNATIONAL: "技術・人文知識・国際業務",
    ResidenceStatus.INTRA_COMPANY_TRANSFEREE: "企業内転勤",
    ResidenceStatus.NURSING_CARE: "介護",
    ResidenceStatus.ENTERTAINER: "興行",
    ResidenceStatus.SKILLED_LABOR: "技能",
    ResidenceStatus.SPECIFIED_SKILLED_WORKER_1: "特定技能1号",
    ResidenceStatus.SPECIFIED_SKILLED_WORKER_2: "特定技能2号",
    ResidenceStatus.TECHNICAL_INTERN_1A: "技能実習1号イ",
    ResidenceStatus.TECHNICAL_INTERN_1B: "技能実習1号ロ",
    ResidenceStatus.TECHNICAL_INTERN_2A: "技能実習2号イ",
    ResidenceStatus.TECHNICAL_INTERN_2B: "技能実習2号ロ",
    ResidenceStatus.TECHNICAL_INTERN_3A: "技能実習3号イ",
    ResidenceStatus.TECHNICAL_INTERN_3B: "技能実習3号ロ",
    ResidenceStatus.EMPLOYMENT_FOR_SKILL_DEVELOPMENT: "育成就労",
    ResidenceStatus.CULTURAL_ACTIVITIES: "文化活動",
    ResidenceStatus.STUDENT: "留学",
    ResidenceStatus.TRAINEE: "研修",
    ResidenceStatus.DEPENDENT: "家族滞在",
    ResidenceStatus.DESIGNATED_ACTIVITIES: "特定活動",
    ResidenceStatus.PERMANENT_RESIDENT: "永住者",
    ResidenceStatus.SPOUSE_OR_CHILD_OF_JAPANESE: "日本人の配偶者等",
    ResidenceStatus.SPOUSE_OR_CHILD_OF_PERMANENT_RESIDENT: "永住者の配偶者等",
    ResidenceStatus.LONG_TERM_RESIDENT: "定住者",
}

_BY_LABEL_JA: dict[str, ResidenceStatus] = {label: status for status, label in _LABELS_JA.items()}


def parse_residence_status(value: str) -> ResidenceStatus:
    """Accept our code (``specified_skilled_worker_1``) or the form's label (``特定技能1号``)."""
    text = value.strip()
    try:
        return ResidenceStatus(text.lower())
    except ValueError:
        pass
    # The form is often typed with full-width digits (特定技能１号).
    normalized = text.translate(_FULLWIDTH_DIGITS)
    if normalized in _BY_LABEL_JA:
        return _BY_LABEL_JA[normalized]
    raise ValueError(f"unknown status of residence {value!r}")


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")

# Codes CLDR lists as territories that are not ISO 3166-1 alpha-2 codes (groupings, pseudo-locales and
# exceptionally reserved codes).
_NOT_ISO_3166 = frozenset(
    {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ", "AC", "CP", "CQ", "DG", "EA", "IC", "TA"}
)


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (plus XK, Kosovo, which Japan recognises), from CLDR via Babel."""
    territories = [str(code) for code in Locale("en").territories]
    return frozenset(
        code for code in territories if len(code) == 2 and code.isalpha() and code not in _NOT_ISO_3166
    )


def is_country_code(value: str) -> bool:
    return value in country_codes()


def country_name(code: str, locale: str = "en") -> str:
    return str(Locale.parse(locale).territories.get(code, code))


def municipality_check_digit(five_digits: str) -> int:
    """JIS X 0402 check digit: weights 6..2, 11 minus the remainder mod 11, last digit of that."""
    total = sum(int(d) * w for d, w in zip(five_digits, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


@lru_cache(maxsize=8192)  # every employment event carries one; Japan has under 2,000 municipalities
def normalize_municipality_code(value: str) -> str:
    """Return the six-digit code; accept five digits (no check digit) or six with a correct one."""
    code = value.strip().translate(_FULLWIDTH_DIGITS)
    if not code.isascii() or not code.isdigit() or len(code) not in (5, 6):
        raise ValueError(f"municipality code must be 5 or 6 digits (JIS X 0402), got {value!r}")
    check = municipality_check_digit(code[:5])
    if len(code) == 6 and int(code[5]) != check:
        raise ValueError(f"municipality code {value!r} has a wrong check digit (expected {check})")
    prefecture = int(code[:2])
    if not 1 <= prefecture <= 47:
        raise ValueError(f"municipality code {value!r} names no prefecture (01-47)")
    return code[:5] + str(check)
