"""A run's progress as its own steps and participants see it: views read live from the run's records.

Nothing is kept up to date as attempts come and go: a view is built from the run's records when a
step asks for one, so a run whose steps never ask pays nothing. The records may be growing on
another thread meanwhile (a ``def`` step on a worker, the loop finishing an attempt); attempt
lists only grow, and an attempt counts as ended only once the run has taken its outcome, so a
view is always something the run really went through.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._core._attempt import Attempt
from ._values import is_carriable, to_jsonable

__all__ = ["ParticipantView", "PhaseView", "StepView", "UnitStatus", "jsonable", "key_of"]


class UnitStatus(enum.StrEnum):
    """Where a saga step, or one phase of a TCC participant, is now."""

    NOT_RUN = "NOT_RUN"
    RUNNING = "RUNNING"
    """An attempt was asked for and has not ended (it may wait for a worker or a layer slot)."""
    RETRYING = "RETRYING"
    """An attempt failed and another one follows."""
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    """Its last attempt failed; no retry follows."""
    COMPENSATING = "COMPENSATING"
    """Saga steps only: its compensation runs (or waits to retry)."""
    COMPENSATED = "COMPENSATED"
    COMPENSATION_FAILED = "COMPENSATION_FAILED"


def key_of(correlation_id: str, phase: str, unit_id: str) -> str:
    """The idempotency key of a step, compensation or TCC phase: ``<correlation id>:<phase>:<id>``."""
    return f"{correlation_id}:{phase}:{unit_id}"


def jsonable(value: Any) -> Any:
    """``value`` as JSON-compatible data; a value fireflytx cannot carry becomes its ``repr``."""
    return to_jsonable(value) if is_carriable(value) else repr(value)


def _ended(attempt: Attempt) -> bool:
    # ``done`` is set before the outcome is written; ``on_done`` is cleared once the run took it.
    return attempt.done and attempt.on_done is None


def status_of(attempts: Sequence[Attempt]) -> tuple[UnitStatus, int]:
    """The status of one step or phase from its attempts so far, and how many there were."""
    count = len(attempts)
    if not count:
        return UnitStatus.NOT_RUN, 0
    last = attempts[count - 1]
    if not _ended(last):
        return UnitStatus.RUNNING, count
    if last.error is None:
        return UnitStatus.SUCCEEDED, count
    return (UnitStatus.FAILED if last.last else UnitStatus.RETRYING), count


@dataclass(frozen=True, slots=True)
class PhaseView:
    """One phase of a TCC participant now: ``try``, ``confirm`` or ``cancel``."""

    participant_id: str
    phase: str
    status: UnitStatus
    attempts: int
    idempotency_key: str
    """What ``ctx.idempotency_key`` reads inside this phase: ``<correlation id>:<phase>:<participant id>``."""

    @classmethod
    def of(
        cls, correlation_id: str, participant_id: str, phase: str, attempts: Sequence[Attempt]
    ) -> PhaseView:
        status, count = status_of(attempts)
        return cls(participant_id, phase, status, count, key_of(correlation_id, phase, participant_id))

    def to_dict(self) -> dict[str, Any]:
        key = self.idempotency_key
        return {"status": str(self.status), "attempts": self.attempts, "idempotency_key": key}


@dataclass(frozen=True, slots=True)
class StepView:
    """One saga step now: where it is, its attempts so far and the keys it and its compensation use."""

    step_id: str
    status: UnitStatus
    attempts: int
    compensation_attempts: int
    idempotency_key: str
    """What ``ctx.idempotency_key`` reads inside the step: ``<correlation id>:step:<step id>``."""
    compensation_key: str
    """What ``ctx.idempotency_key`` reads inside its compensation."""

    @classmethod
    def of(
        cls, correlation_id: str, step_id: str, attempts: Sequence[Attempt], compensations: Sequence[Attempt]
    ) -> StepView:
        status, count = status_of(attempts)
        undo, undone = status_of(compensations)
        if undo is UnitStatus.SUCCEEDED:
            status = UnitStatus.COMPENSATED
        elif undo is UnitStatus.FAILED:
            status = UnitStatus.COMPENSATION_FAILED
        elif undo is not UnitStatus.NOT_RUN:
            status = UnitStatus.COMPENSATING
        return cls(
            step_id, status, count, undone,
            key_of(correlation_id, "step", step_id), key_of(correlation_id, "compensation", step_id),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "attempts": self.attempts,
            "compensation_attempts": self.compensation_attempts,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True, slots=True)
class ParticipantView:
    """One TCC participant now: each of its phases."""

    participant_id: str
    try_phase: PhaseView
    confirm_phase: PhaseView
    cancel_phase: PhaseView

    def phase(self, name: str) -> PhaseView:
        """The view of phase ``name`` (``try``, ``confirm`` or ``cancel``)."""
        views = {"try": self.try_phase, "confirm": self.confirm_phase, "cancel": self.cancel_phase}
        if name not in views:
            raise ValueError(f"a TCC phase is 'try', 'confirm' or 'cancel', not {name!r}")
        return views[name]

    def to_dict(self) -> dict[str, Any]:
        return {v.phase: v.to_dict() for v in (self.try_phase, self.confirm_phase, self.cancel_phase)}
