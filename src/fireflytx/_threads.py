"""Threads fireflytx starts never take SIGINT or SIGTERM: those belong to the main thread.

Linux gives a signal sent to the process to the main thread when it can take it at that instant,
and otherwise to any thread that does not block it. Python runs signal handlers only in the main
thread, and a main thread asleep in an event loop's ``select`` wakes only if the signal landed on it
(``asyncio.run`` sets no wakeup fd). A Ctrl-C taken by a worker thread would so wait until something
else woke the loop, which, with a hung step and no timeout, is never. So every thread fireflytx
creates starts with both signals blocked, and the process reacts to them as if those threads were
not there.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["in_thread", "process_signals_blocked", "start_daemon"]

T = TypeVar("T")

_PROCESS_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def process_signals_blocked(*, unless_main: bool = False) -> Iterator[None]:
    """Threads created inside inherit a mask without SIGINT and SIGTERM, so they never take them.

    The calling thread blocks them only while inside, so a signal sent meanwhile waits, pending,
    and is taken on the way out. ``unless_main``: leave the main thread's mask alone; the JVM's
    start needs this (see ``_bridge._jvm``).
    """
    in_main = threading.current_thread() is threading.main_thread()
    if not hasattr(signal, "pthread_sigmask") or (unless_main and in_main):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _PROCESS_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start_daemon(target: Callable[[], object], name: str) -> threading.Thread:
    """Start a daemon thread running ``target`` that never takes SIGINT or SIGTERM."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    with process_signals_blocked():
        thread.start()
    return thread


async def in_thread(call: Callable[[], T], name: str) -> T:
    """``call()`` on a new thread of fireflytx's own, awaited without blocking the loop.

    Used instead of ``asyncio.to_thread``: the loop's default executor is the application's, and
    its threads take signals.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def work() -> None:
        try:
            value = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            _answer(loop, settle, None, exc)
        else:
            _answer(loop, settle, value, None)

    start_daemon(work, name)
    return await future


def _answer(
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[T | None, BaseException | None], None],
    value: T | None,
    error: BaseException | None,
) -> None:
    try:
        loop.call_soon_threadsafe(settle, value, error)
    except RuntimeError:  # the loop closed meanwhile: nobody is left waiting
        pass
