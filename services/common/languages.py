"""The languages the prefecture offers, as data.

Codes are BCP 47 tags. Easy Japanese (やさしいにほんご) is not a separate language in any standard, so it
uses the private-use tag ``ja-x-easy``; Babel formats dates and numbers for it as Japanese.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    english_name: str
    native_name: str
    babel_locale: str
    #: values LINE's profile API may give for this language (``language`` in GET /v2/bot/profile)
    line_codes: tuple[str, ...] = ()


JAPANESE = Language("ja", "Japanese", "日本語", "ja", ("ja",))
EASY_JAPANESE = Language("ja-x-easy", "Easy Japanese", "やさしいにほんご", "ja")

#: The 24 default languages, in the order the language picker shows them, then Japanese.
DEFAULT_LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English", "en", ("en",)),
    Language("vi", "Vietnamese", "Tiếng Việt", "vi", ("vi",)),
    Language("id", "Indonesian", "Bahasa Indonesia", "id", ("id", "in")),
    Language("zh-Hans", "Chinese (Simplified)", "简体中文", "zh_Hans_CN", ("zh-Hans", "zh-CN", "zh")),
    Language("zh-Hant", "Chinese (Traditional)", "繁體中文", "zh_Hant_TW", ("zh-Hant", "zh-TW", "zh-HK")),
    Language("ko", "Korean", "한국어", "ko", ("ko",)),
    Language("fil", "Filipino", "Filipino", "fil", ("fil", "tl")),
    Language("pt-BR", "Portuguese (Brazil)", "Português (Brasil)", "pt_BR", ("pt-BR", "pt")),
    Language("es", "Spanish", "Español", "es", ("es",)),
    Language("ne", "Nepali", "नेपाली", "ne", ("ne",)),
    Language("th", "Thai", "ไทย", "th", ("th",)),
    Language("my", "Burmese", "မြန်မာဘာသာ", "my", ("my",)),
    Language("km", "Khmer", "ភាសាខ្មែរ", "km", ("km",)),
    Language("si", "Sinhala", "සිංහල", "si", ("si",)),
    Language("mn", "Mongolian", "Монгол", "mn", ("mn",)),
    Language("bn", "Bengali", "বাংলা", "bn", ("bn",)),
    Language("hi", "Hindi", "हिन्दी", "hi", ("hi",)),
    Language("ur", "Urdu", "اردو", "ur", ("ur",)),
    Language("ru", "Russian", "Русский", "ru", ("ru",)),
    Language("uk", "Ukrainian", "Українська", "uk", ("uk",)),
    Language("fr", "French", "Français", "fr", ("fr",)),
    Language("uz", "Uzbek", "Oʻzbekcha", "uz", ("uz",)),
    Language("ta", "Tamil", "தமிழ்", "ta", ("ta",)),
    EASY_JAPANESE,
    JAPANESE,
)

BY_CODE: dict[str, Language] = {lang.code: lang for lang in DEFAULT_LANGUAGES}
LANGUAGE_CODES: frozenset[str] = frozenset(BY_CODE)

_BY_LINE_CODE: dict[str, Language] = {
    code.lower(): lang for lang in DEFAULT_LANGUAGES for code in lang.line_codes
}


def get(code: str) -> Language:
    """The language for a code; KeyError names the code when it is not offered."""
    try:
        return BY_CODE[code]
    except KeyError:
        raise KeyError(f"unsupported language {code!r}") from None


def from_line_profile(value: str | None) -> Language | None:
    """Map LINE's profile language (``en``, ``zh-Hant``, ``pt-BR``, ...) to an offered language."""
    if not value:
        return None
    key = value.lower()
    if key in _BY_LINE_CODE:
        return _BY_LINE_CODE[key]
    return _BY_LINE_CODE.get(key.split("-", 1)[0])
