"""Sub-sagas on a durable engine (a real SQLite store): each child has a record of its own, a
repeated correlation id gives back the stored nesting, and a stored run shows the undone child."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fireflytx import (
    SagaContext,
    SagaEngine,
    SagaResult,
    SagaStatus,
    StepStatus,
    compensation_step,
    saga,
    saga_step,
    sub_saga,
)
from fireflytx._persistence import open_store
from fireflytx.config import FireflyTxSettings, PersistenceConfig
from fireflytx.topology import run_view

CALLS: list[str] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


@saga("durable-payment")
class DurablePayment:
    @saga_step("charge")
    async def charge(self, amount: int, ctx: SagaContext) -> dict[str, Any]:
        CALLS.append(f"charge {ctx.idempotency_key}")
        return {"charge": f"CH-{amount}"}

    @compensation_step("charge")
    async def refund(self, charge: dict[str, Any], ctx: SagaContext) -> None:
        CALLS.append(f"refund {charge['charge']} {ctx.idempotency_key}")


@saga("durable-order")
class DurableOrder:
    @sub_saga("pay", DurablePayment)
    def pay(self, order: dict[str, Any]) -> int:
        return int(order["amount"])

    @saga_step("ship", depends_on=["pay"])
    def ship(self, order: dict[str, Any]) -> str:
        CALLS.append("ship")
        if order.get("fail"):
            raise RuntimeError("no courier")
        return "shipped"


@pytest.fixture
def settings(tmp_path: Path) -> FireflyTxSettings:
    return FireflyTxSettings(persistence=PersistenceConfig(url=f"sqlite:///{tmp_path / 'tx.db'}"))


async def test_each_child_has_its_own_record_and_a_repeat_returns_the_stored_nesting(
    settings: FireflyTxSettings,
) -> None:
    async with SagaEngine(settings) as engine:
        first = await engine.execute(DurableOrder, {"amount": 5}, correlation_id="do-1")
        again = await engine.execute(DurableOrder, {"amount": 5}, correlation_id="do-1")
    assert first.is_success and again.is_success
    assert CALLS == ["charge do-1/pay:step:charge", "ship"]  # the repeat ran nothing
    child = again.result_of("pay")
    assert isinstance(child, SagaResult)
    assert (child.correlation_id, child.status) == ("do-1/pay", SagaStatus.SUCCEEDED)
    assert child.result_of("charge") == {"charge": "CH-5"}
    store = await open_store(settings.persistence)
    try:
        parent, inner = await store.get("do-1"), await store.get("do-1/pay")
    finally:
        await store.close()
    assert parent is not None and [c.key for c in parent.checkpoints] == ["step/pay", "step/ship"]
    assert inner is not None and inner.record.name == "durable-payment"
    assert inner.record.status == "SUCCEEDED" and [c.key for c in inner.checkpoints] == ["step/charge"]


async def test_a_stored_run_shows_the_child_as_its_undo_left_it(settings: FireflyTxSettings) -> None:
    async with SagaEngine(settings) as engine:
        live = await engine.execute(DurableOrder, {"amount": 7, "fail": True}, correlation_id="do-2")
        view = await engine.stored_run("do-2")
        again = await engine.execute(DurableOrder, {"amount": 7, "fail": True}, correlation_id="do-2")
    assert live.status is SagaStatus.COMPENSATED
    assert CALLS == ["charge do-2/pay:step:charge", "ship", "refund CH-7 do-2/pay:compensation:charge"]
    for result in (live, again):
        assert result.steps["pay"].status is StepStatus.COMPENSATED
        child = result.result_of("pay")
        assert child.status is SagaStatus.COMPENSATED and child.compensated_steps == ("charge",)
    assert view is not None and view.result is not None
    stored_child = view.result.result_of("pay")
    assert stored_child.steps["charge"].status is StepStatus.COMPENSATED
    drawn = str(run_view(view.result, DurableOrder))
    assert "│  ├─ sub-saga DurablePayment (durable-payment) · COMPENSATED · " in drawn
