"""Delivering run events to an engine's observers and journals.

Observers are called on one daemon thread per engine, so a slow or raising observer never holds
up a run: events wait in a bounded buffer (oldest dropped and counted when full). An observer that
says it is ``inline`` (thread-safe, never blocks, returns in microseconds: fireflytx's own event
publisher) is called on the thread that produced the event instead, because handing an event to
another thread costs more CPU than such an observer spends on it; its exceptions are still caught,
logged and counted. Journals are awaited on the run's loop at checkpoints. With no listeners,
nothing here costs anything: runs test ``Listeners.active`` before building an event.
"""

from __future__ import annotations

import _thread
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from .._threads import start_daemon
from ..errors import JournalError
from ..listeners import Journal, Observer, RunEvent

__all__ = ["Listeners", "is_inline", "split_listeners"]

_log = logging.getLogger("fireflytx.listeners")

BUFFER = 100_000
"""Events an engine keeps for slow observers before it drops the oldest."""
GATHER_S = 0.002
"""How long the observer thread lets events gather after a wake-up (their delay to observers).

Runs release the GIL at every call into Java; an observer thread woken per event takes it at
each of those moments, and the hand-offs cost a busy engine up to half its throughput. Woken
once per batch, it costs a few percent.
"""


def is_inline(observer: Observer) -> bool:
    """Whether ``observer`` asks to be called on the thread that produced each event (see ``Observer``)."""
    return getattr(observer, "inline", False) is True


def split_listeners(listeners: Iterable[Any]) -> tuple[list[Observer], list[Journal]]:
    """Sort listeners into observers and journals; anything else is a usage error.

    Raises:
        TypeError: a listener has neither ``on_event`` nor ``record``.
    """
    observers: list[Observer] = []
    journals: list[Journal] = []
    for listener in listeners:
        is_observer = callable(getattr(listener, "on_event", None))
        is_journal = callable(getattr(listener, "record", None))
        if not (is_observer or is_journal):
            raise TypeError(
                f"{listener!r} is not a listener: give it an `on_event(event)` method (an observer) "
                "or an `async record(event)` method (a journal); see fireflytx.listeners"
            )
        if is_observer:
            observers.append(listener)
        if is_journal:
            journals.append(listener)
    return observers, journals


class Listeners:
    """One engine's observers and journals, and the thread that feeds the observers."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.observers: tuple[Observer, ...] = ()
        """Every observer, inline or not; runs build events only when there is one."""
        self._inline: tuple[Observer, ...] = ()
        self._threaded: tuple[Observer, ...] = ()
        self.journals: tuple[Journal, ...] = ()
        self.active = False
        """Whether anyone listens; runs skip building events when not."""
        self.observer_errors = 0
        self.dropped = 0
        self._pending: deque[RunEvent] = deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._sleeping = True
        """The observer thread waits for a wake-up; while it is delivering, ``emit`` only queues."""

    def add(self, listeners: Iterable[Any]) -> None:
        """Add observers and journals (checked first, so a bad one adds nothing)."""
        observers, journals = split_listeners(listeners)
        with self._lock:
            self.observers += tuple(observers)
            self._inline = tuple(o for o in self.observers if is_inline(o))
            self._threaded = tuple(o for o in self.observers if not is_inline(o))
            self.journals += tuple(journals)
            self.active = bool(self.observers or self.journals)

    # -- observers -------------------------------------------------------------------------------

    def emit(self, event: RunEvent) -> None:
        """Give ``event`` to the inline observers and queue it for the others; from any thread."""
        for observer in self._inline:
            try:
                observer.on_event(event)
            except KeyboardInterrupt:
                # Ctrl-C landed while the main thread was inside the observer: an observer must not
                # swallow it, and the run must not be cut off mid-way by it either. Ask again, so
                # the process's SIGINT handler sees it at its next chance.
                _thread.interrupt_main()
            except BaseException as exc:  # an observer never changes a run
                self._failed(observer, event, exc)
        if not self._threaded:
            return
        if self._thread is None:
            self._start()
        pending = self._pending
        if len(pending) >= BUFFER:
            pending.popleft()
            self.dropped += 1
        pending.append(event)
        if self._sleeping:  # wake the thread once per batch, not per event: each wake costs a thread switch
            self._sleeping = False
            self._idle.clear()
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._closing = False
                self._sleeping = False
                self._idle.clear()
                self._thread = start_daemon(self._deliver_forever, f"fireflytx-observers-{self._name}")

    def _deliver_forever(self) -> None:
        pending = self._pending
        while True:
            while pending:
                event = pending.popleft()
                for observer in self._threaded:
                    try:
                        observer.on_event(event)
                    except BaseException as exc:  # an observer never stops delivery
                        self._failed(observer, event, exc)
            self._sleeping = True
            if pending:  # an event arrived after the last delivery, and its emit saw the thread busy
                self._sleeping = False
                continue
            self._idle.set()
            if self._closing:
                return
            self._wake.wait()
            self._wake.clear()
            # Let events gather before delivering them: a wake-up per event would cost a thread switch
            # (and a GIL hand-over) per event, more than most observers spend on one.
            time.sleep(GATHER_S)

    def _failed(self, observer: Observer, event: RunEvent, exc: BaseException) -> None:
        with self._lock:  # inline observers fail on any thread
            self.observer_errors += 1
        _log.error(
            "observer %r failed on %s; the run is unaffected", observer, type(event).__name__, exc_info=exc
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event was delivered; False if ``timeout`` (seconds) ran out."""
        if self._thread is None:
            return True
        return self._idle.wait(timeout)

    def close(self, timeout: float) -> bool:
        """Deliver what is queued (at most ``timeout`` seconds), then end the observer thread."""
        delivered = self.flush(timeout)
        with self._lock:
            thread, self._thread = self._thread, None
            self._closing = True
        if thread is not None:
            self._wake.set()
            thread.join(timeout=0.5 if delivered else 0)
        if not delivered:
            _log.warning(
                "%d run event(s) were not delivered to observers before shutdown", len(self._pending)
            )
        for observer in self.observers:  # observers that queue on their own (event publishers) drain too
            close = getattr(observer, "close", None)
            if callable(close):
                try:
                    close(timeout)
                except Exception as exc:
                    self.observer_errors += 1
                    _log.error("closing observer %r failed", observer, exc_info=exc)
        return delivered

    # -- journals --------------------------------------------------------------------------------

    async def checkpoint(self, event: RunEvent) -> None:
        """Tell the observers, then have every journal record ``event``, in order.

        Raises:
            JournalError: a journal raised; the caller fails what the event records.
        """
        self.emit(event)
        for journal in self.journals:
            try:
                await journal.record(event)
            except Exception as exc:
                raise JournalError(type(event).__name__, journal, exc) from exc
