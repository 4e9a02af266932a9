"""Keeping an event loop from sleeping long while an engine has runs in flight on it.

Ctrl-C cancels ``asyncio.run``'s main task from a signal handler, which then wakes the loop by
writing to its self-pipe. Under load on Linux VMs that wake-up has been seen lost with the JVM in
the process: the loop slept on in ``epoll_wait`` beside a readable self-pipe, its cancelled task's
wake-up already queued, and a process waiting on a hung step could then not be interrupted. While
an engine has runs in flight, each loop they run on gets a timer that fires every ``TICK_S``
seconds, so such a loop acts on what is queued within a tick: a few idle wake-ups a second, and
one weak-reference call per run.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

__all__ = ["TICK_S", "WakeGuard"]

TICK_S = 0.2


class WakeGuard:
    """One engine's tickers, one per loop its runs are on, kept while ``busy()`` says so."""

    def __init__(self, busy: Callable[[], bool]) -> None:
        self._busy = busy
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._last: Callable[[], asyncio.AbstractEventLoop | None] = _none
        """The loop the last run that found its ticker running was on (most runs share one loop):
        checked first, as a ``WeakSet`` lookup makes a weak reference each time."""

    def keep_awake(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make sure ``loop`` wakes every tick while the engine is busy; call on ``loop``'s thread."""
        if self._last() is loop:
            return
        if loop not in self._loops:
            self._loops.add(loop)
            loop.call_later(TICK_S, self._tick, loop)
        self._last = weakref.ref(loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._busy() and not loop.is_closed():
            loop.call_later(TICK_S, self._tick, loop)
        else:  # the next run on this loop starts a new ticker
            self._loops.discard(loop)
            if self._last() is loop:
                self._last = _none


def _none() -> None:
    return None
