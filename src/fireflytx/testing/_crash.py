"""A process crash at the worst moment: after a step's effect, before its checkpoint.

Durable runs are only as good as what recovery does with the window between a step returning and
its checkpoint being written: the step's effect happened, the store does not know. ``crash_after``
kills the process exactly there, with SIGKILL (no ``finally``, no ``atexit``, no flush), so a
test can run a transaction in a child process, let it die, recover in another, and check that the
step ran again with the same idempotency key.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from .._core._intercept import AttemptCall
from .._lifecycle import EngineBase
from ..listeners import Phase
from ._faults import _phase

__all__ = ["crash_after"]


@dataclass(frozen=True, eq=False)
class _Crash:
    unit_id: str
    phase: Phase
    on_failure: bool

    def before_attempt(self, call: AttemptCall) -> float:
        return 0.0

    def backoff(self, call: AttemptCall, seconds: float) -> float:
        return seconds

    def after_attempt(self, call: AttemptCall, failed: bool) -> None:
        if call.phase is self.phase and call.unit_id == self.unit_id and failed == self.on_failure:
            os.kill(os.getpid(), signal.SIGKILL)


def crash_after(
    engine: EngineBase, unit_id: str, *, phase: Phase | str | None = None, on_failure: bool = False
) -> None:
    """Kill this process with SIGKILL once ``unit_id``'s method has returned, before its checkpoint.

    ``phase`` is ``step`` (the default for a saga engine), ``compensation``, ``try`` (the default for
    a TCC engine), ``confirm`` or ``cancel``. With ``on_failure=True`` it fires when the method
    raised instead. For child processes of crash tests only: nothing of the process survives, and
    the crash cannot be undone.
    """
    if not isinstance(engine, EngineBase):
        raise TypeError(f"expected a SagaEngine or TccEngine, got {type(engine).__name__}")
    engine._add_interceptor(_Crash(unit_id, _phase(engine, phase), on_failure))
