"""Running the child of a ``@sub_saga`` step, and undoing a child that had finished.

A child is an ordinary run of the same engine: its own ``SagaRun`` on the Java engine, its own
listener events and, on a durable engine, its own record, all under the correlation id
``<parent id>/<step id>``. Because that id is fixed, running the step again (a recovered parent)
finds the child's record: a finished child gives back its stored result, an orphaned one is
resumed from its checkpoints.

Slots: a child takes no ``max_in_flight`` slot (its parent holds one; a child waiting for a slot
its own parent holds would wait for ever) and starts while the engine is stopping (its parent is
in flight, so the engine's threads are still there). A context variable marks the task that
launches a child, so only that launch skips admission.

Undoing a finished child: the Java engine cannot compensate a saga that has ended, so fireflytx
runs the child's compensations itself on the kernel (``attempt_with_retries``: each with its own
retries and timeout), newest completion first, one at a time, with the results its steps
recorded. Their attempts reach the engine's observers under the child's correlation id. They
are not checkpointed on the child's record, which stays as the child ended: the parent's
checkpoint of that compensation records the undo as a whole (its value is the child's result after
the undo, which a stored parent shows), so a crash in the middle of it
runs every compensation of the child again on recovery (compensations must be idempotent, as
for any step re-run after a crash).
"""

from __future__ import annotations

import inspect
import time
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from .._core._records import error_of, span
from .._core._run import RunStart
from .._lifecycle import nested_launch
from ..errors import CompensationError, DefinitionError, SubSagaFailedError, UnknownSagaError
from ..listeners import Phase
from ._definition import SagaSpec, StepSpec, definition_of
from ._results import SagaResult, SagaStatus, StepOutcome, StepStatus
from ._sub_saga import ChildSpec, child_correlation_id

if TYPE_CHECKING:
    from ._engine import SagaEngine
    from ._run import SagaRun

__all__ = ["Children"]

class Children:
    """One engine's way of running and undoing the children of ``@sub_saga`` steps."""

    def __init__(self, engine: SagaEngine) -> None:
        self._engine = engine

    # -- finding the child -----------------------------------------------------------------------

    def resolve(self, child: ChildSpec, saga_name: str, step_id: str) -> SagaSpec:
        """The spec the engine runs for ``child``, named by step ``step_id`` of ``saga_name``.

        Raises:
            UnknownSagaError: ``child`` is a name no saga registered with the engine has.
        """
        engine = self._engine
        if isinstance(child.saga, str):
            spec = engine._specs.get(child.saga)
            if not isinstance(spec, SagaSpec):
                raise UnknownSagaError(saga_name, step_id, child.saga)
            return spec
        return engine._effective(definition_of(child.saga))

    def check(self, spec: SagaSpec) -> None:
        """Resolve every child below ``spec`` before anything runs; refuse a saga that runs itself.

        Raises:
            UnknownSagaError: a child named by a name is not registered.
            DefinitionError: sub-sagas form a cycle (a run would never end).
        """
        self._check(spec, (spec.name,))

    def _check(self, spec: SagaSpec, path: tuple[str, ...]) -> None:
        for step in spec.steps:
            if step.child is None:
                continue
            child = self.resolve(step.child, spec.name, step.step_id)
            if child.name in path:
                chain = " -> ".join((*path, child.name))
                raise DefinitionError(
                    f"saga {path[0]!r}",
                    [f"sub-sagas form a cycle ({chain}): a run would start children without end"],
                )
            self._check(child, (*path, child.name))

    # -- running it ------------------------------------------------------------------------------

    async def run(self, run: SagaRun, step: StepSpec) -> SagaResult:
        """Build the child's input with the step's method, run the child, and return its result.

        Raises:
            SubSagaFailedError: the child did not succeed (it has compensated itself).
        """
        assert step.child is not None
        value = run.converted_inputs.get(step.step_id, run.tx_input)
        method = getattr(run.instance, step.method_name)
        child_input = step.params.call(method, value, run.context, run.results)
        if inspect.isawaitable(child_input):
            child_input = await child_input
        spec = self.resolve(step.child, run.name, step.step_id)
        correlation_id = child_correlation_id(run.correlation_id, step.step_id)
        with nested_launch(self._engine):
            result = await self._engine._launch(spec, child_input, correlation_id, run.headers, None)
        if not result.is_success:
            detail = f"step {result.failed_step!r} failed: {result.error}" if result.failed_steps else ""
            raise SubSagaFailedError(spec.name, result.correlation_id, result.status.value, detail, result)
        return result

    # -- undoing a finished child ----------------------------------------------------------------

    async def undo(self, run: SagaRun, step: StepSpec) -> SagaResult | None:
        """Compensate the finished child of ``step`` as a whole; the child's result after it.

        The parent's ``results[step]`` becomes that result (``COMPENSATED`` or
        ``COMPENSATION_FAILED``), so the parent's outcome of the step shows it; returned, it is
        the value of the parent's compensation checkpoint, so a stored run shows it too.

        Raises:
            CompensationError: a compensation of the child still failed after its retries.
        """
        assert step.child is not None
        done = run.results.get(step.step_id)
        if not isinstance(done, SagaResult):
            return None  # the child left nothing to undo
        spec = self.resolve(step.child, run.name, step.step_id)
        undo = self._undo_run(run, spec, done)
        outcomes = done.steps
        undo.results.update(
            {sid: o.result for sid, o in outcomes.items() if o.status is StepStatus.SUCCEEDED}
        )
        due = [
            o
            for o in reversed(list(outcomes.values()))
            if o.status is StepStatus.SUCCEEDED and spec.step(o.step_id).compensation is not None
        ]
        due.sort(key=lambda o: o.completed_at or done.started_at, reverse=True)  # newest first
        for outcome in due:
            child_step = spec.step(outcome.step_id)
            comp = child_step.compensation
            assert comp is not None
            await undo.attempt_with_retries(
                Phase.COMPENSATION, child_step.step_id, comp, partial(undo._call_compensation, child_step),
                comp.is_async, undo.records[child_step.step_id].compensations,
            )
        undone, failures = _undone(done, undo, [o.step_id for o in due])
        run.results[step.step_id] = undone
        if failures:
            raise CompensationError(spec.name, done.correlation_id, failures)
        return undone

    def _undo_run(self, run: SagaRun, spec: SagaSpec, done: SagaResult) -> SagaRun:
        """A run object for the child's compensations: the kernel's retries, timeouts and events."""
        from ._run import SagaRun

        start = RunStart(
            done.correlation_id, dict(run.headers), None, {}, run.loop, run.workers,
            _ObserversOf(run.listeners),  # type: ignore[arg-type]
            run.interceptors,
        )
        undo = SagaRun(spec, spec.cls(), start)
        undo.children = self
        return undo


def _undone(done: SagaResult, undo: SagaRun, order: list[str]) -> tuple[SagaResult, dict[str, str]]:
    """``done`` after the undo: each compensated step's outcome and the saga's status."""
    now = time.perf_counter()
    steps: dict[str, StepOutcome] = dict(done.steps)
    failures: dict[str, str] = {}
    compensated: list[str] = []
    for step_id in order:
        attempts = undo.records[step_id].compensations
        last = attempts[-1]
        started, completed, _ = span(attempts, undo.clock, now)
        ok = last.error is None
        steps[step_id] = replace(
            steps[step_id],
            status=StepStatus.COMPENSATED if ok else StepStatus.COMPENSATION_FAILED,
            result=undo.results.get(step_id),
            compensated=ok,
            compensation_attempts=len(attempts),
            compensation_error=error_of(last),
            compensation_started_at=started,
            compensation_completed_at=completed,
        )
        if ok:
            compensated.append(step_id)
        else:
            failures[step_id] = str(last.error)
    ended = undo.clock.wall(now)
    values = {
        "saga_name": done.saga_name,
        "correlation_id": done.correlation_id,
        "status": SagaStatus.COMPENSATION_FAILED if failures else SagaStatus.COMPENSATED,
        "started_at": done.started_at,
        "completed_at": ended,
        "duration_ms": (ended - done.started_at).total_seconds() * 1000,
        "failed_steps": (),
        "compensated_steps": tuple(compensated),
        "context": done.context,
    }
    return SagaResult.deferred(values, lambda: steps), failures


class _ObserversOf:
    """An engine's listeners without its journals, for the undo of a finished child.

    The child's record has ended; its undo is recorded by the parent's checkpoint of the step's
    compensation (see the module docstring).
    """

    journals: tuple[Any, ...] = ()

    def __init__(self, listeners: Any) -> None:
        self._listeners: Any = listeners._listeners if isinstance(listeners, _ObserversOf) else listeners
        self.observers = self._listeners.observers
        self.active = bool(self.observers)

    def emit(self, event: Any) -> None:
        self._listeners.emit(event)
