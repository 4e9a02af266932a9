"""What a run's context tells its own steps about the run so far, against the real engine."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel

from fireflytx import (
    SagaContext,
    SagaEngine,
    StepView,
    TccContext,
    TccEngine,
    UnitStatus,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)

SEEN: dict[str, Any] = {}


class Hold(BaseModel):
    hold_id: str


@saga("checkout")
class Checkout:
    def __init__(self) -> None:
        self.charges = 0

    @saga_step("reserve")
    async def reserve(self, order: str, ctx: SagaContext) -> Hold:
        SEEN["reserve_key"] = ctx.idempotency_key
        SEEN["reserve_self"] = ctx.step("reserve")
        return Hold(hold_id=f"H-{order}")

    @saga_step("charge", depends_on=["reserve"], retry=2)
    def charge(self, order: str, ctx: SagaContext) -> int:
        self.charges += 1
        SEEN.setdefault("charge", []).append(ctx.steps)
        if self.charges == 1:
            raise ConnectionError("gateway hiccup")
        return 42

    @saga_step("ship", depends_on=["charge"])
    async def ship(self, order: str, ctx: SagaContext) -> str:
        ctx.set_data("carrier", "DHL")
        ctx.set_data("client", object())
        SEEN["ship_dict"] = ctx.to_dict()
        return "shipped"


async def test_a_step_reads_every_step_status_attempts_and_key_of_the_run_so_far() -> None:
    SEEN.clear()
    async with SagaEngine() as engine:
        result = await engine.execute(Checkout, "A1", correlation_id="order-A1", headers={"tenant": "acme"})
    assert result.is_success
    assert SEEN["reserve_key"] == "order-A1:step:reserve"
    assert SEEN["reserve_self"] == StepView(
        "reserve", UnitStatus.RUNNING, 1, 0, "order-A1:step:reserve", "order-A1:compensation:reserve"
    )
    first, second = SEEN["charge"]
    assert first["reserve"].status is UnitStatus.SUCCEEDED and first["reserve"].attempts == 1
    assert (first["charge"].status, first["charge"].attempts) == (UnitStatus.RUNNING, 1)
    assert (second["charge"].status, second["charge"].attempts) == (UnitStatus.RUNNING, 2)
    keys = ("order-A1:step:ship", "order-A1:compensation:ship")
    assert first["ship"] == StepView("ship", UnitStatus.NOT_RUN, 0, 0, *keys)
    assert list(first) == ["reserve", "charge", "ship"]

    data = SEEN["ship_dict"]
    assert json.loads(json.dumps(data)) == data  # JSON-compatible as it is
    assert data["kind"] == "saga" and data["name"] == "checkout" and data["correlation_id"] == "order-A1"
    assert data["headers"] == {"tenant": "acme"}
    assert data["variables"]["carrier"] == "DHL" and data["variables"]["client"].startswith("<object object")
    assert data["steps"]["reserve"] == {
        "status": "SUCCEEDED", "attempts": 1, "compensation_attempts": 0,
        "idempotency_key": "order-A1:step:reserve", "result": {"hold_id": "H-A1"},
    }
    assert data["steps"]["charge"]["attempts"] == 2 and data["steps"]["charge"]["result"] == 42
    assert data["steps"]["ship"]["status"] == "RUNNING" and "result" not in data["steps"]["ship"]


@saga("refund-flow")
class RefundFlow:
    @saga_step("reserve")
    async def reserve(self, order: str, ctx: SagaContext) -> str:
        SEEN["ctx"] = ctx
        return "held"

    @compensation_step("reserve")
    async def release(self, held: str, ctx: SagaContext) -> None:
        SEEN["while_compensating"] = (ctx.step("reserve"), ctx.step("pay"), ctx.idempotency_key)

    @saga_step("flaky", depends_on=["reserve"], retry=1, backoff_ms=300)
    async def flaky(self, order: str) -> None:
        raise ConnectionError("down")

    @saga_step("watch", depends_on=["reserve"])
    async def watch(self, order: str, ctx: SagaContext) -> None:
        while ctx.step("flaky").status is not UnitStatus.RETRYING:
            await asyncio.sleep(0.001)
        SEEN["retrying"] = ctx.step("flaky")

    @saga_step("pay", depends_on=["flaky", "watch"])
    async def pay(self, order: str) -> None:
        pass


async def test_statuses_follow_retries_failure_and_compensation() -> None:
    SEEN.clear()
    async with SagaEngine() as engine:
        result = await engine.execute(RefundFlow, "B2", correlation_id="order-B2")
    assert not result.is_success
    retrying = SEEN["retrying"]
    assert (retrying.status, retrying.attempts) == (UnitStatus.RETRYING, 1)
    reserve, pay, key = SEEN["while_compensating"]
    assert reserve.status is UnitStatus.COMPENSATING and reserve.compensation_attempts == 1
    assert key == reserve.compensation_key == "order-B2:compensation:reserve"
    assert pay.status is UnitStatus.NOT_RUN
    ctx: SagaContext = SEEN["ctx"]
    after = ctx.steps  # the context still reads the run's records once it has ended
    assert after["reserve"].status is UnitStatus.COMPENSATED
    assert (after["flaky"].status, after["flaky"].attempts) == (UnitStatus.FAILED, 2)
    assert after["watch"].status is UnitStatus.SUCCEEDED
    with pytest.raises(KeyError, match="no step 'nope'.*'reserve', 'flaky'"):
        ctx.step("nope")


@tcc("booking")
class Booking:
    @tcc_participant("seat", order=1)
    class Seat:
        @try_method
        async def hold(self, booking: str, ctx: TccContext) -> str:
            return f"seat-{booking}"

        @confirm_method
        async def book(self, held: str, ctx: TccContext) -> None:
            SEEN["seat_confirm"] = (ctx.participant("seat"), ctx.idempotency_key)

        @cancel_method
        async def free(self, held: str | None) -> None:
            pass

    @tcc_participant("payment", order=2)
    class Payment:
        @try_method
        def authorize(self, booking: str, ctx: TccContext) -> int:
            SEEN["payment_try"] = ctx.participants
            SEEN["payment_dict"] = ctx.to_dict()
            return 100

        @confirm_method
        def capture(self, amount: int) -> None:
            pass

        @cancel_method
        def void(self, amount: int | None) -> None:
            pass


async def test_a_tcc_participant_reads_each_participant_and_phase() -> None:
    SEEN.clear()
    async with TccEngine() as engine:
        result = await engine.execute(Booking, "C3", correlation_id="booking-C3")
    assert result.is_confirmed
    seen = SEEN["payment_try"]
    assert list(seen) == ["seat", "payment"]
    assert seen["seat"].try_phase.status is UnitStatus.SUCCEEDED
    assert seen["seat"].confirm_phase.status is UnitStatus.NOT_RUN
    assert seen["payment"].phase("try").status is UnitStatus.RUNNING
    assert seen["payment"].try_phase.idempotency_key == "booking-C3:try:payment"
    seat, key = SEEN["seat_confirm"]
    assert seat.confirm_phase.status is UnitStatus.RUNNING and seat.confirm_phase.attempts == 1
    assert key == seat.confirm_phase.idempotency_key == "booking-C3:confirm:seat"
    data = SEEN["payment_dict"]
    assert json.loads(json.dumps(data)) == data
    assert data["kind"] == "tcc" and data["name"] == "booking"
    assert data["participants"]["seat"] == {
        "try": {"status": "SUCCEEDED", "attempts": 1, "idempotency_key": "booking-C3:try:seat"},
        "confirm": {"status": "NOT_RUN", "attempts": 0, "idempotency_key": "booking-C3:confirm:seat"},
        "cancel": {"status": "NOT_RUN", "attempts": 0, "idempotency_key": "booking-C3:cancel:seat"},
        "try_result": "seat-C3",
    }
    assert "try_result" not in data["participants"]["payment"]
