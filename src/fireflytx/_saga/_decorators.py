"""``@saga``, ``@saga_step`` and ``@compensation_step``: they record metadata and nothing else.

No decorator touches the JVM; a module full of sagas imports with no Java installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from .._limits import depends_on_problems, limit_problems, text_problems
from .._markers import FromStep
from .._spec import attach_spec, check_callable, mark
from ..config import CompensationPolicy
from ._definition import CompensationMarker, StepMarker, assemble_saga
from ._fan_out import fan_out_of

__all__ = ["compensation_step", "saga", "saga_step"]

C = TypeVar("C", bound=type)
F = TypeVar("F", bound=Callable[..., Any])


def saga_step(
    step_id: str,
    *,
    depends_on: Sequence[str] = (),
    retry: int | None = None,
    backoff_ms: int | None = None,
    jitter: bool | None = None,
    jitter_factor: float | None = None,
    timeout_ms: int | None = None,
    idempotency_key: str | None = None,
    compensate: str | None = None,
    fan_out: Callable[..., Sequence[Any]] | FromStep | None = None,
    max_parallel: int | None = None,
) -> Callable[[F], F]:
    """Declare a method as a saga step.

    The step's first parameter (after ``self``) receives the saga input, converted when annotated
    with a pydantic model or dataclass; a parameter annotated ``SagaContext`` receives the run's
    context; ``Annotated[T, FromStep("id")]`` receives another step's result.

    ``async def`` steps run on the caller's event loop; plain ``def`` steps run on a worker thread,
    so neither blocks the loop. CPU-bound Python steps still take turns on the GIL.

    ``retry``, ``backoff_ms``, ``jitter``, ``jitter_factor`` and ``timeout_ms`` left out take the
    engine's ``steps`` settings (by default 0, 100, False, 0.5 and 0); one given always wins, even
    when it equals the default.

    Args:
        step_id: Unique id of the step within its saga.
        depends_on: Steps that must complete first. Steps with no path between them run concurrently.
        retry: Retries after the first attempt (``retry=3`` allows 4 attempts). Any error is retried,
            timeouts included.
        backoff_ms: Constant pause between attempts.
        jitter: Randomise each pause uniformly within ``backoff_ms * (1 ± jitter_factor)``.
        jitter_factor: Spread of the jitter, 0 to 1.
        timeout_ms: Limit of one attempt (0: none). A timed-out ``async def`` attempt is cancelled; a
            ``def`` attempt cannot be interrupted and finishes unseen, so steps must be safe to finish
            late.
        idempotency_key: Passed to the engine, which records it in the run's context before the step
            runs and skips a step whose key that context already holds. Every run starts with a fresh
            context, so across runs it never causes a skip; within one saga each step needs its own
            key, and ``@saga`` rejects a key used by two steps (the engine would skip the second and
            the saga would still report ``SUCCEEDED``).
        compensate: Name of a method of the class that undoes this step (or use ``@compensation_step``).
        fan_out: Run the step once per item of a list known only at run time: a function of the saga
            input (``lambda order: order.items``; with a second parameter it also gets the
            ``SagaContext``, whose ``get_result`` reads earlier steps), or ``FromStep("id")`` for
            the list another step returned (the step must depend on it). Each clone receives its
            item as the step's first parameter, has its own retries and timeout (this step's
            settings) and its own outcome ``<id>#0``, ``<id>#1``...; the step's result is the list
            of the clones' results in item order (``[]`` for no items). A clone that fails for good
            makes the step compensate its completed clones and fail; a later failure compensates
            every clone. See ``fireflytx._saga._fan_out`` for why the engine's ``ExpandEach`` is not used.
        max_parallel: With ``fan_out``: at most this many clones run at the same time (default:
            all of them; ``def`` steps are also bounded by the engine's worker threads).

    Numbers must fit the Java engine: ``retry`` at most 2_147_483_646, ``backoff_ms`` and
    ``timeout_ms`` at most 10**12 (about 31.7 years); ids must be text UTF-8 can encode. The same
    limits hold for compensations and TCC phases.
    """
    problems = text_problems(step_id, "step id", "reserve-stock")
    dependency_problems, depends_on = depends_on_problems(depends_on)
    problems += dependency_problems
    problems += limit_problems(retry, backoff_ms, timeout_ms)
    if jitter_factor is not None and not (isinstance(jitter_factor, int | float) and 0 <= jitter_factor <= 1):
        problems.append(f"jitter_factor must be between 0 and 1, got {jitter_factor!r}")
    if idempotency_key is not None and (not isinstance(idempotency_key, str) or not idempotency_key):
        problems.append("idempotency_key must be a non-empty str or None")
    elif idempotency_key is not None:
        problems += text_problems(idempotency_key, "idempotency_key", "order-42")
    if compensate is not None and (not isinstance(compensate, str) or not compensate):
        problems.append("compensate must name a method of the class, e.g. compensate='release'")
    fan_out_spec, fan_out_problems = fan_out_of(fan_out, max_parallel)
    problems += fan_out_problems

    def decorate(func: F) -> F:
        marker = StepMarker(
            step_id=step_id,
            depends_on=tuple(depends_on),
            retry=retry,
            backoff_ms=backoff_ms,
            jitter=None if jitter is None else bool(jitter),
            jitter_factor=float(jitter_factor) if isinstance(jitter_factor, int | float) else None,
            timeout_ms=timeout_ms,
            idempotency_key=idempotency_key,
            compensate=compensate,
            problems=tuple(problems + check_callable(func, "saga_step")),
            fan_out=fan_out_spec,
        )
        return mark(func, marker)

    return decorate


def compensation_step(
    step_id: str,
    *,
    retry: int | None = None,
    backoff_ms: int | None = None,
    timeout_ms: int | None = None,
    critical: bool = False,
) -> Callable[[F], F]:
    """Declare the method that undoes step ``step_id`` after a later failure.

    Its first parameter (after ``self``) receives that step's result; it may also take a
    ``SagaContext``. A compensation that still fails after its retries is reported on the result
    (status ``COMPENSATION_FAILED``), never swallowed.

    ``retry``, ``backoff_ms`` and ``timeout_ms`` left out take the engine's ``compensations``
    settings (by default 0, 100 and 0).

    Args:
        step_id: The step this compensates.
        retry: Retries after the first attempt, under every compensation policy.
        backoff_ms: Constant pause between attempts.
        timeout_ms: Limit of one attempt (0: none).
        critical: Under ``CIRCUIT_BREAKER``, a failure of this compensation skips the remaining ones.
    """
    problems: list[str] = []
    if not isinstance(step_id, str) or not step_id.strip():
        problems.append(f"compensation_step needs the id of the step it undoes, got {step_id!r}")
    else:
        problems += text_problems(step_id, "compensation_step's step id", "reserve-stock")
    problems += limit_problems(retry, backoff_ms, timeout_ms)

    def decorate(func: F) -> F:
        marker = CompensationMarker(
            step_id=step_id,
            retry=retry,
            backoff_ms=backoff_ms,
            timeout_ms=timeout_ms,
            critical=bool(critical),
            problems=tuple(problems + check_callable(func, "compensation_step")),
        )
        return mark(func, marker)

    return decorate


@overload
def saga(name: C, /) -> C: ...
@overload
def saga(
    name: str | None = None,
    *,
    layer_concurrency: int = 0,
    compensation_policy: CompensationPolicy | str | None = None,
) -> Callable[[C], C]: ...
def saga(
    name: Any = None,
    *,
    layer_concurrency: int = 0,
    compensation_policy: CompensationPolicy | str | None = None,
) -> Any:
    """Declare a class as a saga; check its steps and compensations all at once.

    Args:
        name: The saga's name (default: the class name).
        layer_concurrency: At most this many steps of one layer run at the same time (0: all).
        compensation_policy: Overrides the engine's policy for this saga.

    Raises:
        DefinitionError: listing every problem found (cycles, unknown dependencies, duplicate ids,
            orphan or doubled compensations, unusable signatures).
    """
    policy = CompensationPolicy(compensation_policy) if compensation_policy is not None else None
    return attach_spec(name, lambda cls, n, ns: assemble_saga(cls, n, layer_concurrency, policy, ns))
