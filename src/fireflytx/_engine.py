"""``SagaEngine``: runs ``@saga`` classes on the Firefly engine inside this process.

Threads: ``execute`` must be awaited on an event loop; ``async def`` steps run as tasks on that
loop, plain ``def`` steps on the engine's worker threads, and the engine's own timers on
Python-owned timer threads. Nothing a step does blocks the loop unless the step itself blocks in
``async def`` code. ``execute_sync`` runs the same thing from plain scripts on a private loop.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError

from ._definition import SagaSpec, definition_of
from ._results import SagaResult
from ._runtime import SagaRun
from ._values import convert_to, needs_conversion
from .config import CompensationPolicy, FireflyTxSettings
from .errors import EngineNotStartedError, FireflyTxError, InputValidationError

__all__ = ["SagaEngine"]


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


def _check_correlation_id(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"correlation_id must be a non-empty str, got {value!r}")
    if "|" in value:
        raise ValueError(
            f"correlation_id must not contain '|' (the engine's state stores split on it): {value!r}"
        )
    return value


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    if headers is None:
        return {}
    bad = [k for k, v in headers.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise TypeError(f"headers must map str to str; fix the entries for {bad!r}")
    return dict(headers)


class SagaEngine:
    """Executes sagas; start it with ``async with SagaEngine() as engine`` (or ``initialize()``).

    One engine can run many sagas at once. The JVM it starts is shared by every engine of the
    process and stays up after ``shutdown()``; engines themselves can start and stop repeatedly.

    Args:
        settings: Configuration; default ``FireflyTxSettings()`` (environment variables apply).
        compensation_policy: Overrides ``settings.compensation_policy`` for this engine.
    """

    def __init__(
        self,
        settings: FireflyTxSettings | None = None,
        *,
        compensation_policy: CompensationPolicy | str | None = None,
    ) -> None:
        self.settings = settings or FireflyTxSettings()
        self.compensation_policy = CompensationPolicy(
            compensation_policy or self.settings.compensation_policy
        )
        self._bridge: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._sync_loop: _LoopThread | None = None
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        """Whether the engine has been initialised and not shut down."""
        return self._bridge is not None

    def start(self) -> SagaEngine:
        """Start the engine (and the JVM, the first time in this process); blocking."""
        with self._lock:
            if self._bridge is not None:
                return self
            from ._bridge import _jvm
            from ._bridge._saga import SagaBridge

            _jvm.ensure_started(self.settings)
            self._executor = ThreadPoolExecutor(
                max_workers=self.settings.sync_step_threads, thread_name_prefix="fireflytx-step"
            )
            self._bridge = SagaBridge(self.compensation_policy)
        return self

    async def initialize(self) -> SagaEngine:
        """Start the engine; the first start in a process also starts the JVM (about half a second)."""
        return self.start()

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
                self._executor.shutdown(wait=False)
                self._executor = None
            if self._sync_loop is not None:
                self._sync_loop.stop()
                self._sync_loop = None

    async def __aenter__(self) -> SagaEngine:
        return await self.initialize()

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    def __enter__(self) -> SagaEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- running -------------------------------------------------------------------------------

    def register(self, saga: Any) -> SagaSpec:
        """Check a saga class and translate it for the engine now, instead of at its first run.

        Raises:
            DefinitionError: the class is not a valid saga.
            EngineNotStartedError: the engine is not running.
        """
        spec = definition_of(saga)
        self._running_bridge().register(spec)
        return spec

    def _running_bridge(self) -> Any:
        bridge = self._bridge
        if bridge is None:
            raise EngineNotStartedError(
                "the SagaEngine is not running: use `async with SagaEngine() as engine:` or call "
                "`await engine.initialize()` first"
            )
        return bridge

    async def execute(
        self,
        saga: Any,
        input: Any = None,
        *,
        correlation_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        compensation_policy: CompensationPolicy | str | None = None,
    ) -> SagaResult:
        """Run a saga to its end and return what happened.

        A failing step does not raise: the result says which step failed and what was compensated
        (``result.raise_for_status()`` turns that into an exception).

        Args:
            saga: A ``@saga`` class (instantiated without arguments for each run) or an instance.
            input: The saga input, given to each step's first parameter.
            correlation_id: Id of this run (default: a new UUID).
            headers: String headers readable through ``SagaContext.get_header``.
            compensation_policy: Overrides the saga's and the engine's policy for this run.

        Raises:
            DefinitionError: ``saga`` is not a valid saga class.
            InputValidationError: ``input`` does not fit a step's annotated input type.
            EngineNotStartedError: the engine is not running.
            JavaExecutionError: the engine failed outside any step.
        """
        spec = definition_of(saga)
        bridge = self._running_bridge()
        executor = self._executor
        assert executor is not None
        run = SagaRun(
            spec,
            saga() if isinstance(saga, type) else saga,
            input,
            _convert_inputs(spec, input),
            _check_correlation_id(correlation_id) if correlation_id is not None else str(uuid.uuid4()),
            _check_headers(headers),
            asyncio.get_running_loop(),
            executor,
        )
        policy = CompensationPolicy(compensation_policy) if compensation_policy is not None else None
        self._in_flight += 1
        try:
            await bridge.run(run, policy)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.set()
        return run.result()

    def execute_sync(
        self,
        saga: Any,
        input: Any = None,
        *,
        correlation_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        compensation_policy: CompensationPolicy | str | None = None,
    ) -> SagaResult:
        """Blocking ``execute`` for scripts; async steps run on a private event loop.

        Raises:
            FireflyTxError: called from inside a running event loop (use ``await engine.execute``).
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
        self._running_bridge()
        with self._lock:
            if self._sync_loop is None:
                self._sync_loop = _LoopThread()
            loop = self._sync_loop.loop
        coro = self.execute(
            saga,
            input,
            correlation_id=correlation_id,
            headers=headers,
            compensation_policy=compensation_policy,
        )
        return asyncio.run_coroutine_threadsafe(coro, loop).result()


def _convert_inputs(spec: SagaSpec, saga_input: Any) -> dict[str, Any]:
    """Each step's input converted to its annotated model or dataclass, before anything runs."""
    converted: dict[str, Any] = {}
    by_type: dict[Any, Any] = {}
    for step in spec.steps:
        annotation = step.params.value_annotation
        if not needs_conversion(annotation):
            continue
        if annotation not in by_type:
            try:
                by_type[annotation] = convert_to(annotation, saga_input)
            except (ValidationError, TypeError, ValueError) as exc:
                raise InputValidationError(spec.name, step.step_id, annotation.__name__, str(exc)) from exc
        converted[step.step_id] = by_type[annotation]
    return converted
