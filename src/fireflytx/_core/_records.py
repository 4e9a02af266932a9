"""Reading attempt records into the times and logs that SAGA and TCC outcomes both report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .._outcomes import AttemptRecord, StepError
from ._attempt import Attempt

__all__ = ["Clock", "attempt_log", "error_of", "span"]


@dataclass(frozen=True, slots=True)
class Clock:
    """A run's start on both clocks: attempts are timed with ``perf_counter``, reported in UTC."""

    wall_start: datetime
    clock_start: float

    def wall(self, clock: float) -> datetime:
        """The wall-clock time of a ``perf_counter`` reading."""
        return self.wall_start + timedelta(0, clock - self.clock_start)  # positional: half the cost

    def ms_since_start(self, clock: float) -> float:
        """Milliseconds from the run's start to a ``perf_counter`` reading."""
        return (clock - self.clock_start) * 1000


def span(
    attempts: Sequence[Attempt], clock: Clock, now: float
) -> tuple[datetime | None, datetime | None, float]:
    """First start, last end (``now`` for one still running) and the duration in ms between them."""
    if not attempts:
        return None, None, 0.0
    first = attempts[0].started or attempts[0].ended or now
    last = attempts[-1].ended or now
    return clock.wall(first), clock.wall(last), (last - first) * 1000


def error_of(attempt: Attempt | None) -> StepError | None:
    """The recorded error of an attempt (None when it succeeded or there is none)."""
    if attempt is None or attempt.error is None:
        return None
    return StepError.from_exception(attempt.error)


def attempt_log(attempts: Sequence[Attempt], clock: Clock, now: float) -> tuple[AttemptRecord, ...]:
    """One record per attempt, in the order they ran."""
    return tuple(
        AttemptRecord(
            a.number, clock.wall(a.started or a.ended or now), clock.wall(a.ended or now), error_of(a)
        )
        for a in attempts
    )
