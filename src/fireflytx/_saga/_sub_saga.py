"""``@sub_saga``: a step that runs another saga as a child, recorded like any other step.

The decorated method maps the parent's arguments (the saga input, ``SagaContext``,
``FromStep`` results) to the child's input; the engine then runs the child saga itself, on the
same engine, under the correlation id ``<parent id>/<step id>``. The child's ``SagaResult`` is the
step's result. A child that fails has compensated itself and fails the step; a child that
succeeded is undone as a whole (its own compensations, newest first) when a later step of the
parent fails.

Why not the engine's ``SagaComposition`` / ``SagaCompositor``: a composition is a DAG of whole
sagas, not a step among ordinary steps; it finds them in a ``SagaRegistry`` and calls the Java
engine for each directly, so no fireflytx run would exist to answer their Python steps, record
checkpoints or tell listeners; and its compensation of completed sagas is a log line
(``engine-facts.md``, "Further bugs and TODOs"). Running the child as an ordinary fireflytx run
keeps everything fireflytx promises of a run (its own record, checkpoints, listeners, retries and
timeouts per step, recovery) for the child too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .._limits import depends_on_problems, text_problems
from .._spec import check_callable, mark
from ..errors import DefinitionError
from ._definition import CompensationSpec, StepMarker, StepSpec, definition_of

__all__ = ["ChildSpec", "SubSagaMarker", "child_correlation_id", "sub_saga", "with_child"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """The saga a ``@sub_saga`` step runs: a ``@saga`` class, or the name of a registered one."""

    saga: type | str

    @property
    def name(self) -> str:
        """The child saga's name as far as the definition knows it (a class's own saga name)."""
        if isinstance(self.saga, str):
            return self.saga
        return definition_of(self.saga).name


def child_correlation_id(parent: str, step_id: str) -> str:
    """The correlation id of the child a step runs: fixed, so that a re-run finds the same child."""
    return f"{parent}/{step_id}"


def sub_saga(step_id: str, saga: type | str, *, depends_on: Sequence[str] = ()) -> Callable[[F], F]:
    """Declare a step that runs another saga as its child; the method returns the child's input.

    The method's parameters follow ``@saga_step``'s rules (saga input, ``SagaContext``,
    ``Annotated[T, FromStep("id")]``); ``async def`` and ``def`` both work and run on the event loop
    (keep them cheap: they only build the input). The child then runs on the same engine with the
    correlation id ``<parent correlation id>/<step_id>`` and the parent's headers. It does not take
    a ``max_in_flight`` slot of its own: its parent holds one.

    The step's result is the child's ``SagaResult`` (``result.steps[step_id].result``,
    ``FromStep(step_id)``). If the child fails, it has compensated itself and the step fails with
    ``SubSagaFailedError`` (its ``result`` is the child's). If a later step of the parent fails,
    the child is compensated as a whole: each of its completed steps' compensations, newest first,
    each with its own retries; the step then reads ``COMPENSATED`` and its result is the child's
    result after that undo.

    The step itself is not retried and has no timeout: the child's steps have their own.

    Args:
        step_id: Unique id of the step within its saga.
        saga: The child: a ``@saga`` class, or the name of a saga registered with the engine
            (``engine.register(PaymentSaga)``), which lets two modules refer to each other.
        depends_on: Steps that must complete first.
    """
    problems = text_problems(step_id, "step id", "pay")
    dependency_problems, depends_on = depends_on_problems(depends_on)
    problems += dependency_problems
    if isinstance(saga, str):
        problems += text_problems(saga, "the child saga's name", "payment")
    elif not isinstance(saga, type):
        problems.append(f"sub_saga needs a @saga class or a registered saga's name, got {saga!r}")
    else:
        try:
            definition_of(saga)
        except DefinitionError as exc:
            problems.append(f"the child {saga.__qualname__} {'; '.join(exc.problems)}")

    def decorate(func: F) -> F:
        marker = SubSagaMarker(
            step_id=step_id,
            depends_on=tuple(depends_on),
            retry=0,
            backoff_ms=100,
            jitter=False,
            jitter_factor=0.5,
            timeout_ms=0,
            idempotency_key=None,
            compensate=None,
            problems=tuple(problems + check_callable(func, "sub_saga")),
            child=ChildSpec(saga),
        )
        return mark(func, marker)

    return decorate


@dataclass(frozen=True, slots=True)
class SubSagaMarker(StepMarker):
    """What ``@sub_saga`` recorded on a method: a step marker plus the child it runs."""

    child: ChildSpec | None = None


def with_child(step: StepSpec, marker: Any, has_compensation: bool) -> tuple[StepSpec, list[str]]:
    """``step`` made a child step when ``marker`` came from ``@sub_saga``; and the problems found.

    A child step's compensation is the child's own undo, so it gets one made here (for the
    engine, which only undoes steps that have a compensation); one declared too is a problem.
    """
    child = getattr(marker, "child", None)
    if not isinstance(child, ChildSpec):
        return step, []
    problems = []
    if has_compensation:
        problems.append(
            f"step {step.step_id!r} runs a sub-saga, which is undone by its own compensations; "
            "remove its @compensation_step"
        )
    undo = CompensationSpec(
        step_id=step.step_id, method_name=step.method_name, is_async=True, params=step.params, retry=0,
        timeout_ms=0,
    )
    return dataclasses.replace(step, is_async=True, compensation=undo, child=child), problems
