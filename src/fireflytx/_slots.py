"""Admission of runs into an engine: at most ``max_in_flight`` at once; the rest wait in line or are refused.

Callers come from any event loop (``execute``) and from ``execute_sync`` threads (each on the
engine's private loop), so the line is one FIFO under a threading lock, and a freed slot is
handed straight to the first waiter: nobody arriving later can take it first, whatever loop or
thread they call from. A waiter is woken on its own loop.

A waiter cancelled while in line leaves it; one cancelled just after it was handed a slot hands
the slot on, so no slot leaks either way. Closing the engine refuses everyone still in line.
Waiting costs one small object and one future per caller: the run itself (its records, the
saga instance's work, anything Java holds) is built only once the caller is admitted.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["Slots"]

_WAITING, _GRANTED, _LEFT = 0, 1, 2

_SLACK = 64
"""Waiters that left the line stay in it until a release passes them or the line is compacted."""


class _Waiter:
    __slots__ = ("future", "loop", "state")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.state = _WAITING


class Slots:
    """The runs in flight of one engine, and the callers waiting for one of ``limit`` slots.

    ``limit`` None means unbounded: nobody ever waits, and admission is one locked increment.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.in_flight = 0
        """Slots held: runs admitted and not yet ended."""
        self.rejected = 0
        """Callers refused because every slot was taken and they would not wait."""
        self._waiting = 0
        self._line: deque[_Waiter] = deque()
        self._closed = True
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """Callers in line for a slot now."""
        return self._waiting

    def open(self) -> None:
        """Admit callers (the engine started)."""
        with self._lock:
            self._closed = False

    def close(self, error: Callable[[], BaseException]) -> None:
        """Admit nobody any more and refuse everyone in line with a fresh ``error()`` each."""
        with self._lock:
            self._closed = True
            refused = [w for w in self._line if w.state == _WAITING]
            for waiter in refused:
                waiter.state = _LEFT
            self._line.clear()
            self._waiting = 0
        for waiter in refused:
            _wake(waiter, error())

    async def acquire(
        self, wait: bool, full: Callable[[], BaseException], closed: Callable[[], BaseException]
    ) -> None:
        """Take a slot; if none is free, wait in line for one or raise ``full()`` (``wait`` False).

        Raises:
            BaseException: ``closed()`` if the engine admits nobody (now, or while this waited);
                ``full()`` when every slot is taken and ``wait`` is False.
            asyncio.CancelledError: the caller was cancelled while in line (it holds no slot).
        """
        with self._lock:
            if self._closed:
                raise closed()
            limit = self.limit
            if limit is None or (self.in_flight < limit and not self._waiting):
                self.in_flight += 1
                return
            if not wait:
                self.rejected += 1
                raise full()
            waiter = _Waiter(asyncio.get_running_loop())
            self._line.append(waiter)
            self._waiting += 1
        try:
            await waiter.future
        except BaseException:
            with self._lock:
                granted = waiter.state == _GRANTED
                if waiter.state == _WAITING:
                    waiter.state = _LEFT
                    self._waiting -= 1
                    if len(self._line) > 2 * self._waiting + _SLACK:
                        self._line = deque(w for w in self._line if w.state == _WAITING)
            if granted:  # handed a slot in the same instant it was cancelled: pass it on
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back: to the first caller in line, else to the pool."""
        while True:
            with self._lock:
                waiter = None
                while self._line:
                    candidate = self._line.popleft()
                    if candidate.state == _WAITING:
                        candidate.state = _GRANTED
                        self._waiting -= 1
                        waiter = candidate
                        break
                if waiter is None:
                    self.in_flight -= 1
                    return
            if _wake(waiter, None):
                return
            # Its loop is closed, so nobody will ever use the slot it was given: pass it on, and
            # make sure its coroutine, closed when collected, does not give the slot back twice.
            with self._lock:
                waiter.state = _LEFT


def _wake(waiter: _Waiter, error: BaseException | None) -> bool:
    """Resolve ``waiter``'s future on its own loop; False if that loop is closed."""
    loop = waiter.loop
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _settle(waiter.future, error)
        return True
    try:
        loop.call_soon_threadsafe(_settle, waiter.future, error)
    except RuntimeError:
        return False
    return True


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    # A future already done was cancelled with its caller, whose handler gives the slot back.
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
