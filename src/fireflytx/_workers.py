"""Threads kept by the process and lent to engines, so starting and stopping engines creates none.

Each Python thread that touches Java costs memory that outlives it under JPype 1.7.1 (a type object
it allocates Java wrappers with, about 1.5 KiB, even once detached from the JVM), so an engine that
started threads of its own grew the process on every start and stop: a service creating an engine
per request, or a test suite one per test, grew without bound. Engines now borrow: ``EngineWorkers``
gives one engine at most ``max_workers`` tasks at a time on threads the process keeps (named as
before, by engine kind), and ``LoopThread`` hands out event loops on threads that outlive engines.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

__all__ = ["EngineWorkers", "LoopThread"]

P = ParamSpec("P")
T = TypeVar("T")

_SHARED_LIMIT = 4096
"""Threads per kind the process may keep; idle ones are reused first, so this is only a ceiling."""

_pools: dict[str, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(prefix: str) -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get(prefix)
        if pool is None:
            pool = _pools[prefix] = ThreadPoolExecutor(max_workers=_SHARED_LIMIT, thread_name_prefix=prefix)
        return pool


class EngineWorkers(Executor):
    """One engine's worker threads: at most ``max_workers`` of its tasks run at once, in submission order.

    ``shutdown`` behaves as ``ThreadPoolExecutor.shutdown``: new tasks are refused, queued ones still
    run unless ``cancel_futures``; the threads themselves stay with the process for later engines.
    """

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self._pool = _pool(thread_name_prefix)
        self._max = max_workers
        self._queue: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._running = 0
        self._shutdown = False
        self._idle = threading.Condition()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)``.

        Raises:
            RuntimeError: the engine's workers were shut down.
        """
        future: Future[T] = Future()
        with self._idle:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._queue.append((future, lambda: fn(*args, **kwargs)))
            if self._running >= self._max:
                return future
            self._running += 1
        self._pool.submit(self._drain)
        return future

    def _drain(self) -> None:
        while True:
            with self._idle:
                if not self._queue:
                    self._running -= 1
                    self._idle.notify_all()
                    return
                future, call = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:  # handed to the future, as ThreadPoolExecutor does
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new tasks; with ``wait``, return once every queued and running task has ended."""
        with self._idle:
            self._shutdown = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft()[0].cancel()
            if wait:
                self._idle.wait_for(lambda: not self._running)


class LoopThread:
    """An event loop running on a thread of its own, lent to one engine at a time (for ``execute_sync``).

    ``release`` hands the loop back instead of stopping it: runs a stopped engine left in flight
    finish on it, and the next engine that needs a private loop gets it.
    """

    _idle: list[LoopThread] = []
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fireflytx-sync-loop", daemon=True)
        self.thread.start()

    @classmethod
    def acquire(cls) -> LoopThread:
        """An idle loop thread, or a new one."""
        with cls._lock:
            if cls._idle:
                return cls._idle.pop()
        return cls()

    def release(self) -> None:
        """Give the loop back for the next engine."""
        with self._lock:
            self._idle.append(self)
