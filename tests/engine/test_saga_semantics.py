"""The promised semantics (concurrency, retry, timeout, threads, compensation), on the real engine."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from fireflytx import (
    CompensationPolicy,
    SagaContext,
    SagaEngine,
    SagaStatus,
    StepStatus,
    StepTimeoutError,
    compensation_step,
    saga,
    saga_step,
)


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


async def test_async_steps_of_one_layer_run_concurrently(engine: SagaEngine) -> None:
    spans: dict[str, tuple[float, float]] = {}

    @saga("async-layer")
    class AsyncLayer:
        @saga_step("left")
        async def left(self) -> None:
            start = time.perf_counter()
            await asyncio.sleep(0.3)
            spans["left"] = (start, time.perf_counter())

        @saga_step("right")
        async def right(self) -> None:
            start = time.perf_counter()
            await asyncio.sleep(0.3)
            spans["right"] = (start, time.perf_counter())

    result = await engine.execute(AsyncLayer)
    assert result.is_success
    assert _overlap(spans["left"], spans["right"])
    assert result.duration_ms < 550


async def test_sync_steps_of_one_layer_run_concurrently_off_the_loop(engine: SagaEngine) -> None:
    spans: dict[str, tuple[float, float]] = {}
    threads: dict[str, str] = {}
    loop_thread = threading.current_thread().name

    @saga("sync-layer")
    class SyncLayer:
        @saga_step("left")
        def left(self) -> None:
            start = time.perf_counter()
            time.sleep(0.3)
            spans["left"] = (start, time.perf_counter())
            threads["left"] = threading.current_thread().name

        @saga_step("right")
        def right(self) -> None:
            start = time.perf_counter()
            time.sleep(0.3)
            spans["right"] = (start, time.perf_counter())
            threads["right"] = threading.current_thread().name

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    result = await engine.execute(SyncLayer)
    tick_task.cancel()
    assert result.is_success
    assert _overlap(spans["left"], spans["right"])
    assert result.duration_ms < 550
    assert ticks >= 5, "the event loop was blocked while sync steps ran"
    assert threads["left"] != loop_thread and threads["left"].startswith("fireflytx-step")


async def test_async_steps_run_on_the_callers_loop(engine: SagaEngine) -> None:
    seen: list[tuple[asyncio.AbstractEventLoop, str]] = []

    @saga("on-loop")
    class OnLoop:
        @saga_step("a")
        async def a(self) -> None:
            seen.append((asyncio.get_running_loop(), threading.current_thread().name))

        @saga_step("b", depends_on=["a"], retry=1, backoff_ms=10)
        async def b(self) -> None:
            seen.append((asyncio.get_running_loop(), threading.current_thread().name))
            if len(seen) == 2:
                raise RuntimeError("retry me")

    result = await engine.execute(OnLoop)
    assert result.is_success and result.steps["b"].attempts == 2
    assert {loop for loop, _ in seen} == {asyncio.get_running_loop()}
    assert {name for _, name in seen} == {threading.current_thread().name}


async def test_retry_counts_attempts_with_constant_backoff(engine: SagaEngine) -> None:
    calls: list[float] = []

    @saga("flaky")
    class Flaky:
        @saga_step("a", retry=3, backoff_ms=100)
        def a(self) -> str:
            calls.append(time.perf_counter())
            if len(calls) < 3:
                raise ConnectionError("try again")
            return "ok"

        @saga_step("never", retry=2, backoff_ms=20)
        async def never(self) -> None:
            raise ConnectionError("always down")

    result = await engine.execute(Flaky)
    assert result.steps["a"].attempts == 3 and result.steps["a"].status is StepStatus.SUCCEEDED
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert all(gap >= 0.09 for gap in gaps), gaps
    never = result.steps["never"]
    assert never.status is StepStatus.FAILED and never.attempts == 3
    assert never.error is not None and never.error.type == "ConnectionError"
    assert [a.number for a in never.attempt_log] == [1, 2, 3]
    assert [a.error.message if a.error else None for a in never.attempt_log] == ["always down"] * 3


async def test_jitter_keeps_pauses_within_the_factor(engine: SagaEngine) -> None:
    calls: list[float] = []

    @saga("jittery")
    class Jittery:
        @saga_step("a", retry=4, backoff_ms=100, jitter=True, jitter_factor=0.5)
        def a(self) -> None:
            calls.append(time.perf_counter())
            raise ConnectionError("down")

    result = await engine.execute(Jittery)
    assert result.steps["a"].attempts == 5
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert all(0.045 <= gap <= 0.4 for gap in gaps), gaps


async def test_timeout_fires_for_async_steps_and_cancels_them(engine: SagaEngine) -> None:
    cancelled = asyncio.Event()

    @saga("slow-async")
    class SlowAsync:
        @saga_step("slow", timeout_ms=200)
        async def slow(self) -> None:
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                cancelled.set()
                raise

    result = await engine.execute(SlowAsync)
    step = result.steps["slow"]
    assert step.status is StepStatus.FAILED
    assert step.error is not None and isinstance(step.error.exception, StepTimeoutError)
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_timeout_fires_for_sync_steps_too(engine: SagaEngine) -> None:
    # The engine's own timeout never fires for a synchronous handler; fireflytx's must.
    finished = threading.Event()

    @saga("slow-sync")
    class SlowSync:
        @saga_step("slow", timeout_ms=200, retry=1, backoff_ms=10)
        def slow(self) -> str:
            time.sleep(1.0)
            finished.set()
            return "late"

    result = await engine.execute(SlowSync)
    assert not finished.is_set(), "the result should arrive before the sync step finishes"
    step = result.steps["slow"]
    assert step.status is StepStatus.FAILED and step.attempts == 2
    assert step.error is not None and step.error.type == "StepTimeoutError"
    assert step.result is None


@saga("diamond")
class Diamond:
    def __init__(self) -> None:
        self.undone: list[str] = []

    @saga_step("a")
    async def a(self) -> str:
        return "A"

    @compensation_step("a")
    async def undo_a(self, result: str) -> None:
        self.undone.append(result)

    @saga_step("b", depends_on=["a"])
    def b(self) -> str:
        time.sleep(0.05)
        return "B"

    @compensation_step("b")
    def undo_b(self, result: str) -> None:
        self.undone.append(result)

    @saga_step("c", depends_on=["a"])
    async def c(self) -> str:
        return "C"  # no compensation: must not be reported as compensated

    @saga_step("d", depends_on=["b", "c"])
    async def d(self) -> None:
        raise ValueError("d fails")

    @compensation_step("d")
    async def undo_d(self, result: object) -> None:
        self.undone.append("D")


async def test_failure_compensates_completed_steps_in_reverse_order(engine: SagaEngine) -> None:
    saga_instance = Diamond()
    result = await engine.execute(saga_instance)
    assert result.status is SagaStatus.COMPENSATED and not result.is_success
    assert saga_instance.undone == ["B", "A"]
    assert result.compensated_steps == ("b", "a")
    assert result.steps["d"].status is StepStatus.FAILED and not result.steps["d"].compensated
    assert result.steps["c"].status is StepStatus.SUCCEEDED and not result.steps["c"].compensated
    assert result.steps["a"].status is StepStatus.COMPENSATED
    assert result.failed_step == "d" and result.error is not None and result.error.message == "d fails"


@pytest.mark.parametrize("policy", list(CompensationPolicy))
async def test_every_policy_compensates(engine: SagaEngine, policy: CompensationPolicy) -> None:
    saga_instance = Diamond()
    result = await engine.execute(saga_instance, compensation_policy=policy)
    assert sorted(saga_instance.undone) == ["A", "B"]
    assert result.status is SagaStatus.COMPENSATED
    assert set(result.compensated_steps) == {"a", "b"}


async def test_failed_compensation_is_reported_and_others_still_run(engine: SagaEngine) -> None:
    undone: list[str] = []

    @saga("bad-undo")
    class BadUndo:
        @saga_step("a")
        def a(self) -> str:
            return "A"

        @compensation_step("a")
        def undo_a(self, result: str) -> None:
            undone.append(result)

        @saga_step("b", depends_on=["a"])
        def b(self) -> str:
            return "B"

        @compensation_step("b", retry=2, backoff_ms=10)
        def undo_b(self, result: str) -> None:
            raise OSError("refund service down")

        @saga_step("c", depends_on=["b"])
        def c(self) -> None:
            raise ValueError("c fails")

    result = await engine.execute(BadUndo)
    assert result.status is SagaStatus.COMPENSATION_FAILED
    b = result.steps["b"]
    assert b.status is StepStatus.COMPENSATION_FAILED and not b.compensated
    assert b.compensation_attempts == 3
    assert b.compensation_error is not None and b.compensation_error.message == "refund service down"
    assert undone == ["A"] and result.compensated_steps == ("a",)
    with pytest.raises(Exception, match="refund service down"):
        result.raise_for_status()


async def test_compensation_retry_and_timeout_hold_under_the_default_policy(engine: SagaEngine) -> None:
    calls: list[str] = []

    @saga("comp-retry")
    class CompRetry:
        @saga_step("a")
        async def a(self) -> str:
            return "A"

        @compensation_step("a", retry=2, backoff_ms=10, timeout_ms=100)
        async def undo_a(self, result: str) -> None:
            calls.append(result)
            if len(calls) == 1:
                await asyncio.sleep(1)  # first attempt times out
            if len(calls) == 2:
                raise ConnectionError("flaky")

        @saga_step("b", depends_on=["a"])
        async def b(self) -> None:
            raise ValueError("b fails")

    result = await engine.execute(CompRetry)
    assert result.status is SagaStatus.COMPENSATED
    assert result.steps["a"].compensation_attempts == 3 and calls == ["A", "A", "A"]


async def test_circuit_breaker_skips_after_a_critical_failure(engine: SagaEngine) -> None:
    undone: list[str] = []

    @saga("breaker", compensation_policy="CIRCUIT_BREAKER")
    class Breaker:
        @saga_step("a")
        def a(self) -> str:
            return "A"

        @compensation_step("a")
        def undo_a(self, result: str) -> None:
            undone.append(result)

        @saga_step("b", depends_on=["a"])
        def b(self) -> str:
            return "B"

        @compensation_step("b", critical=True)
        def undo_b(self, result: str) -> None:
            raise OSError("critical undo failed")

        @saga_step("c", depends_on=["b"])
        def c(self) -> None:
            raise ValueError("c fails")

    result = await engine.execute(Breaker)
    assert undone == []
    assert result.status is SagaStatus.COMPENSATION_FAILED
    assert result.steps["a"].status is StepStatus.SUCCEEDED and not result.steps["a"].compensated


async def test_layer_concurrency_limits_steps_running_at_once(engine: SagaEngine) -> None:
    running = 0
    peak = 0

    @saga("limited", layer_concurrency=2)
    class Limited:
        async def _work(self) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.05)
            running -= 1

        @saga_step("s1")
        async def s1(self) -> None:
            await self._work()

        @saga_step("s2")
        async def s2(self) -> None:
            await self._work()

        @saga_step("s3")
        async def s3(self) -> None:
            await self._work()

        @saga_step("s4")
        async def s4(self) -> None:
            await self._work()

    result = await engine.execute(Limited)
    assert result.is_success and peak == 2


async def test_context_is_fresh_per_run(engine: SagaEngine) -> None:
    @saga("fresh")
    class Fresh:
        @saga_step("a", idempotency_key="only-once")
        def a(self, ctx: SagaContext) -> int:
            before = ctx.get_data("count", 0)
            ctx.set_data("count", before + 1)
            return int(before)

    first = await engine.execute(Fresh)
    second = await engine.execute(Fresh)
    assert first.result_of("a") == 0 and second.result_of("a") == 0
    assert second.steps["a"].attempts == 1


async def test_steps_with_their_own_idempotency_keys_all_run(engine: SagaEngine) -> None:
    ran: list[str] = []

    @saga("keyed")
    class Keyed:
        @saga_step("charge", idempotency_key="order-1-charge")
        async def charge(self) -> str:
            ran.append("charge")
            return "charged"

        @saga_step("ship", idempotency_key="order-1-ship")
        def ship(self) -> str:
            ran.append("ship")
            return "shipped"

    result = await engine.execute(Keyed)
    assert result.status is SagaStatus.SUCCEEDED and sorted(ran) == ["charge", "ship"]
    assert [(s.status, s.attempts) for s in result.steps.values()] == [(StepStatus.SUCCEEDED, 1)] * 2


@pytest.mark.parametrize("takes_input", [False, True])
async def test_a_step_method_the_instance_refuses_to_look_up_fails_that_step(
    engine: SagaEngine, takes_input: bool
) -> None:
    undone: list[str] = []

    class Refusing:
        def __getattribute__(self, name: str) -> Any:
            if name in ("b", "b_with_input"):
                raise LookupError(f"no {name} here")
            return object.__getattribute__(self, name)

        @saga_step("a")
        async def a(self) -> str:
            return "A"

        @compensation_step("a")
        async def undo_a(self, result: str) -> None:
            undone.append(result)

        if takes_input:

            @saga_step("b", depends_on=["a"])
            async def b_with_input(self, order: dict[str, int]) -> None: ...
        else:

            @saga_step("b", depends_on=["a"])
            async def b(self) -> None: ...

    result = await engine.execute(saga(f"refusing-{takes_input}")(Refusing), {"n": 1})
    assert result.status is SagaStatus.COMPENSATED and undone == ["A"]
    error = result.steps["b"].error
    assert result.steps["b"].status is StepStatus.FAILED and error is not None
    assert error.type == "LookupError" and "no b" in error.message


@pytest.mark.parametrize("takes_result", [False, True])
async def test_a_compensation_the_instance_refuses_to_look_up_fails_that_compensation(
    engine: SagaEngine, takes_result: bool
) -> None:
    class Refusing:
        def __getattribute__(self, name: str) -> Any:
            if name.startswith("undo_a"):
                raise LookupError(f"no {name} here")
            return object.__getattribute__(self, name)

        @saga_step("a")
        async def a(self) -> str:
            return "A"

        if takes_result:

            @compensation_step("a")
            async def undo_a_with_result(self, result: str) -> None: ...
        else:

            @compensation_step("a")
            async def undo_a(self) -> None: ...

        @saga_step("b", depends_on=["a"])
        async def b(self) -> None:
            raise RuntimeError("b fails")

    result = await engine.execute(saga(f"refusing-undo-{takes_result}")(Refusing))
    assert result.status is SagaStatus.COMPENSATION_FAILED
    error = result.steps["a"].compensation_error
    assert error is not None and error.type == "LookupError" and "no undo_a" in error.message
