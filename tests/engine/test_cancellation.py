"""A cancelled caller, stop() and shutdown(): runs stop going forward, undo what completed, end truthfully."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from fireflytx import (
    SagaEngine,
    SagaStatus,
    TccEngine,
    TccStatus,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)


def ordering_saga(log: list[str], entered: threading.Event, *, slow_is_async: bool = True) -> type:
    """a (undoable) → slow (blocks until cancelled) → c; ``entered`` is set once slow runs."""

    @saga("cancellable")
    class Cancellable:
        @saga_step("a")
        async def a(self) -> str:
            log.append("a")
            return "A"

        @compensation_step("a")
        async def undo_a(self, _: str) -> None:
            log.append("undo a")

        if slow_is_async:

            @saga_step("slow", depends_on=["a"], retry=3, backoff_ms=50)
            async def slow(self) -> None:
                log.append("slow")
                entered.set()
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    log.append("slow cancelled")
                    raise
        else:

            @saga_step("slow", depends_on=["a"])
            def slow(self) -> str:
                log.append("slow")
                entered.set()
                time.sleep(0.3)
                log.append("slow returned")
                return "S"

            @compensation_step("slow")
            def undo_slow(self, _: str) -> None:
                log.append("undo slow")

        @saga_step("c", depends_on=["slow"])
        async def c(self) -> None:
            log.append("c")

    return Cancellable


async def _wait(event: threading.Event) -> None:
    while not event.is_set():
        await asyncio.sleep(0.005)


async def test_cancelling_the_caller_stops_the_saga_and_compensates_what_completed() -> None:
    log: list[str] = []
    entered = threading.Event()
    async with SagaEngine() as engine:
        task = asyncio.create_task(engine.execute(ordering_saga(log, entered)))
        await _wait(entered)
        task.cancel()
        with pytest.raises(asyncio.CancelledError, match=r"the caller cancelled saga .* ended COMPENSATED"):
            await task
        # The slow step's retries never ran user code; c never started; a was undone before the
        # caller got CancelledError.
        assert log == ["a", "slow", "slow cancelled", "undo a"]
        assert engine.runs_in_flight == 0


async def test_wait_for_timing_out_compensates_before_raising() -> None:
    log: list[str] = []
    async with SagaEngine() as engine:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(engine.execute(ordering_saga(log, threading.Event())), 0.2)
        assert log[-1] == "undo a" and "c" not in log


async def test_a_running_def_step_is_abandoned_so_cancelling_never_waits_for_it() -> None:
    log: list[str] = []
    entered = threading.Event()
    async with SagaEngine() as engine:
        task = asyncio.create_task(engine.execute(ordering_saga(log, entered, slow_is_async=False)))
        await _wait(entered)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # A thread cannot be stopped: like a timed-out attempt, the step is abandoned (it runs on
        # unseen and its result is dropped) and what completed before it is undone at once.
        assert log == ["a", "slow", "undo a"]
        assert engine.worker_stats().abandoned_total >= 1  # type: ignore[union-attr]


async def test_cancelling_a_tcc_during_its_tries_cancels_those_tried() -> None:
    log: list[str] = []
    entered = threading.Event()

    @tcc("cancellable-tcc")
    class Cancellable:
        @tcc_participant("first", order=1)
        class First:
            @try_method
            async def t(self) -> str:
                return "held"

            @confirm_method
            async def c(self, _: str) -> None:
                log.append("confirm first")

            @cancel_method
            async def x(self, held: str | None) -> None:
                log.append(f"cancel first {held}")

        @tcc_participant("second", order=2)
        class Second:
            @try_method
            async def t(self) -> None:
                entered.set()
                await asyncio.sleep(30)

            @confirm_method
            async def c(self, _: object) -> None: ...

            @cancel_method
            async def x(self, held: object) -> None:
                log.append(f"cancel second {held}")

    async with TccEngine() as engine:
        task = asyncio.create_task(engine.execute(Cancellable))
        await _wait(entered)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert log == ["cancel second None", "cancel first held"]


async def test_a_cancellation_after_the_confirm_decision_changes_nothing_and_says_so() -> None:
    log: list[str] = []
    confirming = asyncio.Event()
    release = asyncio.Event()

    @tcc("late-cancel")
    class LateCancel:
        @tcc_participant("only")
        class Only:
            @try_method
            async def t(self) -> str:
                return "held"

            @confirm_method
            async def c(self, _: str) -> None:
                confirming.set()
                await release.wait()  # the caller is cancelled while this confirm runs
                log.append("confirmed")

            @cancel_method
            async def x(self, _: object) -> None:
                log.append("cancelled")

    async with TccEngine() as engine:
        task = asyncio.create_task(engine.execute(LateCancel, correlation_id="late-1"))
        await asyncio.wait_for(confirming.wait(), 5)
        task.cancel()
        await asyncio.sleep(0.01)
        release.set()
        with pytest.raises(asyncio.CancelledError) as caught:
            await task
    # Confirms are never cut short: the transaction is confirmed, and the caller is told so.
    assert log == ["confirmed"]
    assert str(caught.value) == "the caller cancelled tcc 'late-cancel' (late-1); it ended CONFIRMED"


def _def_saga(log: list[str], fail: bool) -> type:
    @saga("def-steps")
    class DefSteps:
        @saga_step("a")
        def a(self) -> str:
            time.sleep(0.2)
            return "A"

        @compensation_step("a")
        def undo_a(self, _: str) -> None:
            log.append("undo a")

        @saga_step("b", depends_on=["a"])
        def b(self) -> None:
            time.sleep(0.05)
            if fail:
                raise ValueError("b fails")

    return DefSteps


@pytest.mark.parametrize("is_async", [True, False], ids=["async-runs", "def-runs"])
async def test_stop_lets_runs_in_flight_finish_as_they_would_have(is_async: bool) -> None:
    log: list[str] = []

    @saga("async-steps")
    class AsyncSteps:
        @saga_step("a")
        async def a(self) -> str:
            await asyncio.sleep(0.2)
            return "A"

        @compensation_step("a")
        async def undo_a(self, _: str) -> None:
            log.append("undo a")

        @saga_step("b", depends_on=["a"])
        async def b(self, fail: bool) -> None:
            if fail:
                raise ValueError("b fails")

    engine = SagaEngine().start()
    if is_async:
        runs = [asyncio.create_task(engine.execute(AsyncSteps, fail)) for fail in (False, True)]
    else:
        runs = [asyncio.create_task(engine.execute(_def_saga(log, fail))) for fail in (False, True)]
    await asyncio.sleep(0.05)
    engine.stop()
    assert not engine.is_running
    ok, failed = await asyncio.gather(*runs)
    assert ok.status is SagaStatus.SUCCEEDED
    assert failed.status is SagaStatus.COMPENSATED and log == ["undo a"]
    with pytest.raises(Exception, match="not running"):
        await engine.execute(AsyncSteps, False)


async def test_shutdown_waits_for_execute_sync_runs_started_from_other_threads() -> None:
    log: list[str] = []
    engine = SagaEngine().start()
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(engine.execute_sync(_def_saga(log, False))))
    thread.start()
    while engine.runs_in_flight == 0:
        await asyncio.sleep(0.005)
    await asyncio.wait_for(engine.shutdown(), 20)
    thread.join(5)
    assert results and results[0].status is SagaStatus.SUCCEEDED
    assert not engine.is_running and engine.runs_in_flight == 0


async def test_shutdown_with_a_timeout_cancels_what_is_left_and_waits_for_the_undo() -> None:
    log: list[str] = []
    entered = threading.Event()
    engine = SagaEngine().start()
    run = asyncio.create_task(engine.execute(ordering_saga(log, entered)))
    await _wait(entered)
    await asyncio.wait_for(engine.shutdown(timeout=0.05), 20)
    result = await run
    assert result.status is SagaStatus.COMPENSATED
    assert result.steps["slow"].error.type == "TransactionCancelledError"
    assert log == ["a", "slow", "slow cancelled", "undo a"]


async def test_a_stopped_engine_can_start_again() -> None:
    engine = SagaEngine()
    for _ in range(3):
        engine.start()
        result = await engine.execute(_def_saga([], False))
        assert result.is_success
        await engine.shutdown()
    assert TccStatus.CONFIRMED  # both engines share the JVM, which stays up
