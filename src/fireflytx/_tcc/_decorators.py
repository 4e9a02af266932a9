"""``@tcc``, ``@tcc_participant`` and the phase decorators: they record metadata and nothing else.

No decorator touches the JVM; a module full of TCCs imports with no Java installed.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from .._limits import MAX_INT, count_problems, limit_problems, text_problems
from .._spec import MARKER_ATTRIBUTE, attach_spec, check_callable, mark
from ._assembly import assemble_tcc
from ._definition import (
    CANCEL,
    CONFIRM,
    DECORATORS,
    TRY,
    ParticipantMarker,
    PhaseMarker,
    timeout_problems,
)

__all__ = ["cancel_method", "confirm_method", "tcc", "tcc_participant", "try_method"]

C = TypeVar("C", bound=type)
F = TypeVar("F", bound=Callable[..., Any])


def _own_marker(target: Any) -> Any:
    """The marker a function already carries (from a decorator below this one), if any."""
    func = target.__func__ if isinstance(target, staticmethod | classmethod) else target
    return getattr(func, MARKER_ATTRIBUTE, None) if inspect.isfunction(func) else None


def _selector_problems(select: Any) -> list[str]:
    """Why ``select`` cannot pick a participant's input out of the transaction input, if it cannot."""
    if select is None:
        return []
    example = "input=lambda order: order['payment']"
    if isinstance(select, type):
        return [
            f"input= takes a function of the transaction input ({example}), not the class "
            f"{select.__name__}; to convert the part it picks, annotate the try method's parameter"
        ]
    if not callable(select):
        return [f"input= must be a function of the transaction input ({example}), got {select!r}"]
    if inspect.iscoroutinefunction(select) or inspect.isasyncgenfunction(select):
        return ["input= must be a plain function, not async: it runs once, before any try"]
    try:
        inspect.signature(select).bind(None)
    except TypeError:
        return [f"input= must take exactly one argument, the transaction input ({example})"]
    except ValueError:  # no signature to read (some builtins): the first run tells
        pass
    return []


def _phase(phase: str, func: Any, timeout_ms: Any, retry: Any, backoff_ms: Any) -> Any:
    decorator = DECORATORS[phase]
    if func is not None and not callable(func):
        raise TypeError(f"@{decorator} takes keyword arguments only, e.g. @{decorator}(timeout_ms=5000)")
    problems = limit_problems(retry, backoff_ms, timeout_ms)

    def decorate(target: F) -> F:
        marker: Any = PhaseMarker(
            phase=phase,
            timeout_ms=timeout_ms,
            retry=retry,
            backoff_ms=backoff_ms,
            problems=tuple(problems + check_callable(target, decorator)),
        )
        options = _own_marker(target)
        if isinstance(options, ParticipantMarker):
            # @tcc_participant ran first (it is the lower decorator): keep its options with this marker.
            if phase == TRY:
                marker = dataclasses.replace(options, try_marker=marker)
            else:
                misplaced = f"@tcc_participant belongs on the try method, not on a @{decorator}"
                marker = dataclasses.replace(options, problems=(*options.problems, misplaced))
        return mark(target, marker)

    return decorate(func) if func is not None else decorate


@overload
def try_method(func: F, /) -> F: ...
@overload
def try_method(
    *, timeout_ms: int | None = None, retry: int | None = None, backoff_ms: int | None = None
) -> Callable[[F], F]: ...
def try_method(
    func: Any = None,
    /,
    *,
    timeout_ms: int | None = None,
    retry: int | None = None,
    backoff_ms: int | None = None,
) -> Any:
    """Declare a participant's try method: it reserves what confirm will commit or cancel release.

    Its first parameter (after ``self``) receives the participant's input, converted when
    annotated with a pydantic model or dataclass: the transaction input, or the part of it the
    participant's ``input=`` selector picks, or its entry of a ``TccInputs``. A parameter annotated
    ``TccContext`` receives the run's context.

    On a method of the ``@tcc`` class itself named ``try_<id>``, it declares a method-style
    participant ``<id>`` together with ``@confirm_method confirm_<id>`` and ``@cancel_method
    cancel_<id>`` (see ``tcc``).

    What it returns stays in Python and is handed to confirm or cancel; the engine only sees a
    token, so a try returning ``None`` is still confirmed or cancelled (with ``None``), where the
    engine alone would leave it unsettled forever.

    If the last attempt fails or times out, fireflytx cancels this participant at once, with
    ``None`` (the engine itself would never cancel it), then every participant tried before it, in
    reverse order. To learn of that last failure first, fireflytx enforces the try's timeout
    itself; retries and backoff are the engine's.

    ``async def`` methods run on the caller's event loop, ``def`` methods on a worker thread.
    Usable bare (``@try_method``) or with arguments.

    Args:
        func: The method, when used without parentheses.
        timeout_ms: Limit of one attempt; ``None`` inherits the participant's or the TCC's, else
            the engine's ``tcc.tries`` setting (default 0: none). A timed-out ``async def`` attempt
            is cancelled; a ``def`` attempt cannot be interrupted and finishes unseen, so tries must
            be safe to finish late.
        retry: Retries after the first attempt (the engine's; any error is retried, timeouts
            included). ``None``: the engine's ``tcc.tries`` setting (default 0).
        backoff_ms: Pause between attempts; the engine adds ±20 % jitter. ``None``: the
            ``tcc.tries`` setting (default 100).
    """
    return _phase(TRY, func, timeout_ms, retry, backoff_ms)


@overload
def confirm_method(func: F, /) -> F: ...
@overload
def confirm_method(
    *, timeout_ms: int | None = None, retry: int | None = None, backoff_ms: int | None = None
) -> Callable[[F], F]: ...
def confirm_method(
    func: Any = None,
    /,
    *,
    timeout_ms: int | None = None,
    retry: int | None = None,
    backoff_ms: int | None = None,
) -> Any:
    """Declare a participant's confirm method: it commits what the try reserved.

    Its first parameter (after ``self``) receives this participant's try result (converted when
    annotated with a model or dataclass, unless it is ``None``); it may also take a ``TccContext``.
    Confirms run in ``order`` after every try succeeded. A confirm that still fails after its retries
    makes the result ``CONFIRM_FAILED``, never ``CONFIRMED``, with the error kept. Confirms must be
    idempotent: an attempt that timed out may have committed before the next one starts.

    Args:
        func: The method, when used without parentheses.
        timeout_ms: Limit of one attempt; ``None`` inherits the participant's or the TCC's, else
            the engine's ``tcc.confirms`` setting (default 0: none).
        retry: Retries after the first attempt. ``None``: the ``tcc.confirms`` setting (default 3,
            like the engine, since a confirm has to succeed eventually).
        backoff_ms: Pause between attempts; the engine adds ±20 % jitter. ``None``: the
            ``tcc.confirms`` setting (default 100).
    """
    return _phase(CONFIRM, func, timeout_ms, retry, backoff_ms)


@overload
def cancel_method(func: F, /) -> F: ...
@overload
def cancel_method(
    *, timeout_ms: int | None = None, retry: int | None = None, backoff_ms: int | None = None
) -> Callable[[F], F]: ...
def cancel_method(
    func: Any = None,
    /,
    *,
    timeout_ms: int | None = None,
    retry: int | None = None,
    backoff_ms: int | None = None,
) -> Any:
    """Declare a participant's cancel method: it releases what the try reserved.

    Its first parameter (after ``self``) receives this participant's try result, or ``None`` when
    the participant's own try failed: an empty rollback must be safe. It may also take a
    ``TccContext``. Cancels run in reverse order of the tries, one at a time. A cancel that still
    fails after its retries makes the result ``CANCEL_FAILED``, with the error kept, and the other
    cancels still run.

    fireflytx runs cancels itself, with these settings: the engine never cancels the participant
    whose try failed, and its cancel phase fails outright once two participants need cancelling.

    Args:
        func: The method, when used without parentheses.
        timeout_ms: Limit of one attempt; ``None`` inherits the participant's or the TCC's, else
            the engine's ``tcc.cancels`` setting (default 0: none). A timed-out ``def`` attempt
            finishes unseen on its thread.
        retry: Retries after the first attempt. ``None``: the ``tcc.cancels`` setting (default 3,
            like the engine's default).
        backoff_ms: Pause between attempts, with ±20 % jitter like the engine's. ``None``: the
            ``tcc.cancels`` setting (default 100).
    """
    return _phase(CANCEL, func, timeout_ms, retry, backoff_ms)


def tcc_participant(
    participant_id: str,
    *,
    order: int = 0,
    timeout_ms: int | None = None,
    optional: bool = False,
    input: Callable[[Any], Any] | None = None,
) -> Callable[[F], F]:
    """Declare a TCC participant: a class nested in a ``@tcc`` class, or options of a method-style one.

    On a nested class, the class needs exactly one ``@try_method``, ``@confirm_method`` and
    ``@cancel_method``; each run creates one instance of it (without arguments) for all three
    phases. Stacked with ``@try_method`` on a ``try_<name>`` method of the ``@tcc`` class itself, it
    sets the id and options of that method-style participant (its confirm and cancel stay
    ``confirm_<name>`` and ``cancel_<name>``).

    Args:
        participant_id: Unique id of the participant within its TCC.
        order: Tries run in ascending order (ties keep declaration order); confirms follow the same
            order, cancels the reverse.
        timeout_ms: Default limit of each phase attempt of this participant; ``None`` inherits the
            TCC's (else the engine's ``tcc`` settings), 0 means none.
        optional: When its try still fails after its retries, its cancel runs with ``None`` and the
            transaction goes on without it; the others are still confirmed. The engine has such a flag
            but never reads it, so fireflytx does this itself.
        input: Picks this participant's input out of the transaction input, e.g.
            ``input=lambda order: order["payment"]``; the try receives what it returns (converted
            when its parameter is annotated with a model or dataclass). It runs once per run, before
            any try, and again on the stored input when a durable run is recovered, so it must be a
            pure function of the input: deterministic, with no side effects. When it raises, the run
            fails with ``InputValidationError`` naming the participant and nothing runs. ``None``:
            the whole transaction input.
    """
    problems: list[str] = []
    if isinstance(participant_id, type) or callable(participant_id):
        problems.append("@tcc_participant needs an id: @tcc_participant('payment')")
    else:
        problems += text_problems(participant_id, "participant id", "payment")
    problems += count_problems(order, "order", MAX_INT, minimum=-MAX_INT - 1)
    problems += timeout_problems(timeout_ms, "timeout_ms")
    if not isinstance(optional, bool):
        problems.append(f"optional must be a bool, got {optional!r}")
    problems += _selector_problems(input)
    select = input if callable(input) and not isinstance(input, type) else None

    def decorate(target: F) -> F:
        marker = ParticipantMarker(
            participant_id=participant_id if isinstance(participant_id, str) else repr(participant_id),
            order=order,
            timeout_ms=timeout_ms,
            optional=bool(optional),
            problems=tuple(problems),
            select=select,
        )
        if isinstance(target, type):
            setattr(target, MARKER_ATTRIBUTE, marker)
            return target
        # A method-style participant's try method: keep what @try_method (below this) recorded.
        below = _own_marker(target)
        if isinstance(below, PhaseMarker) and below.phase == TRY:
            marker = dataclasses.replace(marker, try_marker=below)
        elif isinstance(below, PhaseMarker):
            marker = dataclasses.replace(
                marker,
                problems=(
                    *marker.problems,
                    f"@tcc_participant belongs on the try method, not on a @{DECORATORS[below.phase]}",
                ),
            )
        return mark(target, marker)

    if isinstance(participant_id, type) or inspect.isfunction(participant_id):
        # Used bare: record the problem on the class or method so @tcc reports it with the others.
        return decorate(participant_id)
    return decorate


@overload
def tcc(name: C, /) -> C: ...
@overload
def tcc(name: str | None = None, *, timeout_ms: int | None = None) -> Callable[[C], C]: ...
def tcc(name: Any = None, *, timeout_ms: int | None = None) -> Any:
    """Declare a class as a TCC transaction; check its participants all at once.

    Participants are classes nested in it and decorated with ``@tcc_participant``, or, method
    style, its own methods ``try_<id>``, ``confirm_<id>`` and ``cancel_<id>`` decorated with
    ``@try_method``, ``@confirm_method`` and ``@cancel_method`` (``@tcc_participant`` stacked on the
    try method sets that participant's order and options). Both styles mix in one TCC; tries run by
    ``order``, ties in declaration order (a method-style participant stands at its try method).
    Each run makes one instance of every nested participant class and, when there are method-style
    participants, one instance of the ``@tcc`` class (created without arguments) for all of them.
    The Java ``TccEngine`` runs them: tries in order, then every confirm, or after a failed try
    every cancel in reverse order.

    Args:
        name: The TCC's name (default: the class name).
        timeout_ms: Default limit of each phase attempt of participants and methods that set none
            (0: none; ``None``: the engine's ``tcc.tries``/``confirms``/``cancels`` settings, 0 by
            default). It is not a deadline for the whole transaction; the engine has a TCC-level
            timeout setting but never reads it, so fireflytx applies this one per attempt.

    Raises:
        DefinitionError: listing every problem found (participants missing a phase or with two
            methods for one, duplicate participant ids, phase methods on the TCC class not named
            ``<phase>_<id>``, unusable signatures or ``input=`` selectors, saga decorators).
    """
    return attach_spec(name, lambda cls, n, ns: assemble_tcc(cls, n, timeout_ms, ns))
