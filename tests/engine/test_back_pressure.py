"""Back-pressure against the real engine: `max_in_flight` runs at most, the rest wait in line or fail."""

from __future__ import annotations

import asyncio
import gc
import pickle
import threading
import tracemalloc
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from fireflytx import (
    EngineFullError,
    EngineNotStartedError,
    FireflyTxSettings,
    SagaEngine,
    SagaStatus,
    TccEngine,
    TccStatus,
    cancel_method,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx.metrics import MetricsObserver

STARTED: list[int] = []
GATE: asyncio.Event | None = None
THREAD_GATE = threading.Event()


@saga("gated")
class Gated:
    """Its step records which run started, then waits until the test opens the gate."""

    @saga_step("wait")
    async def wait(self, value: int) -> int:
        STARTED.append(value)
        if GATE is not None and value < 0:
            await GATE.wait()
        return value


@saga("gated-sync")
class GatedSync:
    """Like ``Gated``, for runs of several loops and threads: a negative input blocks on a thread event."""

    @saga_step("wait")
    def wait(self, value: int) -> int:
        STARTED.append(value)
        if value < 0:
            THREAD_GATE.wait()
        return value


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)


@pytest.fixture(autouse=True)
def fresh() -> None:
    global GATE
    GATE = asyncio.Event()
    STARTED.clear()
    THREAD_GATE.clear()


async def test_beyond_max_in_flight_callers_wait_in_line_and_run_first_come_first_served() -> None:
    assert GATE is not None
    async with SagaEngine(max_in_flight=1) as engine:
        first = asyncio.create_task(engine.execute(Gated, -1))
        await until(lambda: STARTED == [-1])
        waiting = []
        for n in range(5):
            waiting.append(asyncio.create_task(engine.execute(Gated, n)))
            await until(lambda n=n: engine.waiting == n + 1)  # type: ignore[misc]
        assert engine.runs_in_flight == 1 and engine.waiting == 5
        assert repr(engine) == "<SagaEngine running, 1/1 runs in flight, 5 waiting>"
        assert "(max 1) · 5 waiting for a slot" in engine._repr_html_()
        GATE.set()
        results = await asyncio.gather(first, *waiting)
    assert [r.status for r in results] == [SagaStatus.SUCCEEDED] * 6
    assert STARTED == [-1, 0, 1, 2, 3, 4]
    assert engine.waiting == 0 and engine.runs_in_flight == 0


async def test_when_full_fail_refuses_at_once_with_an_error_that_names_the_limit_and_settings() -> None:
    assert GATE is not None
    settings = FireflyTxSettings(max_in_flight=2, when_full="fail")
    async with SagaEngine(settings) as engine:
        running = [asyncio.create_task(engine.execute(Gated, -n - 1)) for n in range(2)]
        await until(lambda: len(STARTED) == 2)
        with pytest.raises(EngineFullError) as refused:
            await engine.execute(Gated, 7)
        assert refused.value.limit == 2 and refused.value.engine == "SagaEngine"
        message = str(refused.value)
        assert "2 runs in flight" in message and "max_in_flight" in message and "when_full" in message
        assert pickle.loads(pickle.dumps(refused.value)).limit == 2
        assert 7 not in STARTED and engine.rejected == 1 and engine.waiting == 0
        assert "beyond it runs fail, 1 refused so far" in engine._repr_html_()
        GATE.set()
        await asyncio.gather(*running)
        assert (await engine.execute(Gated, 8)).is_success  # a freed slot admits again


async def test_the_constructor_overrides_the_settings_and_rejects_nonsense() -> None:
    settings = FireflyTxSettings(max_in_flight=50, when_full="fail")
    engine = SagaEngine(settings, max_in_flight=3, when_full="wait")
    assert (engine.max_in_flight, engine.when_full) == (3, "wait")
    assert (SagaEngine(settings).max_in_flight, TccEngine().max_in_flight) == (50, None)
    with pytest.raises(ValueError, match="max_in_flight"):
        SagaEngine(max_in_flight=0)
    with pytest.raises(ValueError, match="when_full"):
        TccEngine(when_full="drop")  # type: ignore[arg-type]


async def test_a_cancelled_waiter_leaves_the_line_and_holds_no_slot() -> None:
    assert GATE is not None
    async with SagaEngine(max_in_flight=1) as engine:
        first = asyncio.create_task(engine.execute(Gated, -1))
        await until(lambda: STARTED == [-1])
        doomed = [asyncio.create_task(engine.execute(Gated, n)) for n in (10, 11, 12)]
        kept = asyncio.create_task(engine.execute(Gated, 13))
        await until(lambda: engine.waiting == 4)
        for task in doomed:
            task.cancel()
        for task in doomed:
            with pytest.raises(asyncio.CancelledError):
                await task
        assert engine.waiting == 1 and engine.runs_in_flight == 1
        GATE.set()
        await first
        assert (await kept).is_success
        assert STARTED == [-1, 13]
        assert engine.runs_in_flight == 0
        assert (await engine.execute(Gated, 14)).is_success  # the one slot is free again


async def test_stop_and_shutdown_release_waiters_with_the_not_running_error() -> None:
    assert GATE is not None
    engine = await SagaEngine(max_in_flight=1).initialize()
    first = asyncio.create_task(engine.execute(Gated, -1))
    await until(lambda: STARTED == [-1])
    waiters = [asyncio.create_task(engine.execute(Gated, n)) for n in range(3)]
    await until(lambda: engine.waiting == 3)
    stopping = asyncio.create_task(engine.shutdown())
    for task in waiters:
        with pytest.raises(EngineNotStartedError, match="not running"):
            await task
    assert engine.waiting == 0 and not stopping.done()  # the run in flight goes on
    GATE.set()
    await stopping
    assert (await first).is_success and STARTED == [-1]

    await engine.initialize()
    GATE.clear()
    blocked = asyncio.create_task(engine.execute(Gated, -2))
    await until(lambda: engine.runs_in_flight == 1 and -2 in STARTED)
    waiter = asyncio.create_task(engine.execute(Gated, 5))
    await until(lambda: engine.waiting == 1)
    engine.stop()
    with pytest.raises(EngineNotStartedError):
        await waiter
    GATE.set()
    assert (await blocked).is_success


async def test_callers_on_other_loops_and_execute_sync_threads_share_one_line_in_order() -> None:
    with SagaEngine(max_in_flight=1) as engine:
        blocker = threading.Thread(target=engine.execute_sync, args=(GatedSync, -1))
        blocker.start()
        await until(lambda: STARTED == [-1])
        done: dict[int, object] = {}

        def sync_caller(n: int) -> None:
            done[n] = engine.execute_sync(GatedSync, n).status

        def other_loop_caller(n: int) -> None:
            done[n] = asyncio.run(engine.execute(GatedSync, n)).status

        threads = []
        for n, target in enumerate([sync_caller, other_loop_caller, sync_caller, other_loop_caller]):
            thread = threading.Thread(target=target, args=(n,))
            thread.start()
            threads.append(thread)
            await until(lambda n=n: engine.waiting == n + 1)  # type: ignore[misc]
        own = asyncio.create_task(engine.execute(GatedSync, 4))
        await until(lambda: engine.waiting == 5)
        THREAD_GATE.set()
        assert (await own).is_success
        for thread in [blocker, *threads]:
            await asyncio.to_thread(thread.join)
    assert STARTED == [-1, 0, 1, 2, 3, 4]
    assert done == {n: SagaStatus.SUCCEEDED for n in range(4)}


@tcc("gated-tcc")
class GatedTcc:
    @tcc_participant("only", order=1)
    class Only:
        @try_method
        async def hold(self, value: int) -> int:
            STARTED.append(value)
            if GATE is not None and value < 0:
                await GATE.wait()
            return value

        @confirm_method
        async def commit(self, held: int) -> None:
            pass

        @cancel_method
        async def release(self, held: int | None) -> None:
            pass


async def test_tcc_engines_wait_and_refuse_the_same_way() -> None:
    assert GATE is not None
    async with TccEngine(max_in_flight=1) as engine:
        first = asyncio.create_task(engine.execute(GatedTcc, -1))
        await until(lambda: STARTED == [-1])
        second = asyncio.create_task(engine.execute(GatedTcc, 2))
        await until(lambda: engine.waiting == 1)
        assert repr(engine) == "<TccEngine running, 1/1 runs in flight, 1 waiting>"
        engine.when_full = "fail"
        with pytest.raises(EngineFullError, match="TccEngine"):
            await engine.execute(GatedTcc, 3)
        GATE.set()
        assert [(await t).status for t in (first, second)] == [TccStatus.CONFIRMED] * 2
    assert STARTED == [-1, 2]


async def test_metrics_show_the_callers_waiting_and_the_runs_refused() -> None:
    assert GATE is not None
    registry = CollectorRegistry()
    metrics = MetricsObserver(registry)
    async with SagaEngine(max_in_flight=1) as engine:
        metrics.watch(engine, "orders")
        first = asyncio.create_task(engine.execute(Gated, -1))
        await until(lambda: STARTED == [-1])
        waiters = [asyncio.create_task(engine.execute(Gated, n)) for n in range(3)]
        await until(lambda: engine.waiting == 3)
        assert registry.get_sample_value("fireflytx_runs_waiting", {"engine": "orders"}) == 3
        engine.when_full = "fail"
        with pytest.raises(EngineFullError):
            await engine.execute(Gated, 9)
        engine.when_full = "wait"
        assert registry.get_sample_value("fireflytx_runs_rejected_total", {"engine": "orders"}) == 1
        GATE.set()
        await asyncio.gather(first, *waiters)
        assert registry.get_sample_value("fireflytx_runs_waiting", {"engine": "orders"}) == 0


FLOOD = 100_000
LIMIT = 100


@saga("flood")
class Flood:
    @saga_step("one")
    async def one(self, value: int) -> int:
        if GATE is not None and not GATE.is_set():
            await GATE.wait()
        return value


async def test_a_flood_of_100000_submissions_waits_in_bounded_memory_and_stop_releases_it() -> None:
    """Memory per waiting caller is measured by tracemalloc (nothing timed): a caller in line holds no run."""
    assert GATE is not None
    async with SagaEngine(max_in_flight=LIMIT) as engine:
        GATE.set()
        await engine.execute(Flood, 0)  # warm: the definition is translated and registered
        GATE.clear()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            gated = [asyncio.create_task(engine.execute(Flood, n)) for n in range(LIMIT)]
            await until(lambda: engine.runs_in_flight == LIMIT)
            in_flight = tracemalloc.get_traced_memory()[0] - base
            tasks = [asyncio.create_task(engine.execute(Flood, n)) for n in range(FLOOD - LIMIT)]
            await until(lambda: engine.waiting == FLOOD - LIMIT)
            waiting = tracemalloc.get_traced_memory()[0] - base - in_flight
            most_in_flight = engine.runs_in_flight
            engine.stop()
            await asyncio.wait(tasks)
            refused = sum(isinstance(t.exception(), EngineNotStartedError) for t in tasks)
            del tasks
            gc.collect()
            left = tracemalloc.get_traced_memory()[0] - base - in_flight
        finally:
            tracemalloc.stop()
            GATE.set()  # whatever failed, the runs in flight can end and the engine can stop
        assert all(r.is_success for r in await asyncio.gather(*gated))
    assert most_in_flight == LIMIT
    assert refused == FLOOD - LIMIT
    per_run = in_flight / LIMIT
    per_waiter = waiting / (FLOOD - LIMIT)
    # A caller in line is its task and coroutine frames, one small waiter and one future; a run in
    # flight holds its records, context and the engine's objects (and Java's, not counted here).
    assert per_waiter < 4096, f"{per_waiter:.0f} bytes per waiting caller"
    assert per_waiter * 2 < per_run, f"{per_waiter:.0f} B per waiter vs {per_run:.0f} B per run"
    assert left < waiting / 20, f"{left} of {waiting} bytes still held after the line was refused"
    assert engine.waiting == 0 and engine.runs_in_flight == 0


async def test_thousands_of_callers_all_run_with_never_more_than_the_limit_in_flight() -> None:
    peak = 0

    @saga("counted")
    class Counted:
        @saga_step("one")
        async def one(self, value: int) -> int:
            nonlocal peak
            peak = max(peak, engine.runs_in_flight)
            await asyncio.sleep(0)
            return value

    async with SagaEngine(max_in_flight=LIMIT) as engine:
        results = await asyncio.gather(*(engine.execute(Counted, n) for n in range(5_000)))
    assert [r.result_of("one") for r in results] == list(range(5_000))
    assert peak == LIMIT
