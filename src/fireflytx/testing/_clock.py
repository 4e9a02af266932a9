"""Retry pauses that take no time in tests, where fireflytx owns the pause.

fireflytx times the pauses between retries of compensations and TCC cancels itself, so a test
can skip them and still see, in order, every pause the run asked for. Retries of saga steps and
TCC tries and confirms are paced by the Java engine's own timer, which fireflytx cannot speed
up: those keep their real ``backoff_ms`` (give steps a small one in tests).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .._core._intercept import AttemptCall
from .._lifecycle import EngineBase
from ..listeners import Phase

__all__ = ["FastBackoff", "Pause", "fast_backoff"]


@dataclass(frozen=True, slots=True)
class Pause:
    """A pause a run asked for before retrying ``unit_id``'s ``phase`` after attempt ``after_attempt``."""

    phase: Phase
    unit_id: str
    after_attempt: int
    ms: float


@dataclass(eq=False)
class FastBackoff:
    """Skips fireflytx's own retry pauses and records each one asked for, in order."""

    pauses: list[Pause] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total_ms(self) -> float:
        """The time the skipped pauses would have taken."""
        return sum(p.ms for p in self.pauses)

    def before_attempt(self, call: AttemptCall) -> float:
        """No delay: only pauses are changed."""
        return 0.0

    def backoff(self, call: AttemptCall, seconds: float) -> float:
        """Record the pause and take none."""
        with self._lock:
            self.pauses.append(Pause(call.phase, call.unit_id, call.attempt, seconds * 1000))
        return 0.0

    def after_attempt(self, call: AttemptCall, failed: bool) -> None:
        """Nothing: only pauses are changed."""


@contextmanager
def fast_backoff(engine: EngineBase) -> Iterator[FastBackoff]:
    """Skip the pauses between retries of compensations and TCC cancels of runs started inside.

    Yields a ``FastBackoff`` whose ``pauses`` list every skipped pause, so a test can check the
    policy (``[p.ms for p in clock.pauses] == [200.0, 200.0]``) without waiting for it. Step, try
    and confirm retries are paced by the Java engine and keep their real ``backoff_ms``.
    """
    if not isinstance(engine, EngineBase):
        raise TypeError(f"expected a SagaEngine or TccEngine, got {type(engine).__name__}")
    clock = FastBackoff()
    engine._add_interceptor(clock)
    try:
        yield clock
    finally:
        engine._remove_interceptor(clock)
