"""A hung ``def`` step must not starve the engine's other ``def`` steps."""

from __future__ import annotations

import asyncio
import threading

from fireflytx import (
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

THREADS = 4
GUARD_S = 60  # a guard against hanging forever, not a measured expectation
release = threading.Event()
calls = {"hung": 0}


@saga("hangs")
class Hangs:
    @saga_step("stuck", retry=40, backoff_ms=1, timeout_ms=100)
    def stuck(self) -> None:
        calls["hung"] += 1
        release.wait()


@saga("healthy")
class Healthy:
    @saga_step("a", timeout_ms=5_000)
    def a(self) -> int:
        return 1

    @saga_step("b", depends_on=["a"], timeout_ms=5_000)
    def b(self) -> int:
        return 2


@tcc("hangs-tcc")
class HangsTcc:
    @tcc_participant("p")
    class P:
        @try_method(timeout_ms=100)
        def reserve(self) -> None:
            calls["hung"] += 1
            release.wait()

        @confirm_method()
        def confirm(self) -> None: ...

        @cancel_method()
        def cancel(self) -> None: ...


@tcc("healthy-tcc")
class HealthyTcc:
    @tcc_participant("p")
    class P:
        @try_method(timeout_ms=5_000)
        def reserve(self) -> int:
            return 1

        @confirm_method()
        def confirm(self) -> None: ...

        @cancel_method()
        def cancel(self) -> None: ...


async def _wait_for_hung(count: int) -> None:
    while calls["hung"] < count:
        await asyncio.sleep(0.01)


async def test_a_hung_def_step_does_not_starve_a_healthy_saga() -> None:
    release.clear()
    calls["hung"] = 0
    settings = FireflyTxSettings(sync_step_threads=THREADS)
    try:
        async with SagaEngine(settings) as engine:
            hung = asyncio.create_task(engine.execute(Hangs))
            # Every thread of the old fixed pool would now be pinned by a timed-out attempt.
            await asyncio.wait_for(_wait_for_hung(THREADS), GUARD_S)
            result = await asyncio.wait_for(engine.execute(Healthy), GUARD_S)
            assert result.status is SagaStatus.SUCCEEDED
            assert result.steps["b"].result == 2
            stats = engine.worker_stats()
            assert stats is not None and stats.abandoned_total >= 1 and stats.size == THREADS
            hung_result = await asyncio.wait_for(hung, GUARD_S)
            assert hung_result.status is SagaStatus.COMPENSATED
            assert hung_result.steps["stuck"].attempts == 41
    finally:
        release.set()


async def test_a_hung_def_try_does_not_starve_a_healthy_tcc() -> None:
    release.clear()
    calls["hung"] = 0
    settings = FireflyTxSettings(sync_step_threads=THREADS)
    try:
        async with TccEngine(settings) as engine:
            hung = [asyncio.create_task(engine.execute(HangsTcc)) for _ in range(THREADS)]
            await asyncio.wait_for(_wait_for_hung(THREADS), GUARD_S)
            results = await asyncio.wait_for(asyncio.gather(*hung), GUARD_S)
            assert {r.status for r in results} == {TccStatus.CANCELED}
            result = await asyncio.wait_for(engine.execute(HealthyTcc), GUARD_S)
            assert result.status is TccStatus.CONFIRMED
            stats = engine.worker_stats()
            assert stats is not None and stats.abandoned >= 1
    finally:
        release.set()


def test_worker_stats_is_none_while_the_engine_is_not_running() -> None:
    assert SagaEngine().worker_stats() is None
