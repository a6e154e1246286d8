"""The version of the consent text.

A consent is only worth something if one can say which text was agreed to. The version names the
English text *and* every translation of it; ``text_digest`` fingerprints them, and a unit test pins
the fingerprint to the version, so changing a word in any language without a new version fails CI.
To change the text: edit it (texts.CONSENT and the catalogs), set a new CONSENT_VERSION, and put the
new digest (the test prints it) in CONSENT_DIGEST. Subscribers who agreed to an older version keep
their link; a new card number is only accepted after they agree to the current text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from . import texts

CONSENT_VERSION = "reminders-v1"
CONSENT_DIGEST = "1eedbb5f9c8961470d8895f0e4751b4a0cd16cb6cad03dc07fc875301ca2ea29"


def text_digest(translations: Mapping[str, str]) -> str:
    """SHA-256 over the msgid and each language's text, in language order."""
    digest = hashlib.sha256(texts.CONSENT.msgid.encode())
    for language in sorted(translations):
        digest.update(b"\x1f" + language.encode() + b"\x1e" + translations[language].encode())
    return digest.hexdigest()
