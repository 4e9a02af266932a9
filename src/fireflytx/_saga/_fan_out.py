"""Dynamic fan-out, as declared: where a step's items come from and how many clones run at once.

``@saga_step("ship", fan_out=lambda order: order.items)`` runs the step once per item of a list
known only at run time. The engine has a fan-out of its own (``ExpandEach``), but it expands a
step while the saga is being built, before anything runs: the list must be a concrete input at
``execute``, so it cannot fan out over an earlier step's result, and its clones are separate engine
steps that the saga's shape (and so recovery's fingerprint) would have to know in advance.
fireflytx therefore keeps the fan-out step as one engine step and runs its clones itself, each
through the same attempt kernel as every step (retries, backoff, timeout, listeners, checkpoints);
see ``_fan_out_run``. This module only describes the declaration; it never touches a run.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._limits import MAX_INT, count_problems
from .._markers import FromStep

__all__ = ["FanOutSpec", "clone_id", "fan_out_of", "split_clone_id"]

_CLONE = re.compile(r"^(.+)#(0|[1-9][0-9]*)$")


@dataclass(frozen=True, slots=True)
class FanOutSpec:
    """Where a fan-out step's items come from, and its clones' concurrency bound.

    Exactly one of ``selector`` (called with the saga input, and with the context when
    ``takes_context``) and ``source`` (the id of the step whose result is the list) is set.
    """

    selector: Callable[..., Any] | None
    source: str | None
    takes_context: bool = False
    max_parallel: int | None = None
    """At most this many clones run at the same time (None: all of them)."""

    @property
    def describe(self) -> str:
        """Where the items come from, in words, for diagrams and errors."""
        if self.source is not None:
            return f"FromStep({self.source!r})"
        name = getattr(self.selector, "__qualname__", None) or type(self.selector).__name__
        return "a lambda" if name.endswith("<lambda>") else name


def clone_id(step_id: str, index: int) -> str:
    """The id of a fan-out step's clone: ``ship#0``, ``ship#1``... (the engine's ``ExpandEach`` names)."""
    return f"{step_id}#{index}"


def split_clone_id(unit_id: str) -> tuple[str, int] | None:
    """``("ship", 2)`` for ``"ship#2"``; None for an id that is no clone's."""
    match = _CLONE.match(unit_id)
    return None if match is None else (match.group(1), int(match.group(2)))


def _takes_context(selector: Callable[..., Any]) -> tuple[bool, list[str]]:
    """Whether the selector wants the context as its second argument; problems with its arity."""
    if inspect.iscoroutinefunction(selector):
        return False, ["fan_out must be a plain function (it runs on the event loop); not an async def"]
    try:
        params = list(inspect.signature(selector).parameters.values())
    except (TypeError, ValueError):  # a builtin such as operator.attrgetter: one argument
        return False, []
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and p.default is inspect.Parameter.empty
    ]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return len(positional) >= 2, []
    if len(positional) in (1, 2):
        return len(positional) == 2, []
    return False, [
        "fan_out must take the saga input (and optionally the SagaContext), e.g. "
        f"fan_out=lambda order: order.items; it takes {len(positional)} arguments"
    ]


def fan_out_of(fan_out: Any, max_parallel: Any) -> tuple[FanOutSpec | None, list[str]]:
    """The spec ``@saga_step(fan_out=..., max_parallel=...)`` declares, and the problems with it."""
    problems: list[str] = []
    if max_parallel is not None:
        problems += count_problems(max_parallel, "max_parallel", MAX_INT, minimum=1)
        if fan_out is None:
            problems.append("max_parallel bounds the clones of a fan-out step; give fan_out=... too")
    if fan_out is None:
        return None, problems
    bound = max_parallel if not problems else None
    if isinstance(fan_out, FromStep):
        return FanOutSpec(None, fan_out.step_id, False, bound), problems
    if not callable(fan_out):
        problems.append(
            "fan_out must be a function of the saga input, e.g. fan_out=lambda order: order.items, "
            f"or FromStep('step-id') for another step's result; got {fan_out!r}"
        )
        return None, problems
    takes_context, arity = _takes_context(fan_out)
    problems += arity
    return FanOutSpec(fan_out, None, takes_context, bound), problems
