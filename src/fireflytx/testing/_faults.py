"""Fault injection on a running engine: fail, delay or time out chosen attempts, for real.

Each context manager registers an interceptor with the engine's kernel (``_core._intercept``):
the attempt starts, its timeout starts counting and listeners hear of it exactly as in
production, then the fault is applied before the user's method would be called. Nothing is
patched, so retries, timeouts, compensations and cancels react as they would to a real fault.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .._core._intercept import AttemptCall
from .._lifecycle import EngineBase
from .._tcc._engine import TccEngine
from ..listeners import Phase

__all__ = ["Fault", "InjectedFault", "delay_step", "fail_step", "timeout_step"]

_TIMEOUT_MARGIN_S = 0.05
"""How far past its timeout ``timeout_step`` holds a ``def`` attempt (an ``async def`` one is cancelled)."""


class InjectedFault(Exception):
    """The error ``fail_step`` raises in place of the user's method when given none."""


@dataclass(eq=False)
class Fault:
    """One injected fault, as the context manager yields it; its counts are read after the runs."""

    what: str
    unit_id: str
    phase: Phase
    times: int | None
    correlation_id: str | None
    injected: int = 0
    """How many attempts this fault hit."""
    seen: set[tuple[str, str]] = field(default_factory=set)
    """Every (phase, unit id) the engine attempted while the fault was active."""
    problem: str | None = None
    """Why the fault could not be applied as asked (reported when the block ends)."""
    _hits: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _take(self, call: AttemptCall) -> bool:
        """Whether ``call`` is one this fault hits (counted per run)."""
        with self._lock:
            self.seen.add((call.phase.value, call.unit_id))
            if call.phase is not self.phase or call.unit_id != self.unit_id:
                return False
            if self.correlation_id is not None and call.correlation_id != self.correlation_id:
                return False
            hits = self._hits.get(call.correlation_id, 0)
            if self.times is not None and hits >= self.times:
                return False
            self._hits[call.correlation_id] = hits + 1
            self.injected += 1
            return True

    def backoff(self, call: AttemptCall, seconds: float) -> float:
        """Faults leave pauses alone (``fast_backoff`` shortens them)."""
        return seconds

    def after_attempt(self, call: AttemptCall, failed: bool) -> None:
        """Nothing: faults act before the user's method is called."""

    def _unused(self) -> str | None:
        if self.problem is not None:
            return self.problem
        if self.injected:
            return None
        seen = ", ".join(f"{phase} {unit!r}" for phase, unit in sorted(self.seen)) or "nothing"
        return (
            f"{self.what}() never hit {self.phase.value} {self.unit_id!r}: no such attempt ran while it "
            f"was active (attempted: {seen}). Check the id and phase, and run the transaction inside "
            "the `with` block"
        )


class _Failing(Fault):
    error: BaseException | type[BaseException] | None = None

    def before_attempt(self, call: AttemptCall) -> float:
        if not self._take(call):
            return 0.0
        error = self.error
        if error is None:
            raise InjectedFault(
                f"injected failure of {call.phase.value} {call.unit_id!r}, attempt {call.attempt}"
            )
        if isinstance(error, type):
            raise error(f"injected failure of {call.phase.value} {call.unit_id!r}, attempt {call.attempt}")
        raise error.with_traceback(None)  # one instance raised per attempt: keep each traceback its own


class _Delaying(Fault):
    seconds: float = 0.0

    def before_attempt(self, call: AttemptCall) -> float:
        return self.seconds if self._take(call) else 0.0


class _TimingOut(Fault):
    def before_attempt(self, call: AttemptCall) -> float:
        if not self._take(call):
            return 0.0
        if call.timeout_ms <= 0:
            self.problem = (
                f"timeout_step() cannot time out {call.phase.value} {call.unit_id!r}: it has no timeout. "
                "Give it one (timeout_ms=...) or use fail_step(..., error=StepTimeoutError(...))"
            )
            raise InjectedFault(self.problem)
        return call.timeout_ms / 1000 + _TIMEOUT_MARGIN_S


def _phase(engine: EngineBase, phase: Phase | str | None) -> Phase:
    if phase is None:
        return Phase.TRY if isinstance(engine, TccEngine) else Phase.STEP
    try:
        return Phase(phase)
    except ValueError:
        names = ", ".join(p.value for p in Phase)
        raise ValueError(f"unknown phase {phase!r}; use one of {names}") from None


@contextmanager
def _active(engine: EngineBase, fault: _Failing | _Delaying | _TimingOut) -> Iterator[Fault]:
    if not isinstance(engine, EngineBase):
        raise TypeError(f"expected a SagaEngine or TccEngine, got {type(engine).__name__}")
    if fault.times is not None and fault.times < 1:
        raise ValueError(f"times must be at least 1 (or None for every attempt), got {fault.times}")
    engine._add_interceptor(fault)
    try:
        yield fault
    finally:
        engine._remove_interceptor(fault)
    problem = fault._unused()
    if problem is not None:
        raise AssertionError(problem)


@contextmanager
def fail_step(
    engine: EngineBase,
    unit_id: str,
    *,
    times: int | None = None,
    error: BaseException | type[BaseException] | None = None,
    phase: Phase | str | None = None,
    correlation_id: str | None = None,
) -> Iterator[Fault]:
    """Fail attempts of a step (or TCC phase) with ``error`` instead of calling the user's method.

    Args:
        engine: A started ``SagaEngine`` or ``TccEngine``.
        unit_id: The step id, or for a TCC the participant id.
        times: Fail only the first ``times`` attempts of each run (None: every attempt), so
            ``times=2`` on a step with ``retry=2`` fails twice and succeeds on the third try.
        error: The exception (or exception class) to raise; default an ``InjectedFault``.
        phase: ``step`` (the default for sagas), ``compensation``, or ``try`` (the default for
            TCCs), ``confirm``, ``cancel``.
        correlation_id: Only this run (default: every run started inside the block).

    Raises:
        AssertionError: on leaving the block, if no attempt was hit (a mistyped id, a wrong phase).
    """
    fault = _Failing("fail_step", unit_id, _phase(engine, phase), times, correlation_id)
    fault.error = error
    with _active(engine, fault) as active:
        yield active


@contextmanager
def delay_step(
    engine: EngineBase,
    unit_id: str,
    *,
    ms: float,
    times: int | None = None,
    phase: Phase | str | None = None,
    correlation_id: str | None = None,
) -> Iterator[Fault]:
    """Hold attempts of a step (or TCC phase) ``ms`` milliseconds before calling the user's method.

    The delay counts against the attempt's own timeout (it starts when the attempt starts), so a
    delay longer than ``timeout_ms`` times the attempt out as a slow service would. Arguments as
    in ``fail_step``.
    """
    if ms < 0:
        raise ValueError(f"ms must be zero or more, got {ms}")
    fault = _Delaying("delay_step", unit_id, _phase(engine, phase), times, correlation_id)
    fault.seconds = ms / 1000
    with _active(engine, fault) as active:
        yield active


@contextmanager
def timeout_step(
    engine: EngineBase,
    unit_id: str,
    *,
    times: int | None = None,
    phase: Phase | str | None = None,
    correlation_id: str | None = None,
) -> Iterator[Fault]:
    """Make attempts of a step (or TCC phase) outlast their own ``timeout_ms``.

    fireflytx's own timer then ends them with ``StepTimeoutError``, as it would a hung service:
    an ``async def`` attempt is cancelled, a ``def`` one is abandoned (the user's method is not
    called). The step needs a ``timeout_ms``; without one the attempt fails with an
    ``InjectedFault`` that says so, and leaving the block raises ``AssertionError``. Arguments as
    in ``fail_step``.
    """
    fault = _TimingOut("timeout_step", unit_id, _phase(engine, phase), times, correlation_id)
    with _active(engine, fault) as active:
        yield active
