"""fast_backoff: fireflytx's own retry pauses skipped and recorded; the engine's are left alone."""

from __future__ import annotations

import pytest

from fireflytx import (
    SagaEngine,
    TccEngine,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx.listeners import Phase
from fireflytx.testing import Pause, assert_canceled, assert_compensated, fail_step, fast_backoff


@saga("slow-undo")
class SlowUndo:
    @saga_step("reserve")
    async def reserve(self, order: dict) -> str:
        return "R-1"

    @compensation_step("reserve", retry=3, backoff_ms=60_000)
    async def release(self, reservation: str) -> None:
        pass

    @saga_step("charge", depends_on=["reserve"], retry=1, backoff_ms=1)
    async def charge(self, order: dict) -> str:
        return "C-1"


@tcc("slow-cancel")
class SlowCancel:
    @tcc_participant("stock", order=1)
    class Stock:
        @try_method
        async def hold(self, order: dict) -> str:
            return "S-1"

        @confirm_method
        async def commit(self, hold: str) -> None:
            pass

        @cancel_method(retry=2, backoff_ms=45_000)
        async def release(self, hold: str | None) -> None:
            pass

    @tcc_participant("card", order=2)
    class Card:
        @try_method
        async def hold(self, order: dict) -> str:
            return "C-1"

        @confirm_method
        async def commit(self, hold: str) -> None:
            pass

        @cancel_method
        async def release(self, hold: str | None) -> None:
            pass


@pytest.mark.timeout(60)
async def test_compensation_pauses_are_recorded_not_waited(saga_engine: SagaEngine) -> None:
    # Two pauses of a minute each: the test's timeout would stop it if they were taken.
    with (
        fast_backoff(saga_engine) as clock,
        fail_step(saga_engine, "charge"),
        fail_step(saga_engine, "reserve", phase="compensation", times=2),
    ):
        result = await saga_engine.execute(SlowUndo, {})
    assert_compensated(result, in_order=["reserve"])
    assert result.steps["reserve"].compensation_attempts == 3
    assert clock.pauses == [
        Pause(Phase.COMPENSATION, "reserve", 1, 60_000.0),
        Pause(Phase.COMPENSATION, "reserve", 2, 60_000.0),
    ]
    assert clock.total_ms == 120_000.0


@pytest.mark.timeout(60)
async def test_cancel_pauses_are_recorded_not_waited(tcc_engine: TccEngine) -> None:
    with (
        fast_backoff(tcc_engine) as clock,
        fail_step(tcc_engine, "card"),
        fail_step(tcc_engine, "stock", phase="cancel", times=1),
    ):
        result = await tcc_engine.execute(SlowCancel, {})
    assert_canceled(result, failed_participant="card")
    assert clock.pauses == [Pause(Phase.CANCEL, "stock", 1, 45_000.0)]


async def test_step_retries_are_paced_by_the_engine_and_not_recorded(saga_engine: SagaEngine) -> None:
    with fast_backoff(saga_engine) as clock, fail_step(saga_engine, "charge", times=1):
        result = await saga_engine.execute(SlowUndo, {})
    assert result.is_success and result.steps["charge"].attempts == 2
    assert clock.pauses == []


def test_fast_backoff_needs_an_engine() -> None:
    with pytest.raises(TypeError, match="expected a SagaEngine or TccEngine, got NoneType"):
        with fast_backoff(None):  # type: ignore[arg-type]
            pass
