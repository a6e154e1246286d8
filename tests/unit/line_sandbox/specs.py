"""Where LINE's OpenAPI documents are: ``../shared/line-openapi/`` beside the repository (CI clones the
repository next to shared/). A missing document fails the test that needs it, with the path it looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.stack import REPO

SPEC_DIR = REPO.parent / "shared" / "line-openapi"
#: The form the settings take in tests and CI: relative to the repository root.
MESSAGING_API_RELATIVE = "../shared/line-openapi/messaging-api.yml"
WEBHOOK_RELATIVE = "../shared/line-openapi/webhook.yml"


def spec_path(name: str = "messaging-api.yml") -> Path:
    path = SPEC_DIR / name
    if not path.is_file():
        pytest.fail(
            f"LINE's OpenAPI document {name} is missing: expected it at {path} "
            "(the shared folder beside the repository, ../shared/line-openapi/)",
            pytrace=False,
        )
    return path
