"""What the dialogue remembers about one LINE subscriber (one row of the router's registry)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.common.codes import ResidenceStatus
from services.common.contracts.notices import NoticeCategory


class Step(StrEnum):
    """Onboarding, in order. A step is *settled* once answered or skipped; DONE is the resting state."""

    LANGUAGE = "language"
    EMPLOYER_CODE = "employer_code"
    NATIONALITY = "nationality"
    RESIDENCE_STATUS = "residence_status"
    CONSENT = "consent"
    CARD = "card"
    DONE = "done"


ONBOARDING: tuple[Step, ...] = tuple(step for step in Step if step is not Step.DONE)


class Modal(StrEnum):
    """A question opened by a command on top of the current step; any other input closes it."""

    LANGUAGE = "language"
    TOPICS = "topics"
    CONFIRM_DELETE = "confirm_delete"


STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class SubscriberState:
    """Immutable; ``handle`` returns a new one. Persist it with ``to_dict`` (JSON-safe)."""

    #: language code (services.common.languages); a guess until ``language_confirmed``
    language: str
    language_confirmed: bool = False
    step: Step = Step.LANGUAGE
    settled: frozenset[Step] = frozenset()
    #: every step was settled once (the "registration is complete" message went out)
    onboarding_completed: bool = False
    modal: Modal | None = None
    followed: bool = True
    #: LINE time of the last follow/unfollow applied: older ones (redelivered late) are ignored
    follow_changed_at: datetime | None = None
    #: the worker sent "stop": no notices or reminders until "start" (replies to them still go out)
    stopped: bool = False
    employer_linked: bool = False
    code_failures: int = 0
    last_code_failure_at: datetime | None = None
    #: ISO 3166-1 alpha-2, as the worker declared it
    nationality: str | None = None
    #: as the worker declared it; an employment record linked later is more exact
    residence_status: ResidenceStatus | None = None
    consent_version: str | None = None
    consented_at: datetime | None = None
    worker_linked: bool = False
    categories_opted_out: frozenset[NoticeCategory] = field(default_factory=frozenset)
    #: when the "cannot reply here" answer was last sent (so chatter does not get it every time)
    last_fallback_at: datetime | None = None

    @property
    def onboarded(self) -> bool:
        return self.step is Step.DONE

    def with_(self, **changes: Any) -> SubscriberState:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = STATE_VERSION
        data["settled"] = sorted(step.value for step in self.settled)
        data["categories_opted_out"] = sorted(c.value for c in self.categories_opted_out)
        for key in ("follow_changed_at", "last_code_failure_at", "consented_at", "last_fallback_at"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        for key in ("step", "modal", "residence_status"):
            value = data[key]
            data[key] = value.value if value is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubscriberState:
        version = data.get("version", STATE_VERSION)
        if version != STATE_VERSION:
            raise ValueError(f"unsupported dialogue state version {version!r}")

        def when(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if value else None

        status = data.get("residence_status")
        modal = data.get("modal")
        return cls(
            language=data["language"],
            language_confirmed=bool(data.get("language_confirmed", False)),
            step=Step(data.get("step", Step.LANGUAGE)),
            settled=frozenset(Step(s) for s in data.get("settled", ())),
            onboarding_completed=bool(data.get("onboarding_completed", False)),
            modal=Modal(modal) if modal else None,
            followed=bool(data.get("followed", True)),
            follow_changed_at=when("follow_changed_at"),
            stopped=bool(data.get("stopped", False)),
            employer_linked=bool(data.get("employer_linked", False)),
            code_failures=int(data.get("code_failures", 0)),
            last_code_failure_at=when("last_code_failure_at"),
            nationality=data.get("nationality"),
            residence_status=ResidenceStatus(status) if status else None,
            consent_version=data.get("consent_version"),
            consented_at=when("consented_at"),
            worker_linked=bool(data.get("worker_linked", False)),
            categories_opted_out=frozenset(NoticeCategory(c) for c in data.get("categories_opted_out", ())),
            last_fallback_at=when("last_fallback_at"),
        )
