"""fireflytx as a system under test: the shapes of ``_shapes`` on a real ``SagaEngine`` / ``TccEngine``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fireflytx import SagaEngine

from . import _shapes
from ._drivers import Gate, Runner


class FireflyTx:
    """The Java engine over JPype; async steps on this loop, ``def`` steps on the engine's threads."""

    name = "fireflytx"

    def __init__(self) -> None:
        self.engine = SagaEngine()
        self.tcc_engine: Any = None
        self.tcc_error: str | None = _shapes.TCC_UNAVAILABLE

    async def start(self) -> None:
        await self.engine.initialize()
        if self.tcc_error is None:
            try:
                from fireflytx import TccEngine

                self.tcc_engine = await TccEngine().initialize()
            except Exception as exc:  # report it in the table instead of losing the whole run
                self.tcc_error = f"not available: TccEngine failed to start: {exc!r}"

    async def stop(self) -> None:
        if self.tcc_engine is not None:
            await self.tcc_engine.shutdown()
        await self.engine.shutdown()

    def chain(self, length: int, use_async: bool) -> Runner:
        cls = _shapes.chain_saga(length, use_async)
        execute = self.engine.execute

        async def run() -> None:
            result = await execute(cls)
            if not result.is_success:
                raise AssertionError(f"chain saga failed: {result!r}")

        return run

    def diamond(self, fail: bool) -> Runner:
        cls = _shapes.DiamondSaga
        execute = self.engine.execute

        async def run() -> None:
            result = await execute(cls, fail)
            if result.is_success == fail:
                raise AssertionError(f"diamond (fail={fail}) ended wrong: {result!r}")

        return run

    def diamond_on(self, engine: SagaEngine) -> Runner:
        """The diamond on another ``engine`` (one that publishes events, or journals to a store)."""
        cls = _shapes.DiamondSaga
        execute = engine.execute

        async def run() -> None:
            result = await execute(cls, False)
            if not result.is_success:
                raise AssertionError(f"diamond with events failed: {result!r}")

        return run

    async def check_failing_diamond(self) -> None:
        """The failure path really compensates A, B and C (checked once, outside the timing)."""
        result = await self.engine.execute(_shapes.DiamondSaga, True)
        if result.is_success or set(result.compensated_steps) != {"a", "b", "c"}:
            raise AssertionError(f"the failing diamond did not compensate a, b and c: {result!r}")

    def tcc(self, cancel: bool) -> Runner | str:
        if self.tcc_error is not None:
            return self.tcc_error
        cls = _shapes.tcc_three()
        execute = self.tcc_engine.execute

        async def run() -> None:
            result = await execute(cls, cancel)
            if not (result.is_canceled if cancel else result.is_confirmed):
                raise AssertionError(f"TCC (cancel={cancel}) ended {result.status}: {result!r}")

        return run

    def held_diamond(self) -> tuple[Runner, Gate]:
        gate = Gate()
        cls = _shapes.held_diamond_saga(gate)
        execute = self.engine.execute

        async def run() -> None:
            result = await execute(cls)
            if not result.is_success:
                raise AssertionError(f"held diamond failed: {result!r}")

        return run, gate

    def crossings(self) -> tuple[int, int]:
        """Calls into Java and from Java so far (fireflytx's private counters; see ``_calls``)."""
        from fireflytx._bridge._pump import CROSSINGS

        return CROSSINGS.into_java, CROSSINGS.from_java

    @contextmanager
    def timed_java(self, clock: Any) -> Iterator[Callable[[str], Any]]:
        """Route every call the run path makes into Java through ``clock.wrap`` (see ``_split``).

        Wraps the bound adapter methods of this loop's pumps and the adapters' run starters (all
        private to fireflytx), and puts them back after. Yields the saga pump's own ``exchange``,
        unwrapped, for timing a call that finds nothing to do.
        """
        from fireflytx._bridge import _saga, _tcc
        from fireflytx._bridge._pump import Starts

        saved: list[tuple[Any, str, Any]] = []

        def swap(owner: Any, attr: str, value: Any) -> None:
            saved.append((owner, attr, getattr(owner, attr)))
            setattr(owner, attr, value)

        loop = asyncio.get_running_loop()
        bridges = [(self.engine._bridge, _saga.java(), "saga_runs")]
        if self.tcc_engine is not None:
            bridges.append((self.tcc_engine._bridge, _tcc.java(), "tcc_runs"))
        try:
            for bridge, java, starters in bridges:
                pump = bridge.pump_for(loop)
                for attr in ("_java_exchange", "_java_exchange_and_start", "_java_fail_and_drain"):
                    swap(pump, attr, clock.wrap(getattr(pump, attr)))
                starts = getattr(java, starters)
                swap(java, starters, Starts(clock.wrap(starts.start), starts.launcher))
            yield self.engine._bridge.pump_for(loop).java.exchange
        finally:
            for owner, attr, value in reversed(saved):
                setattr(owner, attr, value)

    def info(self) -> dict[str, Any]:
        """The Java runtime the engine started (read from fireflytx's private JVM state)."""
        try:
            from fireflytx._bridge import _jvm

            state = _jvm.running()
        except ImportError:
            return {}
        if state is None:
            return {}
        return {
            "java": state.java.version,
            "java_home": str(state.java.home),
            "jvm_options": list(state.options),
        }

    def collect(self) -> None:
        """A full Java GC, which also runs Python's ``gc.collect`` (JPype couples the two)."""
        self._runtime().gc()

    def probe(self) -> dict[str, Any]:
        """Java heap in use and committed, in MiB (read right after ``collect``, it is the live data)."""
        runtime = self._runtime()
        mb = 1024 * 1024
        return {
            "java_heap_used_mb": round((runtime.totalMemory() - runtime.freeMemory()) / mb, 1),
            "java_heap_committed_mb": round(runtime.totalMemory() / mb, 1),
        }

    @staticmethod
    def _runtime() -> Any:
        from jpype import JClass  # noqa: TID251 - a read-only look at the JVM the engine started

        return JClass("java.lang.Runtime").getRuntime()


def create() -> FireflyTx:
    return FireflyTx()
