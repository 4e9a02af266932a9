"""What a saga run produced: per-step outcomes built from what each step really did.

The engine's own ``SagaResult`` marks every completed step as compensated, ignores compensation
failures in ``isSuccess()`` and picks an arbitrary error when several steps failed; fireflytx
builds its result from its own record of every attempt and compensation instead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._outcomes import AttemptRecord, StepError, json_time
from .._result_view import DeferredUnits, Shown, UnitRow, attempted_json
from .._values import to_jsonable
from ..errors import CompensationError, StepFailedError, TransactionError

__all__ = ["SagaResult", "SagaStatus", "StepError", "StepOutcome", "StepStatus"]


class SagaStatus(enum.StrEnum):
    """How a saga run ended."""

    SUCCEEDED = "SUCCEEDED"
    """Every step succeeded."""
    COMPENSATED = "COMPENSATED"
    """A step failed and every completed step that has a compensation was compensated."""
    COMPENSATION_FAILED = "COMPENSATION_FAILED"
    """A step failed and at least one compensation failed after its retries."""
    FAILED = "FAILED"
    """A step failed and some compensations were skipped (for example by ``CIRCUIT_BREAKER``)."""


class StepStatus(enum.StrEnum):
    """How one step ended."""

    NOT_RUN = "NOT_RUN"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"
    COMPENSATION_FAILED = "COMPENSATION_FAILED"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepOutcome:
    """One step's outcome; times are wall-clock, durations in milliseconds."""

    step_id: str
    status: StepStatus
    attempts: int = 0
    duration_ms: float = 0.0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result: Any = None
    error: StepError | None = None
    has_compensation: bool = False
    compensated: bool = False
    compensation_attempts: int = 0
    compensation_error: StepError | None = None
    compensation_started_at: datetime | None = None
    compensation_completed_at: datetime | None = None
    attempt_log: tuple[AttemptRecord, ...] = field(default=(), repr=False)

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-compatible view: the result converted, errors as type, message and traceback.

        The attempt log stays out: the attempts count and the step's error summarise it.
        """
        return {
            "step_id": self.step_id,
            **attempted_json(self),
            "has_compensation": self.has_compensation,
            "compensated": self.compensated,
            "compensation_attempts": self.compensation_attempts,
            "compensation_error": None
            if self.compensation_error is None
            else self.compensation_error.to_json_dict(),
            "compensation_started_at": json_time(self.compensation_started_at),
            "compensation_completed_at": json_time(self.compensation_completed_at),
            "result": to_jsonable(self.result),
        }


def _step_row(o: StepOutcome) -> UnitRow:
    error = str(o.error or o.compensation_error or "")
    return o.step_id, "", o.status, (str(o.attempts), f"{o.duration_ms:.1f}", _compensation_text(o), error)


def _compensation_text(outcome: StepOutcome) -> str:
    if outcome.compensation_error is not None:
        return "failed"
    if outcome.compensated:
        return "compensated"
    return "" if outcome.has_compensation else "none defined"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class SagaResult(DeferredUnits[StepOutcome, SagaStatus]):
    """The outcome of one saga run.

    ``is_success`` is true only if every step succeeded. After a failure, ``status`` says whether the
    completed steps were undone (``COMPENSATED``), whether an undo failed (``COMPENSATION_FAILED``) or
    was skipped (``FAILED``). Make one with ``SagaResult.deferred(fields, build_steps)``.
    """

    _success = SagaStatus.SUCCEEDED
    saga_name: str
    failed_steps: tuple[str, ...] = ()
    compensated_steps: tuple[str, ...] = ()

    @property
    def steps(self) -> dict[str, StepOutcome]:
        """Step id to outcome, in declaration order.

        Built on first access: a caller that only checks ``status`` never pays for it.
        """
        return self._units_now()

    @property
    def failed_step(self) -> str | None:
        """The first step that failed, if any."""
        return self.failed_steps[0] if self.failed_steps else None

    @property
    def error(self) -> StepError | None:
        """The error of the first failed step."""
        return self.steps[self.failed_steps[0]].error if self.failed_steps else None

    @property
    def compensation_errors(self) -> dict[str, StepError]:
        """Step id to the error of its failed compensation."""
        return {k: v.compensation_error for k, v in self.steps.items() if v.compensation_error is not None}

    def result_of(self, step_id: str) -> Any:
        """The result of one step (``None`` if it returned nothing or did not succeed).

        Raises:
            KeyError: the saga has no such step.
        """
        if step_id not in self.steps:
            raise KeyError(f"saga {self.saga_name!r} has no step {step_id!r}; steps: {list(self.steps)}")
        return self.steps[step_id].result

    def raise_for_status(self) -> SagaResult:
        """Return self if the saga succeeded; raise ``StepFailedError`` or ``CompensationError`` if not."""
        if self.status is SagaStatus.COMPENSATION_FAILED:
            raise CompensationError(
                self.saga_name, self.correlation_id, {k: str(v) for k, v in self.compensation_errors.items()}
            )
        if not self.is_success and not self.failed_steps:
            raise TransactionError(
                f"saga {self.saga_name!r} ({self.correlation_id}) succeeded, then was compensated by "
                "the saga that ran it as a sub-saga"
            )
        if not self.is_success:
            step = self.steps[self.failed_steps[0]]
            raise StepFailedError(
                self.saga_name, self.correlation_id, step.step_id, step.attempts, str(step.error)
            )
        return self

    _shown = Shown(
        "saga", "steps", ("failed_steps", "compensated_steps"), "failed_step",
        ("step", "status", "attempts", "ms", "compensation", "error"), _step_row,
    )
