"""TCC transactions on the Firefly ``TccEngine``: translation and the run itself.

Same shape as ``_saga``: each participant is a Java ``PumpParticipant`` that queues the engine's
phase calls on the run's loop pump; values never cross (the engine sees a token, Python keeps the
real try results).

What the engine needs and does not say (engine-facts.md §3): a non-null ``TccRegistry`` (built
over an empty refreshed Spring context), non-null events, ``TccInputs.empty()`` rather than null,
and a try that never completes empty. Its phase timeout cannot be switched off, so "no limit" is a
century. Its cancel phase fails as soon as two participants need cancelling, so fireflytx runs
cancels itself (``_tcc._run``) and expects that failure afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

from jpype import JClass

from fireflytx._bridge._errors import map_java_errors, to_python
from fireflytx._bridge._facade import facade
from fireflytx._bridge._protocol import JavaObject
from fireflytx._bridge._pump import PumpedBridge, Starts
from fireflytx._tcc._definition import CANCEL, CONFIRM, TRY, ParticipantSpec, TccSpec
from fireflytx._tcc._run import TccRun
from fireflytx.listeners import Decision

_ids = itertools.count(1)
_PHASES = {"T": TRY, "K": CONFIRM, "X": CANCEL}


class _Java:
    """Java classes and shared objects, resolved once."""

    def __init__(self) -> None:
        self.facade = facade()
        runs = JClass("dev.fireflytx.bridge.TccRuns")
        self.tcc_runs = Starts(runs.start, runs.launcher)
        self.RunPump = JClass("dev.fireflytx.bridge.RunPump")
        self.PumpParticipant = JClass("dev.fireflytx.bridge.PumpParticipant")
        self.UnsupportedOperationException = JClass("java.lang.UnsupportedOperationException")
        # The registry holds nothing fireflytx uses (definitions are handed to the engine), so every
        # engine of the process shares one.
        self.registry = self.facade.tccRegistry()


_java: _Java | None = None
_java_lock = threading.Lock()


def java() -> _Java:
    """The resolved classes (the JVM must be running)."""
    global _java
    with _java_lock:
        if _java is None:
            with map_java_errors():
                _java = _Java()
        return _java


class TccBridge(PumpedBridge):
    """Runs TCC transactions on one Java ``TccEngine`` for one fireflytx ``TccEngine``."""

    def __init__(self) -> None:
        self._j = java()
        super().__init__(self._j.RunPump)
        with map_java_errors():
            self._engine = self._j.facade.tccEngine(self._j.registry)

    def _translate(self, spec: TccSpec) -> tuple[JavaObject, dict[str, str]]:
        """An engine ``TccDefinition`` of ``spec``, and its participant ids by the unit keys given them."""
        keys = [str(next(_ids)) for _ in spec.participants]
        with map_java_errors():
            definition = self._j.facade.tcc(spec.name)
            for key, participant in zip(keys, spec.participants, strict=True):
                self._participant(definition, participant, key)
        return definition, {key: p.participant_id for key, p in zip(keys, spec.participants, strict=True)}

    def _participant(self, definition: JavaObject, p: ParticipantSpec, key: str) -> None:
        confirm = p.confirm_phase
        # fireflytx times every attempt itself, from when it starts running (see _core._run): the
        # engine's timer would race a result arriving at the limit and drop it. A timeout of 0 is
        # "no limit" to the facade. fireflytx runs cancels itself and answers the engine's calls.
        self._j.facade.addParticipant(
            definition,
            p.participant_id,
            p.order,
            self._j.PumpParticipant(key, p.participant_id),
            p.try_phase.retry,
            p.try_phase.backoff_ms,
            0,
            confirm.retry,
            confirm.backoff_ms,
            0,
            0,
            0,
        )

    def start(self, run: TccRun) -> asyncio.Future[None]:
        """Start ``run`` on the engine; the future resolves when the engine's run has ended."""
        _, definition, run.units_by_key = self._registered(run.spec)
        return self._start_run(run, self._j.tcc_runs, self._engine, definition, run.spec.name)

    def _request(self, run: TccRun, kind: str, unit: str, key: str) -> None:
        run.start_phase(run.units_by_key[unit], _PHASES[kind], key)

    def _java_error(self, run: TccRun, error: Any) -> BaseException | None:
        if run.decision is Decision.CANCEL and isinstance(error, self._j.UnsupportedOperationException):
            # The engine's cancel phase throws this whenever two or more participants were tried;
            # fireflytx had already cancelled them all, so the run ended as recorded.
            return None
        return to_python(error)
