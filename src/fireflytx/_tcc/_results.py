"""What a TCC run produced: per-participant, per-phase outcomes built from what each call really did.

The engine's own ``TccResult`` says ``success=true`` with no error when a confirm failed, and leaves
a participant whose try returned nothing out of every phase; fireflytx builds its result from its
own record of every attempt instead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._outcomes import AttemptRecord, StepError, json_time
from .._result_view import DeferredUnits, Shown, UnitRow, attempted_json
from .._values import to_jsonable
from ..errors import StepFailedError, TccCancelError, TccConfirmError

__all__ = [
    "TccParticipantOutcome",
    "TccParticipantStatus",
    "TccPhaseOutcome",
    "TccPhaseStatus",
    "TccResult",
    "TccStatus",
]


class TccStatus(enum.StrEnum):
    """How a TCC run ended."""

    CONFIRMED = "CONFIRMED"
    """Every try succeeded (optional participants aside) and every confirm succeeded."""
    CANCELED = "CANCELED"
    """A try failed and every participant whose try had started was cancelled."""
    CONFIRM_FAILED = "CONFIRM_FAILED"
    """Every try succeeded but at least one confirm failed after its retries: partly committed."""
    CANCEL_FAILED = "CANCEL_FAILED"
    """At least one cancel failed after its retries: a reservation may still be held."""


class TccPhaseStatus(enum.StrEnum):
    """How one phase of one participant ended."""

    NOT_RUN = "NOT_RUN"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class TccParticipantStatus(enum.StrEnum):
    """Where one participant ended up."""

    SKIPPED = "SKIPPED"
    """Its try never started (an earlier participant's try failed)."""
    CONFIRMED = "CONFIRMED"
    CONFIRM_FAILED = "CONFIRM_FAILED"
    CANCELED = "CANCELED"
    CANCEL_FAILED = "CANCEL_FAILED"
    TRIED = "TRIED"
    """Its try ran but it was neither confirmed nor cancelled; the run then reports a failure."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TccPhaseOutcome:
    """One phase of one participant; times are wall-clock, durations in milliseconds."""

    status: TccPhaseStatus = TccPhaseStatus.NOT_RUN
    attempts: int = 0
    duration_ms: float = 0.0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: StepError | None = None
    attempt_log: tuple[AttemptRecord, ...] = field(default=(), repr=False)

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-compatible view; the attempt log stays out, as in the saga result's JSON."""
        return attempted_json(self)


_NOT_RUN = TccPhaseOutcome()


@dataclass(frozen=True, slots=True, kw_only=True)
class TccParticipantOutcome:
    """One participant's outcome: its try result and what each phase did."""

    participant_id: str
    order: int
    optional: bool = False
    status: TccParticipantStatus
    try_result: Any = None
    try_phase: TccPhaseOutcome = _NOT_RUN
    confirm_phase: TccPhaseOutcome = _NOT_RUN
    cancel_phase: TccPhaseOutcome = _NOT_RUN
    started_at: datetime | None = None
    completed_at: datetime | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-compatible view (the try result converted)."""
        return {
            "participant_id": self.participant_id,
            "order": self.order,
            "optional": self.optional,
            "status": self.status.value,
            "try_phase": self.try_phase.to_json_dict(),
            "confirm_phase": self.confirm_phase.to_json_dict(),
            "cancel_phase": self.cancel_phase.to_json_dict(),
            "started_at": json_time(self.started_at),
            "completed_at": json_time(self.completed_at),
            "try_result": to_jsonable(self.try_result),
        }

    @property
    def error(self) -> StepError | None:
        """The error behind its status: a failed cancel's or confirm's, else a failed try's."""
        for phase in (self.cancel_phase, self.confirm_phase, self.try_phase):
            if phase.status is TccPhaseStatus.FAILED and phase.error is not None:
                return phase.error
        return None


def _phase_text(phase: TccPhaseOutcome) -> str:
    if phase.status is TccPhaseStatus.NOT_RUN:
        return "-"
    mark = "ok" if phase.status is TccPhaseStatus.SUCCEEDED else "failed"
    return f"{mark} ×{phase.attempts} {phase.duration_ms:.1f} ms"


def _participant_row(o: TccParticipantOutcome) -> UnitRow:
    phases = (_phase_text(o.try_phase), _phase_text(o.confirm_phase), _phase_text(o.cancel_phase))
    return o.participant_id, " (optional)" if o.optional else "", o.status, (*phases, str(o.error or ""))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class TccResult(DeferredUnits[TccParticipantOutcome, TccStatus]):
    """The outcome of one TCC run.

    ``is_success`` and ``is_confirmed`` are true only when every confirm succeeded (``CONFIRMED``);
    ``is_canceled`` only when a try failed and every cancel succeeded (``CANCELED``). The two
    ``*_FAILED`` statuses need attention: something may be half committed or still reserved.
    Make one with ``TccResult.deferred(fields, build_participants)``.
    """

    _success = TccStatus.CONFIRMED
    tcc_name: str
    failed_participant: str | None = None

    @property
    def participants(self) -> dict[str, TccParticipantOutcome]:
        """Participant id to outcome, in ``order``.

        Built on first access: a caller that only checks ``status`` never pays for it.
        """
        return self._units_now()

    @property
    def is_confirmed(self) -> bool:
        """True when every confirm succeeded (a failed confirm is never reported as confirmed)."""
        return self.status is TccStatus.CONFIRMED

    @property
    def is_canceled(self) -> bool:
        """True when a try failed and every cancel succeeded."""
        return self.status is TccStatus.CANCELED

    @property
    def error(self) -> StepError | None:
        """The error of ``failed_participant``: its try's after a cancel, else its confirm's or cancel's."""
        if self.failed_participant is None:
            return None
        outcome = self.participants[self.failed_participant]
        cancelled = self.status in (TccStatus.CANCELED, TccStatus.CANCEL_FAILED)
        if cancelled and outcome.try_phase.error is not None:
            return outcome.try_phase.error
        return outcome.error

    @property
    def confirm_errors(self) -> dict[str, StepError]:
        """Participant id to the error of its failed confirm."""
        return _phase_errors(self, "confirm_phase")

    @property
    def cancel_errors(self) -> dict[str, StepError]:
        """Participant id to the error of its failed cancel."""
        return _phase_errors(self, "cancel_phase")

    def try_result_of(self, participant_id: str) -> Any:
        """The try result of one participant (``None`` if it returned nothing or did not succeed).

        Raises:
            KeyError: the TCC has no such participant.
        """
        if participant_id not in self.participants:
            raise KeyError(
                f"tcc {self.tcc_name!r} has no participant {participant_id!r}; "
                f"participants: {list(self.participants)}"
            )
        return self.participants[participant_id].try_result

    def raise_for_status(self) -> TccResult:
        """Return self if confirmed; raise ``TccConfirmError``, ``TccCancelError`` or ``StepFailedError``."""
        if self.status is TccStatus.CONFIRM_FAILED:
            raise TccConfirmError(
                self.tcc_name, self.correlation_id, {k: str(v) for k, v in self.confirm_errors.items()}
            )
        if self.status is TccStatus.CANCEL_FAILED:
            raise TccCancelError(
                self.tcc_name, self.correlation_id, {k: str(v) for k, v in self.cancel_errors.items()}
            )
        if self.status is TccStatus.CANCELED and self.failed_participant is not None:
            outcome = self.participants[self.failed_participant]
            raise StepFailedError(
                self.tcc_name,
                self.correlation_id,
                outcome.participant_id,
                outcome.try_phase.attempts,
                str(outcome.try_phase.error),
                kind="tcc",
            )
        return self

    _shown = Shown(
        "tcc", "participants", ("failed_participant",), "failed_participant",
        ("participant", "status", "try", "confirm", "cancel", "error"), _participant_row,
    )


def _phase_errors(result: TccResult, phase: str) -> dict[str, StepError]:
    found: dict[str, StepError] = {}
    for pid, outcome in result.participants.items():
        phase_outcome: TccPhaseOutcome = getattr(outcome, phase)
        if phase_outcome.status is TccPhaseStatus.FAILED and phase_outcome.error is not None:
            found[pid] = phase_outcome.error
    return found
