"""The kernel's testing hook: interceptors consulted before each user call.

Observers cannot change an outcome by design, and patching a user's methods would test something
other than what runs in production; an interceptor instead sits inside the kernel, where every
step, compensation and TCC phase attempt passes, and can fail or delay an attempt exactly as a
real fault would, timeouts and retries included. ``fireflytx.testing`` builds its fault
injection and fast backoff on it; nothing else should register one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..listeners import Phase, TransactionKind
from ._attempt import Attempt

if TYPE_CHECKING:
    from ._run import RunBase

__all__ = ["AttemptCall", "Interceptor", "after", "before_async", "before_sync", "paced"]


@dataclass(frozen=True, slots=True)
class AttemptCall:
    """The attempt an interceptor is asked about."""

    kind: TransactionKind
    name: str
    correlation_id: str
    phase: Phase
    unit_id: str
    """The step id (saga) or participant id (TCC)."""
    attempt: int
    """1 for the first attempt."""
    timeout_ms: int
    """The attempt's own timeout, 0 when it has none."""


class Interceptor(Protocol):
    """A hook on every attempt of the runs of one engine."""

    def before_attempt(self, call: AttemptCall) -> float:
        """Seconds to wait before the user's method is called (0 for none); raise to fail the attempt.

        Called on the thread that runs the attempt (the run's loop or a worker thread), after the
        attempt's timeout started counting.
        """

    def backoff(self, call: AttemptCall, seconds: float) -> float:
        """The pause to take instead of ``seconds`` before retrying a compensation or cancel."""

    def after_attempt(self, call: AttemptCall, failed: bool) -> None:
        """The user's method has returned (or raised) and nothing of it is recorded yet.

        Called on the thread that ran the attempt, before the journal is asked to record it, so a
        crash injected here is the crash between a step's effect and its checkpoint.
        """


def _call(run: RunBase, attempt: Attempt) -> AttemptCall:
    return AttemptCall(
        run.kind, run.name, run.correlation_id, attempt.phase, attempt.unit_id, attempt.number,
        attempt.timeout_ms,
    )


def _delay(run: RunBase, attempt: Attempt) -> float:
    call = _call(run, attempt)
    return sum(interceptor.before_attempt(call) for interceptor in run.interceptors)


async def before_async(run: RunBase, attempt: Attempt) -> None:
    """Consult the run's interceptors for an ``async def`` attempt; raises what one raises."""
    delay = _delay(run, attempt)
    if delay > 0:
        await asyncio.sleep(delay)


def before_sync(run: RunBase, attempt: Attempt) -> bool:
    """Consult the run's interceptors for a ``def`` attempt; False if it ended during the delay."""
    delay = _delay(run, attempt)
    if delay > 0:
        time.sleep(delay)
    return not attempt.done


def paced(run: RunBase, attempt: Attempt, seconds: float) -> float:
    """The pause before the attempt after ``attempt``, as the run's interceptors set it."""
    call = _call(run, attempt)
    for interceptor in run.interceptors:
        seconds = interceptor.backoff(call, seconds)
    return max(seconds, 0.0)


def after(run: RunBase, attempt: Attempt) -> None:
    """Tell the run's interceptors that ``attempt``'s method has returned, before it is recorded."""
    call = _call(run, attempt)
    for interceptor in run.interceptors:
        interceptor.after_attempt(call, attempt.error is not None)
