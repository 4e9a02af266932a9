"""What every fireflytx engine shares: start and stop, runs in flight, the blocking API.

``SagaEngine`` and ``TccEngine`` differ in what they run; how they start, stop, count runs in
flight, check run arguments and serve ``execute_sync`` is the same and lives here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

from pydantic import ValidationError

from . import _gc_pacing
from ._core import _logctx
from ._core._intercept import Interceptor
from ._core._listeners import Listeners
from ._core._maker import positional_maker
from ._core._run import RunBase, RunStart
from ._ids import new_correlation_id
from ._limits import text_problems
from ._persistence._durable import StoreJournal
from ._recovery import DurableRuns
from ._slots import Slots
from ._threads import in_thread
from ._values import convert_to
from ._wakeful import WakeGuard
from ._workers import LoopThread, StepWorkers, WorkerStats
from .config import FireflyTxSettings
from .errors import EngineFullError, EngineNotStartedError, FireflyTxError, InputValidationError

if TYPE_CHECKING:
    from ._bridge._protocol import EngineBridge
    from ._persistence._durable import Durability

__all__ = ["EngineBase", "check_headers", "convert_inputs", "correlation_id_or_new", "nested_launch"]

_SETTLE_S = 2.0
"""How long releasing an idle engine waits for worker threads still finishing the tail of a call.

No run is in flight then, so such a thread is only handing a finished run's last answer to Java;
it takes microseconds, and the bound only keeps a wedged JVM call from holding ``stop`` forever."""

T = TypeVar("T")
R = TypeVar("R", bound=RunBase)
_log = logging.getLogger("fireflytx.engine")

_NESTED: ContextVar[object | None] = ContextVar("fireflytx_nested_launch", default=None)
"""The engine whose run the current task is starting from inside another of its runs (a sub-saga)."""


@contextmanager
def nested_launch(engine: object) -> Iterator[None]:
    """Start a run of ``engine`` from inside one of its runs: in that run's slot, even while stopping.

    A nested run waiting for a slot its own parent holds would wait for ever, and its parent,
    being in flight, keeps the engine's threads up while the engine stops.
    """
    token = _NESTED.set(engine)
    try:
        yield
    finally:
        _NESTED.reset(token)


_new_run_start = positional_maker(
    RunStart, "correlation_id headers tx_input converted_inputs loop workers listeners interceptors replay"
)


def correlation_id_or_new(value: str | None) -> str:
    """The given correlation id after checking it, or a new one (UUID-shaped, see ``_ids``)."""
    if value is None:
        return new_correlation_id()
    # A non-empty str that UTF-8 can encode, as every id that crosses to Java must be.
    problems = text_problems(value, "correlation_id", "order-42")
    if problems:
        raise ValueError(problems[0])
    if "|" in value:
        raise ValueError(
            f"correlation_id must not contain '|' (the engine's state stores split on it): {value!r}"
        )
    return value


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``headers``, which must map str to str."""
    if headers is None:
        return {}
    bad = [k for k, v in headers.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise TypeError(f"headers must map str to str; fix the entries for {bad!r}")
    return dict(headers)


def convert_inputs(
    name: str,
    targets: Iterable[tuple[str, Any]],
    value: Any,
    kind: str = "saga",
    own: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Convert the input once per annotated type, before anything runs.

    ``targets`` pairs each step or participant id whose input parameter is a model or dataclass
    (``ParamPlan.converted``) with that type; ``own`` gives some ids an input of their own instead of
    ``value`` (a TCC participant's part). The result maps each id with an input of its own, or
    among ``targets``, to its (converted) input; the others take ``value`` as it is.

    Raises:
        InputValidationError: an input does not fit its type.
    """
    converted: dict[str, Any] = dict(own) if own else {}
    by_type: dict[Any, Any] = {}
    for target_id, annotation in targets:
        mine = own is not None and target_id in own
        if mine or annotation not in by_type:
            try:
                done = convert_to(annotation, own[target_id] if mine else value)  # type: ignore[index]
            except (ValidationError, TypeError, ValueError) as exc:
                raise InputValidationError(name, target_id, annotation.__name__, str(exc), kind=kind) from exc
            if mine:
                converted[target_id] = done
                continue
            by_type[annotation] = done
        converted[target_id] = by_type[annotation]
    return converted


class EngineBase(DurableRuns):
    """Lifecycle, listeners and run bookkeeping of an engine; subclasses make their bridge and runs.

    Runs in flight are counted under a lock (``Slots``), because ``execute_sync`` runs live on a
    private loop thread while ``shutdown`` may be awaited on another loop; with ``max_in_flight``
    the same count admits runs, and callers beyond it wait in one line. Stopping closes the door
    first: a run already in flight keeps the engine's worker threads and loop until it ends.
    """

    _thread_prefix = "fireflytx-step"
    _kind: str
    """``"saga"`` or ``"tcc"``: what this engine runs, and so which stored transactions it recovers."""

    def __init__(
        self,
        settings: FireflyTxSettings | None,
        listeners: Iterable[Any] = (),
        max_in_flight: int | None = None,
        when_full: Literal["wait", "fail"] | None = None,
    ) -> None:
        self.settings = settings or FireflyTxSettings()
        if max_in_flight is not None and (
            isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1
        ):
            raise ValueError(f"max_in_flight must be an int >= 1 (None: unbounded), got {max_in_flight!r}")
        if when_full not in (None, "wait", "fail"):
            raise ValueError(f"when_full must be 'wait' or 'fail', got {when_full!r}")
        self.max_in_flight: int | None = max_in_flight or self.settings.max_in_flight
        """Runs this engine has in flight at most (None: unbounded)."""
        self.when_full: Literal["wait", "fail"] = when_full or self.settings.when_full
        """What ``execute`` does while ``max_in_flight`` runs are in flight: ``wait`` or ``fail``."""
        self._slots = Slots(self.max_in_flight)
        self._wake_guard = WakeGuard(lambda: self._slots.in_flight > 0)
        _logctx.install()
        self._listeners = Listeners(type(self).__name__)
        self._listeners.add(listeners)
        if self.settings.events.publisher != "none":
            from .events._settings import observer_from_settings

            self._listeners.add([observer_from_settings(self.settings.events)])
        self._bridge: EngineBridge | None = None
        self._executor: StepWorkers | None = None
        self._sync_loop: LoopThread | None = None
        self._gc_held = False
        """This engine raised Python's young collection threshold while it runs (see ``_gc_pacing``)."""
        self._accepting = False
        self._runs: set[RunBase] = set()
        self._lock = threading.Lock()
        self._interceptors: tuple[Interceptor, ...] = ()
        self._transactions: dict[str, int] = {}
        """Name of each transaction registered or run here, to the number of runs started."""
        self._specs: dict[str, Any] = {}
        """Registered definitions by name: what recovery can resume."""
        self._durability: Durability | None = None
        self._background: set[concurrent.futures.Future[None]] = set()
        if self.settings.persistence.durable:
            self._listeners.add([StoreJournal(self._durable)])

    def _make_bridge(self) -> Any:
        raise NotImplementedError

    @property
    def is_running(self) -> bool:
        """Whether the engine accepts new runs (started, and not stopped or shutting down)."""
        return self._accepting

    @property
    def runs_in_flight(self) -> int:
        """How many runs have started and not yet ended."""
        return self._slots.in_flight

    @property
    def _in_flight(self) -> int:
        return self._slots.in_flight

    @property
    def waiting(self) -> int:
        """How many callers wait for a slot now (``max_in_flight`` runs are in flight)."""
        return self._slots.waiting

    @property
    def rejected(self) -> int:
        """How many runs were refused with ``EngineFullError`` (``when_full="fail"``) so far."""
        return self._slots.rejected

    def add_listener(self, listener: Any) -> None:
        """Add an observer (``on_event``) or a journal (``async record``); see ``fireflytx.listeners``.

        Raises:
            TypeError: ``listener`` is neither.
        """
        self._listeners.add([listener])

    @property
    def listener_errors(self) -> int:
        """How many times an observer raised (each was logged; no run was affected)."""
        return self._listeners.observer_errors

    @property
    def listener_dropped(self) -> int:
        """How many run events were dropped because observers fell too far behind."""
        return self._listeners.dropped

    def flush_listeners(self, timeout: float | None = None) -> bool:
        """Wait until observers have received every event so far; False if ``timeout`` ran out."""
        return self._listeners.flush(timeout)

    def _add_interceptor(self, interceptor: Interceptor) -> None:
        """Consult ``interceptor`` before every attempt of runs started from now on.

        Internal: ``fireflytx.testing`` registers its fault injection and fast backoff here.
        """
        with self._lock:
            self._interceptors = (*self._interceptors, interceptor)

    def _remove_interceptor(self, interceptor: Interceptor) -> None:
        """Stop consulting ``interceptor`` (runs already started keep it until they end)."""
        with self._lock:
            self._interceptors = tuple(i for i in self._interceptors if i is not interceptor)

    def start(self) -> Self:
        """Start the engine (and the JVM, the first time in this process); blocking."""
        with self._lock:
            if self._bridge is not None:
                self._accepting = True
                self._slots.open()
                return self
            from ._bridge import _jvm

            _jvm.ensure_started(self.settings)
            executor = StepWorkers(
                self.settings.sync_step_threads,
                max_abandoned=self.settings.max_abandoned_threads,
                name_prefix=self._thread_prefix,
            )
            try:
                self._bridge = self._make_bridge()
                self._gc_held = _gc_pacing.hold(self.settings.python_gc_threshold)
                if self.settings.persistence.durable:
                    from ._persistence._durable import Durability

                    self._durability = Durability(self.settings.persistence)
            except BaseException:
                executor.stop()
                self._bridge = None
                if self._gc_held:
                    self._gc_held = False
                    _gc_pacing.release()
                raise
            self._executor = executor
            self._accepting = True
            self._slots.open()
            names = list(self._specs)
        if self.settings.persistence.recover_on_start:
            for name in names:
                self._sweep_in_background(name)
        return self

    async def initialize(self) -> Self:
        """Start the engine; the first start in a process also starts the JVM (about half a second).

        The blocking part (finding Java, fetching jars on a first run, starting the JVM) runs on a
        worker thread, so the event loop's other tasks keep running meanwhile.
        """
        if self._bridge is not None:
            return self
        return await in_thread(self.start, "fireflytx-engine-start")

    async def shutdown(self, timeout: float | None = None) -> None:
        """Stop accepting runs, wait for those in flight, then release the engine's threads.

        Waits for runs started from any thread (``execute`` on any loop, ``execute_sync``). After
        ``timeout`` seconds, runs still in flight are cancelled as if their callers had cancelled
        them: they start no new steps and undo what completed; ``shutdown`` waits for that too,
        then returns. Callers still waiting for a slot get ``EngineNotStartedError`` at once. The
        JVM stays up for later engines.
        """
        with self._lock:
            self._accepting = False
        self._slots.close(self._not_running)
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.001
        while self._in_flight:
            if deadline is not None and time.monotonic() >= deadline:
                self._cancel_in_flight()
                deadline = None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        durability = self._durability
        if durability is not None:
            try:
                await durability.close_here()
            except Exception:  # closing is best effort: the engine stops regardless
                _log.exception("closing the transaction store's connections on this event loop failed")
        self._release_if_idle()

    def stop(self) -> None:
        """Stop accepting runs now, without waiting.

        Runs already in flight go on to their normal end, with the worker threads and loop they
        need; the engine releases those when the last one ends. Callers still waiting for a slot
        get ``EngineNotStartedError`` at once.
        """
        with self._lock:
            self._accepting = False
        self._slots.close(self._not_running)
        self._release_if_idle()

    def _cancel_in_flight(self) -> None:
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            try:
                run.loop.call_soon_threadsafe(run.cancel)
            except RuntimeError:  # its loop is closed: the run cannot still be going
                pass

    def _release_if_idle(self) -> None:
        with self._lock:
            if self._accepting or self._in_flight or self._bridge is None:
                return
            self._bridge = None
            executor, self._executor = self._executor, None
            sync_loop, self._sync_loop = self._sync_loop, None
            held, self._gc_held = self._gc_held, False
        if held:
            _gc_pacing.release()
        if executor is not None:
            executor.stop(settle_s=_SETTLE_S)
        if sync_loop is not None:
            sync_loop.release()
        self._listeners.close(timeout=self.settings.events.close_timeout_s)
        durability, self._durability = self._durability, None
        if durability is not None:
            durability.close()

    async def __aenter__(self) -> Self:
        return await self.initialize()

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def state(self) -> str:
        """``running``, ``stopping`` (refusing runs, some still in flight) or ``stopped``."""
        if self._accepting:
            return "running"
        return "stopping" if self._in_flight else "stopped"

    def __repr__(self) -> str:
        slots = self._slots
        if slots.limit is None:
            return f"<{type(self).__name__} {self.state}, {slots.in_flight} runs in flight>"
        return (
            f"<{type(self).__name__} {self.state}, {slots.in_flight}/{slots.limit} runs in flight, "
            f"{slots.waiting} waiting>"
        )

    def _repr_html_(self) -> str:
        from ._engine_view import Admission, engine_html

        with self._lock:
            transactions = dict(self._transactions)
            runs = list(self._runs)
        slots = self._slots
        admission = Admission(slots.limit, self.when_full, slots.waiting, slots.rejected)
        return engine_html(
            type(self).__name__, self.state, transactions, runs, len(self._interceptors), admission
        )

    def _not_running(self) -> EngineNotStartedError:
        name = type(self).__name__
        return EngineNotStartedError(
            f"the {name} is not running: use `async with {name}() as engine:` or "
            f"`await engine.initialize()` in async code, `with {name}() as engine:` or "
            "`engine.start()` in plain scripts"
        )

    def worker_stats(self) -> WorkerStats | None:
        """The threads running this engine's ``def`` steps now (None while it is not running).

        ``abandoned`` counts threads still stuck in calls the engine timed out; see
        ``FireflyTxSettings.max_abandoned_threads``.
        """
        executor = self._executor
        return executor.stats() if executor is not None else None

    def _running(self) -> tuple[Any, StepWorkers]:
        """The bridge and worker threads of the running engine.

        A sub-saga's child starts while the engine is stopping too: its parent is in flight.
        """
        bridge, executor = self._bridge, self._executor
        if bridge is None or executor is None or not (self._accepting or _NESTED.get() is self):
            raise self._not_running()
        return bridge, executor

    def _run_start(
        self,
        name: str,
        targets: Iterable[tuple[str, Any]],
        value: Any,
        correlation_id: str | None,
        headers: Mapping[str, str] | None,
        kind: str,
        replay: Mapping[str, tuple[Any, BaseException | None]] | None = None,
        own: Mapping[str, Any] | None = None,
    ) -> tuple[Any, RunStart]:
        """Check a run's arguments and gather what every run starts with; returns the bridge too.

        ``targets`` pairs each step or participant id whose input is converted with its type (see
        ``convert_inputs``); ``own`` gives some ids an input of their own instead of ``value``.
        """
        bridge, workers = self._running()
        start = _new_run_start(
            correlation_id_or_new(correlation_id),
            check_headers(headers),
            value,
            convert_inputs(name, targets, value, kind=kind, own=own),
            asyncio.get_running_loop(),
            workers,
            self._listeners,
            self._interceptors,
            replay,
        )
        return bridge, start

    async def _execute(
        self,
        start: RunStart,
        make_run: Callable[[], R],
        begin: Callable[[R], asyncio.Future[None]],
        bridge: Any,
    ) -> Any:
        """Admit a run (waiting for a slot if need be), build it, and run it to its result.

        The run is built only once admitted, so a caller in line holds no run, and its timings
        start when it really starts. Recovered runs always wait: they are work the engine owes,
        not new requests to refuse. See ``_core._run`` on cancellation.

        Raises:
            EngineFullError: ``max_in_flight`` runs are in flight and ``when_full`` is ``fail``.
            EngineNotStartedError: the engine stopped (before, or while this waited for a slot).
            asyncio.CancelledError: the caller was cancelled; raised once the run has undone its work
                (or at once, holding nothing, if it was still waiting for a slot), saying how the run
                ended.
            JournalError: a journal refused the run's start (nothing ran) or its end.
            JavaExecutionError: the engine failed outside any step.
        """
        slots = self._slots
        wait = self.when_full == "wait" or start.replay is not None
        held = _NESTED.get() is not self  # a sub-saga's child runs in its parent's slot
        if held:
            await slots.acquire(wait, self._full, self._not_running)
        self._wake_guard.keep_awake(start.loop)
        run: R | None = None
        try:
            run = make_run()
            with self._lock:
                self._runs.add(run)
                self._transactions[run.name] = self._transactions.get(run.name, 0) + 1
            if self._durability is None:  # the common case, one coroutine fewer to pass through
                return await self._drive_run(run, begin, bridge)
            return await self._drive_durably(run, begin, bridge, self._durability)
        finally:
            if run is not None:
                with self._lock:
                    self._runs.discard(run)
            if held:
                slots.release()
            if not slots.in_flight and not self._accepting:
                self._release_if_idle()

    def _full(self) -> EngineFullError:
        assert self.max_in_flight is not None
        return EngineFullError(type(self).__name__, self.max_in_flight)

    async def _drive_durably(
        self, run: R, begin: Callable[[R], asyncio.Future[None]], bridge: Any, durability: Durability
    ) -> Any:
        if run.replay is None:
            earlier = await self._begin_durably(run, durability)
            if earlier is not None:
                return earlier
        try:
            return await self._drive_run(run, begin, bridge)
        except BaseException:
            # It did not reach its end here (the engine failed, the process is exiting): recovery
            # finishes it from its checkpoints.
            await durability.give_up(run.correlation_id)
            raise

    async def _drive_run(self, run: R, begin: Callable[[R], asyncio.Future[None]], bridge: Any) -> Any:
        listeners = self._listeners
        if listeners.journals:
            await listeners.checkpoint(run.started_event())
        elif listeners.active:
            listeners.emit(run.started_event())
        if _NESTED.get() is not None:
            # Admitted: what this run's own steps start (they inherit this context) is no nested launch.
            _NESTED.set(None)
        done = begin(run)
        cancelled = False
        try:
            await done
        except asyncio.CancelledError:
            cancelled = True
            run.cancel()
            await _outlast(run)
        mapped = bridge.error_of(run, run.engine_error)
        if mapped is not None:
            raise mapped
        run.release_frames()
        if run.disowned is not None:
            # This process stopped running it (see RunBase.journal_failed): its end here is not the
            # transaction's end, so nothing is recorded and the caller learns why.
            raise run.disowned
        result = run.result()
        if listeners.active:
            finished = run.finished_event(result)
            if listeners.journals:
                await listeners.checkpoint(finished)
            else:
                listeners.emit(finished)
        if run.process_exit is not None:
            raise run.process_exit
        if cancelled:
            # The caller learns how the transaction ended: a cancellation that came after a TCC decided
            # to confirm, or after a saga's last step, changed nothing.
            raise asyncio.CancelledError(
                f"the caller cancelled {run.kind.value} {run.name!r} ({run.correlation_id}); "
                f"it ended {result.status}"
            )
        return result

    def _blocking(self, make_run: Callable[[], Awaitable[T]]) -> T:
        """Run ``make_run()`` to its end on the engine's private loop (for ``execute_sync``).

        Raises:
            FireflyTxError: called from inside a running event loop, which it would block.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise FireflyTxError(
                "execute_sync() was called inside a running event loop, where it would block that loop; "
                "use `await engine.execute(...)` instead"
            )
        self._running()
        with self._lock:
            if self._sync_loop is None:
                self._sync_loop = LoopThread.acquire()
            loop = self._sync_loop.loop

        async def run() -> tuple[T | None, BaseException | None]:
            # KeyboardInterrupt or SystemExit raised by a step must reach this caller, not escape
            # the private loop's thread (which would stop the loop and leave this call waiting).
            try:
                return await make_run(), None
            except (KeyboardInterrupt, SystemExit) as exc:
                return None, exc

        value, exit_error = asyncio.run_coroutine_threadsafe(run(), loop).result()
        if exit_error is not None:
            raise exit_error
        return value  # type: ignore[return-value]


async def _outlast(run: RunBase) -> None:
    """Wait for the engine's end of ``run``, even if the waiting task is cancelled again.

    Undoing what completed must not be cut short.
    """
    while not run.ended:
        try:
            await run.until_ended()
        except asyncio.CancelledError:
            continue
