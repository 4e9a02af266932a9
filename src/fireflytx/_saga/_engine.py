"""``SagaEngine``: runs ``@saga`` classes on the Firefly engine inside this process.

Threads: ``execute`` must be awaited on an event loop; ``async def`` steps run as tasks on that
loop, plain ``def`` steps on the engine's worker threads, and the engine's own timers on
Python-owned timer threads. Nothing a step does blocks the loop unless the step itself blocks in
``async def`` code. ``execute_sync`` runs the same thing from plain scripts on a private loop.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable, Mapping
from functools import partial
from typing import Any, Literal

from .._definition_engine import DefinitionEngine, Headers, Replay, blocking_twin
from .._spec import PerSpec
from ..config import CompensationPolicy, FireflyTxSettings
from ._definition import SagaSpec, definition_of
from ._results import SagaResult
from ._run import SagaRun
from ._sub_saga_run import Children

__all__ = ["SagaEngine"]

_Plan = tuple[tuple[tuple[str, Any], ...], bool]


def _make_plan(spec: SagaSpec) -> _Plan:
    """What every run of ``spec`` needs to know of it (worked out once per spec, see ``_plan_of``).

    The steps whose input parameter converts the input (a model or dataclass) with that type
    (most steps convert nothing), and whether it has ``@sub_saga`` steps (whose children are
    checked before each run).
    """
    # A fan-out step's first parameter takes its item, not the saga input: its clones convert it.
    steps = tuple(
        (s.step_id, s.params.value_annotation) for s in spec.steps if s.fan_out is None and s.params.converted
    )
    return steps, any(s.child is not None for s in spec.steps)


_plan_of: PerSpec[_Plan] = PerSpec(_make_plan)


class SagaEngine(DefinitionEngine[SagaSpec]):
    """Executes sagas; start it with ``async with SagaEngine() as engine`` (or ``initialize()``).

    One engine can run many sagas at once. The JVM it starts is shared by every engine of the
    process and stays up after ``shutdown()``; engines themselves can start and stop repeatedly.

    Signals stay Python's: SIGINT raises ``KeyboardInterrupt`` in the main thread and SIGTERM ends
    the process (or runs the application's handler) exactly as without an engine. Plain ``def``
    callables run on daemon threads: exit never waits for them, and one the engine timed out is
    abandoned and its thread replaced (``worker_stats()``, ``settings.max_abandoned_threads``).

    Args:
        settings: Configuration; default ``FireflyTxSettings()`` (environment variables apply).
        listeners: Observers and journals of every run (``fireflytx.listeners``); more can be
            added with ``add_listener``.
        max_in_flight: Overrides ``settings.max_in_flight``: runs in flight at most (None keeps
            the setting's, which is unbounded by default).
        when_full: Overrides ``settings.when_full``: beyond ``max_in_flight``, ``"wait"`` for a
            slot (first come, first served) or ``"fail"`` at once with ``EngineFullError``.
        compensation_policy: Overrides ``settings.compensation_policy`` for this engine.
    """

    def __init__(
        self,
        settings: FireflyTxSettings | None = None,
        *,
        compensation_policy: CompensationPolicy | str | None = None,
        listeners: Iterable[Any] = (),
        max_in_flight: int | None = None,
        when_full: Literal["wait", "fail"] | None = None,
    ) -> None:
        super().__init__(settings, listeners=listeners, max_in_flight=max_in_flight, when_full=when_full)
        self.compensation_policy = CompensationPolicy(
            compensation_policy or self.settings.compensation_policy
        )
        self._children = Children(self)

    def _make_bridge(self) -> Any:
        from .._bridge._saga import SagaBridge

        return SagaBridge(self.compensation_policy)

    # -- running -------------------------------------------------------------------------------

    async def execute(
        self,
        saga: Any,
        input: Any = None,
        *,
        correlation_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        compensation_policy: CompensationPolicy | str | None = None,
    ) -> SagaResult:
        """Run a saga to its end and return what happened.

        A failing step does not raise: the result says which step failed and what was compensated
        (``result.raise_for_status()`` turns that into an exception).

        Args:
            saga: A ``@saga`` class (instantiated without arguments for each run) or an instance.
            input: The saga input, given to each step's first parameter.
            correlation_id: Id of this run (default: a new UUID).
            headers: String headers readable through ``SagaContext.get_header``.
            compensation_policy: Overrides the saga's and the engine's policy for this run.

        Raises:
            DefinitionError: ``saga`` is not a valid saga class.
            InputValidationError: ``input`` does not fit a step's annotated input type.
            EngineNotStartedError: the engine is not running, or stopped while this waited for a slot.
            EngineFullError: ``max_in_flight`` runs are in flight and ``when_full`` is ``"fail"``.
            JavaExecutionError: the engine failed outside any step.
            UnknownSagaError: a ``@sub_saga`` step names a saga not registered with this engine.
        """
        spec = self._effective.of(saga, self._definition_of)
        plan = _plan_of(spec)
        if plan[1]:
            self._children.check(spec)
        policy = CompensationPolicy(compensation_policy) if compensation_policy is not None else None
        instance = saga() if isinstance(saga, type) else saga
        return await self._launch(spec, input, correlation_id, headers, None, instance, policy, plan)

    def _launch(
        self, spec: SagaSpec, input: Any, correlation_id: str | None, headers: Headers, replay: Replay,
        instance: Any = None, policy: CompensationPolicy | None = None, plan: _Plan | None = None,
    ) -> Coroutine[Any, Any, SagaResult]:
        # Not a coroutine itself: it checks and prepares the run at once, and returns the coroutine
        # that runs it, so every await of a run passes through one frame fewer.
        # A recovered run (no instance) gets a new one, as a run of the class does.
        if instance is None:
            instance = spec.cls()
        if plan is None:
            plan = _plan_of(spec)
        bridge, start = self._run_start(
            spec.name, plan[0], input, correlation_id, headers, self._kind, replay
        )
        # Partials, not lambdas: called in C, they add no Python frame of their own.
        return self._execute(
            start, partial(self._new_run, spec, instance, start), partial(bridge.start, policy=policy), bridge
        )

    def _new_run(self, spec: SagaSpec, instance: Any, start: Any) -> SagaRun:
        run = SagaRun(spec, instance, start)
        run.children = self._children
        return run

    _kind = "saga"
    _definition_of = staticmethod(definition_of)

    execute_sync = blocking_twin(execute, "steps")
