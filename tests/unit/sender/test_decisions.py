from datetime import UTC, datetime, timedelta

from services.common.contracts import SendMode
from services.sender.domain.decisions import (
    Endpoint,
    QuotaStatus,
    admit_notice,
    choose_endpoint,
    resend_is_safe,
)

from .factories import ready

MARGIN = timedelta(seconds=5)


def test_a_fresh_reply_token_is_used() -> None:
    batch = ready(recipients=1, mode=SendMode.REPLY, reply_token="t", reply_in=timedelta(seconds=50))
    assert choose_endpoint(batch, datetime.now(UTC), reply_margin=MARGIN) is Endpoint.REPLY


def test_a_stale_or_missing_reply_token_falls_back_to_push() -> None:
    stale = ready(recipients=1, mode=SendMode.REPLY, reply_token="t", reply_in=timedelta(seconds=3))
    assert choose_endpoint(stale, datetime.now(UTC), reply_margin=MARGIN) is Endpoint.PUSH
    missing = ready(recipients=1, mode=SendMode.REPLY)
    assert choose_endpoint(missing, datetime.now(UTC), reply_margin=MARGIN) is Endpoint.PUSH


def test_push_for_one_multicast_for_many() -> None:
    now = datetime.now(UTC)
    assert choose_endpoint(ready(recipients=1, mode=SendMode.PUSH), now, reply_margin=MARGIN) is Endpoint.PUSH
    assert choose_endpoint(ready(recipients=3, mode=SendMode.PUSH), now, reply_margin=MARGIN) is (
        Endpoint.MULTICAST
    )
    assert choose_endpoint(ready(recipients=1), now, reply_margin=MARGIN) is Endpoint.MULTICAST
    assert not Endpoint.REPLY.takes_retry_key
    assert Endpoint.MULTICAST.takes_retry_key


def test_resend_is_safe_only_while_line_remembers_the_key() -> None:
    now = datetime.now(UTC)
    trust = timedelta(hours=23)
    assert resend_is_safe(None, now, trust=trust)
    assert resend_is_safe(now - timedelta(hours=22, minutes=59), now, trust=trust)
    assert not resend_is_safe(now - timedelta(hours=23), now, trust=trust)
    assert not resend_is_safe(now - timedelta(days=3), now, trust=trust)


def test_admission_of_a_large_notice() -> None:
    unlimited = QuotaStatus(limited=False, limit=None, used=123)
    assert admit_notice(1_000_000, unlimited, refuse=True).admitted
    room = QuotaStatus(limited=True, limit=200_000, used=50_000)
    assert admit_notice(150_000, room, refuse=True).admitted
    refused = admit_notice(150_001, room, refuse=True)
    assert not refused.admitted
    assert refused.reason.startswith("quota: the notice needs 150001 messages, 150000 left")
    warned = admit_notice(150_001, room, refuse=False)
    assert warned.admitted
    assert "150000 left" in warned.reason
    assert QuotaStatus(limited=True, limit=10, used=20).remaining == 0
