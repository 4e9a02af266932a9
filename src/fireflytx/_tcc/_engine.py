"""``TccEngine``: runs ``@tcc`` classes on the Firefly ``TccEngine`` inside this process.

Threads: ``execute`` must be awaited on an event loop; ``async def`` phase methods run as tasks on
that loop, plain ``def`` ones on the engine's worker threads, and the engine's own timers on
Python-owned timer threads. ``execute_sync`` runs the same thing from plain scripts on a private
loop. A ``SagaEngine`` and a ``TccEngine`` can run side by side: they share the one JVM.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from functools import partial
from typing import Any

from .._definition_engine import DefinitionEngine, Headers, Replay, blocking_twin
from .._spec import PerSpec
from ._definition import TccSpec, tcc_definition_of
from ._inputs import participant_inputs
from ._results import TccResult
from ._run import TccRun

__all__ = ["TccEngine"]


def _converted_tries(spec: TccSpec) -> tuple[tuple[str, Any], ...]:
    """The participants whose try converts the input (a model or dataclass), with that type."""
    return tuple(
        (p.participant_id, p.try_phase.params.value_annotation)
        for p in spec.participants
        if p.try_phase.params.converted
    )


_converted_tries_of: PerSpec[tuple[tuple[str, Any], ...]] = PerSpec(_converted_tries)


class TccEngine(DefinitionEngine[TccSpec]):
    """Executes TCC transactions; start it with ``async with TccEngine() as engine`` (or ``initialize()``).

    The Java ``TccEngine`` orchestrates: it runs the tries one after another in ``order`` with
    their retries and backoff, decides between confirm and cancel, and runs every confirm with its
    retries, backoff and timeout. fireflytx adds what the engine lacks or gets wrong: it times tries
    itself, runs the cancel phase itself (the engine skips the participant whose try failed and
    fails outright once two participants need cancelling), makes ``optional`` participants really
    optional, never reports a failed confirm as confirmed, and applies ``@tcc(timeout_ms=...)``.

    One engine can run many transactions at once. The JVM, signals, threads and the constructor's
    arguments are as for ``SagaEngine`` (which also takes a ``compensation_policy``).
    """

    _thread_prefix = "fireflytx-tcc"
    _kind = "tcc"
    _definition_of = staticmethod(tcc_definition_of)

    def _make_bridge(self) -> Any:
        from .._bridge._tcc import TccBridge

        return TccBridge()

    # -- running -------------------------------------------------------------------------------

    async def execute(
        self,
        tcc: type,
        input: Any = None,
        *,
        correlation_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> TccResult:
        """Run a TCC transaction to its end and return what happened.

        A failing try, confirm or cancel does not raise: the result says what was confirmed or
        cancelled and what failed (``result.raise_for_status()`` turns that into an exception).

        Args:
            tcc: A ``@tcc`` class. Each run creates one instance of each participant class, and
                one of ``tcc`` itself when it has method-style participants.
            input: The transaction input. Each try method's first parameter receives it whole,
                or the part its participant's ``input=`` selector picks. A ``TccInputs`` instead
                gives each participant its own entry.
            correlation_id: Id of this run (default: a new UUID).
            headers: String headers readable through ``TccContext.get_header``.

        Raises:
            TypeError: ``tcc`` is not a class (an instance would suggest state the run never uses).
            DefinitionError: ``tcc`` is not a valid TCC class.
            InputValidationError: a participant's input does not fit its try method's annotated
                type, or its ``input=`` selector raised (nothing has run).
            UnknownParticipantError: ``input`` is a ``TccInputs`` naming a participant the TCC
                does not have.
            EngineNotStartedError: the engine is not running, or stopped while this waited for a slot.
            EngineFullError: ``max_in_flight`` runs are in flight and ``when_full`` is ``"fail"``.
            JavaExecutionError: the engine failed outside any participant method.
        """
        if not isinstance(tcc, type):
            raise TypeError(f"execute() takes the @tcc class itself, not {type(tcc).__name__!r}")
        spec = self._effective.of(tcc, self._definition_of)
        return await self._launch(spec, input, correlation_id, headers, None)

    def _launch(
        self, spec: TccSpec, input: Any, correlation_id: str | None, headers: Headers, replay: Replay
    ) -> Coroutine[Any, Any, TccResult]:
        # Prepares the run at once and returns the coroutine that runs it (see SagaEngine._launch).
        # Worked out from the input on every start, recovered ones too: only the input is stored.
        own = participant_inputs(spec, input)
        bridge, start = self._run_start(
            spec.name, _converted_tries_of(spec), input, correlation_id, headers, self._kind, replay, own=own
        )
        return self._execute(start, partial(TccRun, spec, start), bridge.start, bridge)

    execute_sync = blocking_twin(execute, "phase methods")
