import uuid

import pytest

from services.sender.domain.retry_keys import RETRY_KEY_NAMESPACE, retry_key_for


def test_the_same_batch_always_gets_the_same_key() -> None:
    batch = "0b9e6c5e-3f0e-4d5c-9a53-2f4c1c1f9a10:vi:3"
    assert retry_key_for(batch) == retry_key_for(batch)
    assert retry_key_for(batch).version == 5


def test_different_batches_get_different_keys() -> None:
    notice = "0b9e6c5e-3f0e-4d5c-9a53-2f4c1c1f9a10"
    keys = {retry_key_for(f"{notice}:{lang}:{n}") for lang in ("vi", "ne", "id") for n in range(100)}
    assert len(keys) == 300


def test_the_namespace_is_pinned() -> None:
    # Changing the namespace would give every in-flight batch a new key, and LINE would send them again.
    assert uuid.UUID("3b0f3c2e-5d2a-5b8e-9f44-6c1d2a7e8b90") == RETRY_KEY_NAMESPACE
    assert str(retry_key_for("n:en:0")) == str(uuid.uuid5(RETRY_KEY_NAMESPACE, "n:en:0"))


def test_an_empty_batch_id_is_refused() -> None:
    with pytest.raises(ValueError, match="batch id"):
        retry_key_for("")
