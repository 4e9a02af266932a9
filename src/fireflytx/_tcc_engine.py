"""``TccEngine``: runs ``@tcc`` classes on the Firefly ``TccEngine`` inside this process.

Threads: ``execute`` must be awaited on an event loop; ``async def`` phase methods run as tasks on
that loop, plain ``def`` ones on the engine's worker threads, and the engine's own timers on
Python-owned timer threads. ``execute_sync`` runs the same thing from plain scripts on a private
loop. A ``SagaEngine`` and a ``TccEngine`` can run side by side: they share the one JVM.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError

from ._engine import _check_correlation_id, _check_headers, _LoopThread
from ._tcc_definition import TccSpec, tcc_definition_of
from ._tcc_results import TccResult
from ._tcc_runtime import TccRun
from ._values import convert_to, needs_conversion
from .config import FireflyTxSettings
from .errors import EngineNotStartedError, FireflyTxError, InputValidationError

__all__ = ["TccEngine"]


class TccEngine:
    """Executes TCC transactions; start it with ``async with TccEngine() as engine`` (or ``initialize()``).

    The Java ``TccEngine`` orchestrates: it runs the tries one after another in ``order`` with
    their retries and backoff, decides between confirm and cancel, and runs every confirm with its
    retries, backoff and timeout. fireflytx adds what the engine lacks or gets wrong: it times tries
    itself, runs the cancel phase itself (the engine skips the participant whose try failed and
    fails outright once two participants need cancelling), makes ``optional`` participants really
    optional, never reports a failed confirm as confirmed, and applies ``@tcc(timeout_ms=...)``.

    One engine can run many transactions at once. The JVM it starts is shared by every engine of
    the process and stays up after ``shutdown()``; engines themselves can start and stop repeatedly.

    Args:
        settings: Configuration; default ``FireflyTxSettings()`` (environment variables apply).
    """

    def __init__(self, settings: FireflyTxSettings | None = None) -> None:
        self.settings = settings or FireflyTxSettings()
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

    def start(self) -> TccEngine:
        """Start the engine (and the JVM, the first time in this process); blocking."""
        with self._lock:
            if self._bridge is not None:
                return self
            from ._bridge import _jvm
            from ._bridge._tcc import TccBridge

            _jvm.ensure_started(self.settings)
            executor = ThreadPoolExecutor(
                max_workers=self.settings.sync_step_threads, thread_name_prefix="fireflytx-tcc"
            )
            try:
                self._bridge = TccBridge()
            except BaseException:
                executor.shutdown(wait=False)
                raise
            self._executor = executor
        return self

    async def initialize(self) -> TccEngine:
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

    async def __aenter__(self) -> TccEngine:
        return await self.initialize()

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    def __enter__(self) -> TccEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- running -------------------------------------------------------------------------------

    def register(self, tcc: type) -> TccSpec:
        """Check a TCC class and translate it for the engine now, instead of at its first run.

        Raises:
            DefinitionError: the class is not a valid TCC.
            EngineNotStartedError: the engine is not running.
        """
        spec = tcc_definition_of(tcc)
        self._running_bridge().register(spec)
        return spec

    def _running_bridge(self) -> Any:
        bridge = self._bridge
        if bridge is None:
            raise EngineNotStartedError(
                "the TccEngine is not running: use `async with TccEngine() as engine:` or call "
                "`await engine.initialize()` first"
            )
        return bridge

    async def execute(
        self,
        tcc: type,
        input: Any = None,
        *,
        correlation_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> TccResult:
        """Run a TCC transaction to its end and return what happened.

        A failing try, confirm or cancel does not raise: the result says what was confirmed or
        cancelled and what failed (``result.raise_for_status()`` turns that into an exception).

        Args:
            tcc: A ``@tcc`` class. Each run creates one instance of each participant class.
            input: The transaction input, given to each try method's first parameter.
            correlation_id: Id of this run (default: a new UUID).
            headers: String headers readable through ``TccContext.get_header``.

        Raises:
            TypeError: ``tcc`` is not a class (an instance would suggest state the run never uses).
            DefinitionError: ``tcc`` is not a valid TCC class.
            InputValidationError: ``input`` does not fit a try method's annotated input type.
            EngineNotStartedError: the engine is not running.
            JavaExecutionError: the engine failed outside any participant method.
        """
        if not isinstance(tcc, type):
            raise TypeError(f"execute() takes the @tcc class itself, not {type(tcc).__name__!r}")
        spec = tcc_definition_of(tcc)
        bridge = self._running_bridge()
        executor = self._executor
        assert executor is not None
        run = TccRun(
            spec,
            input,
            _convert_inputs(spec, input),
            _check_correlation_id(correlation_id) if correlation_id is not None else str(uuid.uuid4()),
            _check_headers(headers),
            asyncio.get_running_loop(),
            executor,
        )
        self._in_flight += 1
        try:
            await bridge.run(run)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.set()
        return run.result()

    def execute_sync(
        self,
        tcc: type,
        input: Any = None,
        *,
        correlation_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> TccResult:
        """Blocking ``execute`` for scripts; async phase methods run on a private event loop.

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
        coro = self.execute(tcc, input, correlation_id=correlation_id, headers=headers)
        return asyncio.run_coroutine_threadsafe(coro, loop).result()


def _convert_inputs(spec: TccSpec, tcc_input: Any) -> dict[str, Any]:
    """Each try's input converted to its annotated model or dataclass, before anything runs."""
    converted: dict[str, Any] = {}
    by_type: dict[Any, Any] = {}
    for participant in spec.participants:
        annotation = participant.try_phase.params.value_annotation
        if not needs_conversion(annotation):
            continue
        if annotation not in by_type:
            try:
                by_type[annotation] = convert_to(annotation, tcc_input)
            except (ValidationError, TypeError, ValueError) as exc:
                raise InputValidationError(
                    spec.name, participant.participant_id, annotation.__name__, str(exc), kind="tcc"
                ) from exc
        converted[participant.participant_id] = by_type[annotation]
    return converted
