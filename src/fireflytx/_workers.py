"""The threads that run plain ``def`` steps, compensations and TCC phases of one engine.

A Python thread cannot be stopped from outside, so an attempt the engine times out keeps its thread
until the call returns, which may be never. A fixed pool would let a few hung calls starve every
``def`` step of the engine; here a timed-out call is *abandoned*: its thread stops counting against
``size`` and a new thread takes its place, so healthy work keeps ``size`` threads. Up to
``max_abandoned`` stuck threads are replaced; beyond that, each further one takes a slot from
``size`` again (an ERROR says so), so a steady stream of hung calls cannot grow threads without end.

The threads are daemons: the interpreter's exit never waits for a running ``def`` call. Such a call
is cut off mid-way when the process ends, and nothing more of it is recorded.

Threads are kept by the process and lent to engines (``_Reservoir``): under JPype 1.7.1 every new
Python thread that touches Java leaves memory behind when it ends, so an engine that started
threads of its own grew the process on every start and stop. A thread that leaves an engine (the
engine stopped, or its stuck call came back) waits in the reservoir for the next engine.

``StepWorkers`` is a ``concurrent.futures.Executor`` whose futures are ``WorkerJob``s, so
``loop.run_in_executor`` works with it; cancelling a job that is already running abandons it, since
whoever cancels it has stopped waiting for it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from ._threads import start_daemon
from .errors import WorkersStoppedError

__all__ = ["LoopThread", "StepWorkers", "WorkerCall", "WorkerJob", "WorkerStats"]

log = logging.getLogger("fireflytx.workers")

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class WorkerStats:
    """A snapshot of an engine's ``def``-step threads.

    ``busy`` threads run live calls, ``queued`` calls wait for a thread, ``abandoned`` threads are
    still stuck in timed-out calls now, and ``abandoned_total`` counts every abandonment so far.
    """

    size: int
    busy: int
    queued: int
    abandoned: int
    abandoned_total: int


class WorkerJob(Future[T]):
    """One call handed to ``StepWorkers``; a ``Future`` of its result."""

    def __init__(self, workers: StepWorkers, call: Callable[[], T]) -> None:
        super().__init__()
        self._workers = workers
        self._call = call
        self._thread: threading.Thread | None = None
        self._abandoned = False

    def abandon(self) -> None:
        """Its attempt timed out: its thread stops counting against ``size`` (later calls do nothing)."""
        self._workers._abandon(self)

    def cancel(self) -> bool:
        """Cancel the call if it has not started; if it runs, abandon it (nobody waits for it any more)."""
        if super().cancel():
            return True
        if self.running():
            self.abandon()
        return False


class WorkerCall:
    """One call queued with ``StepWorkers.start``: like a ``WorkerJob``, without a future's cost."""

    __slots__ = ("_abandoned", "_call", "_finished", "_thread", "_workers")

    def __init__(self, workers: StepWorkers, call: Callable[[], None]) -> None:
        self._workers = workers
        self._call = call
        self._thread: threading.Thread | None = None
        self._abandoned = False
        self._finished = False

    def done(self) -> bool:
        """Whether the call has returned."""
        return self._finished

    def abandon(self) -> None:
        """Its attempt timed out: its thread stops counting against ``size`` (later calls do nothing)."""
        self._workers._abandon(self)


class StepWorkers(Executor):
    """At most ``size`` threads running live calls, plus up to ``max_abandoned`` stuck ones replaced."""

    def __init__(self, size: int, *, max_abandoned: int, name_prefix: str) -> None:
        if size < 1 or max_abandoned < 0:
            raise ValueError(f"need size >= 1 and max_abandoned >= 0, got {size} and {max_abandoned}")
        self._size = size
        self._max_abandoned = max_abandoned
        self._prefix = name_prefix
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[WorkerJob[Any] | WorkerCall] = deque()
        self._live = 0  # threads not abandoned: idle or running a live call
        self._idle = 0
        self._abandoned = 0
        self._abandoned_total = 0
        self._over_limit = False
        self._stopped = False
        self._serial = 0

    # -- Executor ----------------------------------------------------------------------------------

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> WorkerJob[T]:
        """Queue ``fn(*args, **kwargs)``; a thread picks it up as soon as one is free.

        Raises:
            WorkersStoppedError: after ``stop()``.
        """
        job = WorkerJob(self, functools.partial(fn, *args, **kwargs))
        self._enqueue(job)
        return job

    def _enqueue(self, job: WorkerJob[Any] | WorkerCall) -> None:
        with self._cond:
            if self._stopped:
                raise WorkersStoppedError(
                    "the engine has stopped, so its worker threads take no new `def` calls; start an engine "
                    "(or keep this one running) for as long as it has runs to finish"
                )
            self._queue.append(job)
            if getattr(_serving, "pool", None) is self and not _serving.claimed:
                # Queued by one of our threads while its own call ends (a `def` step answered from its
                # worker and the engine asked for the next): that thread takes it next, with no
                # wake-up. Only the first one: more would run one after another instead of together.
                _serving.claimed = True
                return
            if self._idle > len(self._queue) - 1:
                self._cond.notify()
            else:
                self._spawn_if_room()

    def start(self, call: Callable[[], None]) -> WorkerCall:
        """Queue ``call`` without a ``Future``: the kernel's way, which needs no result back.

        ``call`` must handle its own errors (one that escapes is logged).

        Raises:
            WorkersStoppedError: after ``stop()``.
        """
        job = WorkerCall(self, call)
        self._enqueue(job)
        return job

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """``stop()``; ``wait`` is ignored, since a running ``def`` call cannot be waited out safely."""
        if cancel_futures:
            with self._cond:
                queued, self._queue = list(self._queue), deque()
            for job in queued:
                if isinstance(job, WorkerJob):
                    job.cancel()
        self.stop()

    # -- own API -----------------------------------------------------------------------------------

    def stop(self, settle_s: float = 0.0) -> None:
        """Refuse new calls; queued calls still run, idle threads end, running calls run on unseen.

        With ``settle_s``, wait up to that long for the threads that are not abandoned to leave. An
        engine stops once no run is in flight, when such a thread can only be finishing the tail of
        a call whose run has ended (handing its answer to Java, acting on the run's end); waiting
        for it means nothing of the engine is still in use once ``stop`` returns. A thread never
        waits for itself.
        """
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            if settle_s <= 0 or getattr(_serving, "pool", None) is self:
                return
            self._cond.wait_for(lambda: self._live <= 0, timeout=settle_s)

    def stats(self) -> WorkerStats:
        """Threads busy, calls queued and threads abandoned, right now."""
        with self._cond:
            return WorkerStats(
                size=self._size,
                busy=self._live - self._idle,
                queued=len(self._queue),
                abandoned=self._abandoned,
                abandoned_total=self._abandoned_total,
            )

    # -- internals ---------------------------------------------------------------------------------

    def _capacity(self) -> int:
        """Live threads allowed: ``size``, less every stuck thread beyond ``max_abandoned``."""
        return self._size - max(0, self._abandoned - self._max_abandoned)

    def _spawn_if_room(self) -> None:
        if self._live >= self._capacity():
            return
        self._live += 1
        self._serial += 1
        _reservoir.lend(self._work, f"{self._prefix}-{self._serial}")

    def _abandon(self, job: WorkerJob[Any] | WorkerCall) -> None:
        with self._cond:
            if job._abandoned or job.done():
                return
            job._abandoned = True
            thread = job._thread
            if thread is None:
                return  # still queued: the thread that picks it up counts as abandoned from the start
            self._count_abandoned(thread)

    def _count_abandoned(self, thread: threading.Thread) -> None:
        """Move ``thread`` from live to abandoned and replace it if the limit allows (lock held)."""
        self._live -= 1
        self._abandoned += 1
        self._abandoned_total += 1
        log.warning(
            "thread %s is stuck in a `def` call the engine timed out; it is abandoned and runs on unseen "
            "(%d abandoned now, at most %d replaced)",
            thread.name,
            self._abandoned,
            self._max_abandoned,
        )
        if self._abandoned > self._max_abandoned and not self._over_limit:
            self._over_limit = True
            log.error(
                "%d threads are stuck in timed-out `def` calls, more than max_abandoned_threads=%d: no more "
                "are replaced, so the engine now runs `def` steps on %d of its %d threads. Make the hanging "
                "calls return (give their I/O a timeout) or raise FIREFLYTX_MAX_ABANDONED_THREADS.",
                self._abandoned,
                self._max_abandoned,
                max(0, self._capacity()),
                self._size,
            )
        if self._queue and not self._stopped:
            self._spawn_if_room()
        if self._stopped:
            self._cond.notify_all()  # stop() may be waiting for the live threads to leave

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if not self._queue or self._live > self._capacity():
                    self._live -= 1
                    if self._stopped:
                        self._cond.notify_all()  # stop() may be waiting for the live threads to leave
                    return
                job = self._queue.popleft()
                job._thread = me
                if job._abandoned:
                    self._count_abandoned(me)
            if isinstance(job, WorkerCall):
                _serving.pool, _serving.claimed = self, False
                try:
                    job._call()
                except BaseException:  # noqa: BLE001 - logged: the thread must go on serving
                    log.exception("a `def` call raised past fireflytx's own handling")
                _serving.pool = None
                job._finished = True
            elif job.set_running_or_notify_cancel():
                try:
                    result = job._call()
                except BaseException as exc:  # noqa: BLE001 - the job's future carries it
                    job.set_exception(exc)
                else:
                    job.set_result(result)
            job._call = _spent
            if not job._abandoned:  # set under the lock, and only while the call had not finished
                continue
            with self._cond:
                if job._abandoned:
                    # The stuck call came back at last: this thread leaves, its replacement stays.
                    self._abandoned -= 1
                    if self._abandoned <= self._max_abandoned:
                        self._over_limit = False
                    if self._queue and not self._stopped:
                        self._spawn_if_room()
                    return


_serving = threading.local()
"""The pool a worker thread is running a call for now, and whether it claimed a queued call."""


def _spent() -> None:
    """Stands in for a job's call once made, so its arguments can be collected."""


class _Kept:
    """One daemon thread of the reservoir: it serves one engine's workers at a time, for its whole life."""

    def __init__(self, reservoir: _Reservoir) -> None:
        self._reservoir = reservoir
        self._inbox: queue.SimpleQueue[tuple[Callable[[], None], str]] = queue.SimpleQueue()
        self.thread = start_daemon(self._serve, "fireflytx-kept")

    def give(self, work: Callable[[], None], name: str) -> None:
        self._inbox.put((work, name))

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            work, me.name = self._inbox.get()
            try:
                work()
            except BaseException:  # noqa: BLE001 - logged: the thread must go back to the reservoir
                log.exception("a fireflytx worker thread failed outside any call")
            me.name = "fireflytx-kept"
            self._reservoir.take_back(self)


class _Reservoir:
    """The process's idle worker threads; new ones are made only when none is idle."""

    def __init__(self) -> None:
        self._idle: list[_Kept] = []
        self._lock = threading.Lock()

    def lend(self, work: Callable[[], None], name: str) -> None:
        with self._lock:
            kept = self._idle.pop() if self._idle else None
        if kept is None:
            kept = _Kept(self)
        kept.give(work, name)

    def take_back(self, kept: _Kept) -> None:
        with self._lock:
            self._idle.append(kept)


_reservoir = _Reservoir()


class LoopThread:
    """An event loop running on a thread of its own, lent to one engine at a time (for ``execute_sync``).

    ``release`` hands the loop back instead of stopping it: runs a stopped engine left in flight
    finish on it, and the next engine that needs a private loop gets it.
    """

    _idle: list[LoopThread] = []
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = start_daemon(self.loop.run_forever, "fireflytx-sync-loop")

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
