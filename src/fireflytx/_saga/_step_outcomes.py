"""One saga unit's attempts and compensations read as its outcome: for steps and fan-out clones alike.

A step and each clone of a fan-out step keep the same record (attempts, compensations, whether it
succeeded), so their outcomes and their part in the saga's status are read here, once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from .._core._attempt import Attempt
from .._core._records import Clock, attempt_log, error_of, span
from ._results import StepOutcome, StepStatus

__all__ = ["Standing", "Timed", "UnitRecord", "outcome_of", "standing_of", "summarize"]


class UnitRecord(Protocol):
    """What a step or a clone keeps of its run."""

    @property
    def attempts(self) -> Sequence[Attempt]: ...

    @property
    def compensations(self) -> Sequence[Attempt]: ...

    @property
    def succeeded(self) -> bool: ...


class Standing(enum.Enum):
    """Where a unit leaves the saga's status."""

    NOT_RUN = enum.auto()
    FAILED = enum.auto()
    UNDO_FAILED = enum.auto()
    UNDONE = enum.auto()
    DONE = enum.auto()
    """Succeeded and not undone (with a compensation after a failure: skipped)."""


def standing_of(record: UnitRecord) -> tuple[Standing, float | None]:
    """The unit's standing, with when it failed or was undone (``perf_counter``; None otherwise)."""
    attempts = record.attempts
    if not attempts:
        return Standing.NOT_RUN, None
    comp = record.compensations[-1] if record.compensations else None
    if not record.succeeded:
        return Standing.FAILED, attempts[-1].ended
    if comp is not None and not comp.succeeded:
        return Standing.UNDO_FAILED, None
    if comp is not None:
        return Standing.UNDONE, comp.ended
    return Standing.DONE, None


Timed = list[tuple[float, str]]


def summarize(units: Iterable[tuple[str, UnitRecord]], ended: float) -> tuple[Timed, Timed, bool]:
    """The units that failed and those undone (each with when), and whether an undo failed."""
    failed: Timed = []
    compensated: Timed = []
    compensation_failed = False
    for unit_id, record in units:
        standing, when = standing_of(record)
        if standing is Standing.FAILED:
            failed.append((when or ended, unit_id))
        elif standing is Standing.UNDO_FAILED:
            compensation_failed = True
        elif standing is Standing.UNDONE:
            compensated.append((when or ended, unit_id))
    return failed, compensated, compensation_failed


def outcome_of(
    unit_id: str, record: UnitRecord, *, has_compensation: bool, result: Any, clock: Clock, ended: float
) -> StepOutcome:
    """The outcome of one step or clone, as a run's result reports it."""
    attempts = record.attempts
    if not attempts:
        return StepOutcome(step_id=unit_id, status=StepStatus.NOT_RUN, has_compensation=has_compensation)
    comps = record.compensations
    comp = comps[-1] if comps else None
    if not record.succeeded:
        status = StepStatus.FAILED
    elif comp is None:
        status = StepStatus.SUCCEEDED
    else:
        status = StepStatus.COMPENSATED if comp.succeeded else StepStatus.COMPENSATION_FAILED
    started, completed, duration = span(attempts, clock, ended)
    comp_started, comp_completed, _ = span(comps, clock, ended)
    return StepOutcome(
        step_id=unit_id,
        status=status,
        attempts=len(attempts),
        duration_ms=duration,
        started_at=started,
        completed_at=completed,
        result=result,
        error=None if record.succeeded else error_of(attempts[-1]),
        has_compensation=has_compensation,
        compensated=comp is not None and comp.succeeded,
        compensation_attempts=len(comps),
        compensation_error=error_of(comp),
        compensation_started_at=comp_started,
        compensation_completed_at=comp_completed,
        attempt_log=attempt_log(attempts, clock, ended),
    )
