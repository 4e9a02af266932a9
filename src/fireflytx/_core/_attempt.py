"""One attempt of a saga step, compensation or TCC phase, as the kernel runs it.

An attempt is created by a run when the engine (or fireflytx's own retry loop) asks for one,
started on the event loop (``async def``) or a worker thread (``def``), timed from the moment it
starts running, and finished exactly once: by the method returning or raising, by its timeout, or
by the run's cancellation. Whatever comes later (a late result, a second error) is ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..listeners import Phase

__all__ = ["FORWARD", "Attempt", "safe_text"]

FORWARD = frozenset({Phase.STEP, Phase.TRY})
"""Phases that move a transaction forward: the ones a cancelled run stops (undoing never stops)."""


@dataclass(slots=True, eq=False)
class Attempt:
    """One call of a user method, from start to finish.

    ``method`` calls the user's method with its arguments (for ``async def`` it returns the
    coroutine); ``on_done`` and ``sink`` belong to whoever asked for the attempt. Both, and the
    task or worker job, are dropped once the attempt is finished, so a finished record holds no
    reference to the saga instance, the loop or the workers.
    """

    phase: Phase
    unit_id: str
    number: int
    is_async: bool
    timeout_ms: int
    last: bool
    """Whether a failure of this attempt is final (no retry follows)."""
    method: Callable[[], Any] | None
    on_done: Callable[[Attempt], None] | None
    sink: Any = None
    started: float = 0.0
    ended: float = 0.0
    value: Any = None
    error: BaseException | None = None
    task: asyncio.Task[Any] | None = None
    job: Any = None
    timer: asyncio.TimerHandle | None = None
    timed_out: bool = False
    """Its timeout fired while it ran as a task; the task is being cancelled."""
    done: bool = False
    replayed: bool = False
    """Not run: recovery took its outcome from the checkpoint a crashed run had written."""
    replayable: bool = True
    """False for a unit made of units that replay one by one (a fan-out step and its undoing): it
    runs again after a crash, and its parts answer from their own checkpoints."""

    @property
    def succeeded(self) -> bool:
        """Finished without an error."""
        return self.done and self.error is None

    @property
    def final(self) -> bool:
        """Finished, and nothing more of its step or phase will be attempted after it."""
        return self.done and (self.error is None or self.last)


def safe_text(error: BaseException) -> str:
    """``str(error)``, or a readable stand-in when that raises, is not a str, or cannot be encoded.

    Error paths call this, so it must not fail: a user's exception can break ``__str__`` on purpose.
    """
    try:
        text = str(error)
    except BaseException as exc:  # noqa: BLE001 - anything a broken __str__ raises
        text = f"<str() of {type(error).__name__} raised {type(exc).__name__}>"
    if not isinstance(text, str):
        text = f"<str() of {type(error).__name__} returned a {type(text).__name__}>"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
