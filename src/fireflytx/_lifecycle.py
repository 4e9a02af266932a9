"""What every fireflytx engine shares: start and stop, runs in flight, the blocking API.

``SagaEngine`` and ``TccEngine`` differ in what they run; how they start, stop, count runs in
flight, check run arguments and serve ``execute_sync`` is the same and lives here.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Self, TypeVar

from pydantic import ValidationError

from ._values import convert_to, needs_conversion
from ._workers import StepWorkers, WorkerStats
from .config import FireflyTxSettings
from .errors import EngineNotStartedError, FireflyTxError, InputValidationError

__all__ = ["EngineBase", "check_headers", "convert_inputs", "correlation_id_or_new"]

T = TypeVar("T")


class _LoopThread:
    """A private event loop on a Python thread, for ``execute_sync``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fireflytx-sync-loop", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def correlation_id_or_new(value: str | None) -> str:
    """The given correlation id after checking it, or a new UUID."""
    if value is None:
        return str(uuid.uuid4())
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"correlation_id must be a non-empty str, got {value!r}")
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
    name: str, targets: Iterable[tuple[str, Any]], value: Any, kind: str = "saga"
) -> dict[str, Any]:
    """Convert the input once per annotated type, before anything runs.

    ``targets`` pairs each step or participant id with the annotation of its input parameter;
    the result maps the ids whose annotation is a model or dataclass to the converted input.

    Raises:
        InputValidationError: the input does not fit one of the types.
    """
    converted: dict[str, Any] = {}
    by_type: dict[Any, Any] = {}
    for target_id, annotation in targets:
        if not needs_conversion(annotation):
            continue
        if annotation not in by_type:
            try:
                by_type[annotation] = convert_to(annotation, value)
            except (ValidationError, TypeError, ValueError) as exc:
                raise InputValidationError(name, target_id, annotation.__name__, str(exc), kind=kind) from exc
        converted[target_id] = by_type[annotation]
    return converted


class EngineBase:
    """Lifecycle and run bookkeeping of an engine; subclasses make their bridge."""

    _thread_prefix = "fireflytx-step"

    def __init__(self, settings: FireflyTxSettings | None) -> None:
        self.settings = settings or FireflyTxSettings()
        self._bridge: Any = None
        self._executor: StepWorkers | None = None
        self._sync_loop: _LoopThread | None = None
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        self._lock = threading.Lock()

    def _make_bridge(self) -> Any:
        raise NotImplementedError

    @property
    def is_running(self) -> bool:
        """Whether the engine has been initialised and not shut down."""
        return self._bridge is not None

    def start(self) -> Self:
        """Start the engine (and the JVM, the first time in this process); blocking."""
        with self._lock:
            if self._bridge is not None:
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
            except BaseException:
                executor.stop()
                raise
            self._executor = executor
        return self

    async def initialize(self) -> Self:
        """Start the engine; the first start in a process also starts the JVM (about half a second).

        The blocking part (finding Java, fetching jars on a first run, starting the JVM) runs on a
        worker thread, so the event loop's other tasks keep running meanwhile.
        """
        if self._bridge is not None:
            return self
        return await asyncio.to_thread(self.start)

    async def shutdown(self) -> None:
        """Wait for runs in flight, then stop; the JVM stays for later engines.

        Runs must be on the loop calling ``shutdown`` (runs of ``execute_sync`` finish before it
        returns anyway).
        """
        while self._in_flight:
            self._idle = asyncio.Event()
            await self._idle.wait()
        self.stop()

    def stop(self) -> None:
        """Stop the engine now; runs still in flight are left to finish on their own."""
        with self._lock:
            self._bridge = None
            if self._executor is not None:
                self._executor.stop()
                self._executor = None
            if self._sync_loop is not None:
                self._sync_loop.stop()
                self._sync_loop = None

    async def __aenter__(self) -> Self:
        return await self.initialize()

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def worker_stats(self) -> WorkerStats | None:
        """The threads running this engine's ``def`` steps now (None while it is not running).

        ``abandoned`` counts threads still stuck in calls the engine timed out; see
        ``FireflyTxSettings.max_abandoned_threads``.
        """
        executor = self._executor
        return executor.stats() if executor is not None else None

    def _running(self) -> tuple[Any, StepWorkers]:
        """The bridge and worker threads of the running engine."""
        bridge, executor = self._bridge, self._executor
        if bridge is None or executor is None:
            name = type(self).__name__
            raise EngineNotStartedError(
                f"the {name} is not running: use `async with {name}() as engine:` or call "
                "`await engine.initialize()` first"
            )
        return bridge, executor

    async def _tracked(self, run: Awaitable[T]) -> T:
        """Await ``run`` counted as in flight, so ``shutdown`` waits for it."""
        self._in_flight += 1
        try:
            return await run
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.set()

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
                self._sync_loop = _LoopThread()
            loop = self._sync_loop.loop

        async def run() -> T:
            return await make_run()

        return asyncio.run_coroutine_threadsafe(run(), loop).result()
