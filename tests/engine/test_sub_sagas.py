"""Sagas of sagas against the real engine: a ``@sub_saga`` step runs another saga as its child."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Annotated, Any

import pytest

from fireflytx import (
    CompensationError,
    DefinitionError,
    EngineFullError,
    FromStep,
    SagaContext,
    SagaEngine,
    SagaResult,
    SagaStatus,
    StepStatus,
    SubSagaFailedError,
    TransactionError,
    UnknownSagaError,
    compensation_step,
    saga,
    saga_step,
    sub_saga,
)
from fireflytx.listeners import AttemptFinished, Phase, RunEvent, TransactionFinished, TransactionStarted
from fireflytx.topology import topology

LOG: list[str] = []
"""What every step and compensation did, in order (cleared by each test)."""


@pytest.fixture(autouse=True)
def _clear_log() -> None:
    LOG.clear()


@saga("payment")
class PaymentSaga:
    """The child: authorize, then capture; a card "0000" fails the capture."""

    @saga_step("authorize")
    async def authorize(self, payment: dict[str, Any], ctx: SagaContext) -> dict[str, Any]:
        LOG.append(f"authorize {ctx.correlation_id}")
        return {"auth": f"A-{payment['amount']}"}

    @compensation_step("authorize")
    async def void(self, auth: dict[str, Any]) -> None:
        LOG.append(f"void {auth['auth']}")

    @saga_step("capture", depends_on=["authorize"])
    def capture(self, payment: dict[str, Any]) -> dict[str, Any]:
        if payment.get("card") == "0000":
            raise PermissionError("card declined")
        LOG.append("capture")
        return {"charge": f"CH-{payment['amount']}"}

    @compensation_step("capture")
    def refund(self, charge: dict[str, Any]) -> None:
        LOG.append(f"refund {charge['charge']}")


@saga("order")
class OrderSaga:
    """The parent: reserve (async), pay (the child), ship (def); "fail_ship" fails the last step."""

    @saga_step("reserve")
    async def reserve(self, order: dict[str, Any]) -> str:
        LOG.append("reserve")
        return "R-1"

    @compensation_step("reserve")
    async def release(self, reservation: str) -> None:
        LOG.append(f"release {reservation}")

    @sub_saga("pay", PaymentSaga, depends_on=["reserve"])
    def pay(self, order: dict[str, Any], reservation: Annotated[str, FromStep("reserve")]) -> dict[str, Any]:
        return {"amount": order["amount"], "card": order.get("card", "4242"), "reservation": reservation}

    @saga_step("ship", depends_on=["pay"])
    def ship(self, order: dict[str, Any], paid: Annotated[SagaResult, FromStep("pay")]) -> str:
        if order.get("fail_ship"):
            raise RuntimeError("no courier")
        LOG.append(f"ship after {paid.result_of('capture')['charge']}")
        return "S-1"


async def test_child_result_is_the_step_result(engine: SagaEngine) -> None:
    result = await engine.execute(OrderSaga, {"amount": 10}, correlation_id="o-1")
    assert result.status is SagaStatus.SUCCEEDED
    child = result.result_of("pay")
    assert isinstance(child, SagaResult)
    assert child.saga_name == "payment"
    assert child.correlation_id == "o-1/pay"
    assert child.status is SagaStatus.SUCCEEDED
    assert child.result_of("capture") == {"charge": "CH-10"}
    assert LOG == ["reserve", "authorize o-1/pay", "capture", "ship after CH-10"]
    # the nested result travels as JSON like any step result
    nested = result.to_json_dict()["steps"]["pay"]["result"]
    assert nested["steps"]["capture"]["result"] == {"charge": "CH-10"}


async def test_failed_child_compensates_itself_and_fails_the_parent_step(engine: SagaEngine) -> None:
    result = await engine.execute(OrderSaga, {"amount": 10, "card": "0000"}, correlation_id="o-2")
    assert result.status is SagaStatus.COMPENSATED
    assert result.failed_steps == ("pay",)
    assert result.steps["ship"].status is StepStatus.NOT_RUN
    assert result.steps["reserve"].status is StepStatus.COMPENSATED
    error = result.steps["pay"].error
    assert error is not None and error.type == "SubSagaFailedError"
    assert isinstance(error.exception, SubSagaFailedError)
    child = error.exception.result
    assert isinstance(child, SagaResult)
    assert child.correlation_id == "o-2/pay"
    assert child.status is SagaStatus.COMPENSATED
    assert child.failed_steps == ("capture",)
    # the child undid its own authorization before the parent released its reservation
    assert LOG == ["reserve", "authorize o-2/pay", "void A-10", "release R-1"]


async def test_later_failure_compensates_the_finished_child_as_a_whole(engine: SagaEngine) -> None:
    result = await engine.execute(OrderSaga, {"amount": 7, "fail_ship": True}, correlation_id="o-3")
    assert result.status is SagaStatus.COMPENSATED
    assert result.failed_steps == ("ship",)
    pay = result.steps["pay"]
    assert pay.status is StepStatus.COMPENSATED
    assert pay.compensation_attempts == 1
    child = pay.result
    assert isinstance(child, SagaResult)
    assert child.status is SagaStatus.COMPENSATED
    assert child.compensated_steps == ("capture", "authorize")
    assert child.steps["capture"].status is StepStatus.COMPENSATED
    assert child.steps["authorize"].status is StepStatus.COMPENSATED
    # reverse order of completion, each once; then the parent's own earlier step
    assert LOG == ["reserve", "authorize o-3/pay", "capture", "refund CH-7", "void A-7", "release R-1"]
    with pytest.raises(TransactionError, match="compensated by the saga that ran it"):
        child.raise_for_status()


@saga("flaky-undo")
class FlakyUndo:
    @saga_step("hold")
    async def hold(self, value: int) -> int:
        LOG.append("hold")
        return value

    @compensation_step("hold")
    async def unhold(self, value: int) -> None:
        LOG.append("unhold fails")
        raise ConnectionError("undo service down")


@saga("holds-flaky")
class HoldsFlaky:
    @sub_saga("inner", FlakyUndo)
    async def inner(self, value: int) -> int:
        return value

    @saga_step("boom", depends_on=["inner"])
    async def boom(self, value: int) -> None:
        raise RuntimeError("boom")


async def test_a_failing_compensation_of_the_child_fails_the_parent_compensation(engine: SagaEngine) -> None:
    result = await engine.execute(HoldsFlaky, 1)
    assert result.status is SagaStatus.COMPENSATION_FAILED
    inner = result.steps["inner"]
    assert inner.status is StepStatus.COMPENSATION_FAILED
    assert inner.compensation_error is not None and inner.compensation_error.type == "CompensationError"
    assert isinstance(inner.compensation_error.exception, CompensationError)
    assert inner.result.status is SagaStatus.COMPENSATION_FAILED
    assert inner.result.steps["hold"].compensation_error.type == "ConnectionError"
    assert LOG == ["hold", "unhold fails"]


@saga("shipping")
class ShippingSaga:
    @saga_step("label")
    async def label(self, parcel: dict[str, Any], ctx: SagaContext) -> str:
        LOG.append(f"label {ctx.correlation_id}")
        return "L-1"

    @compensation_step("label")
    async def cancel_label(self, label: str) -> None:
        LOG.append(f"cancel {label}")


@saga("fulfilment")
class FulfilmentSaga:
    """A child that has a child of its own."""

    @sub_saga("pay", PaymentSaga)
    async def pay(self, order: dict[str, Any]) -> dict[str, Any]:
        return {"amount": order["amount"]}

    @sub_saga("ship", ShippingSaga, depends_on=["pay"])
    def ship(self, order: dict[str, Any]) -> dict[str, Any]:
        return {"to": order["to"]}


@saga("checkout")
class CheckoutSaga:
    @sub_saga("fulfil", FulfilmentSaga)
    def fulfil(self, order: dict[str, Any]) -> dict[str, Any]:
        return order

    @saga_step("notify", depends_on=["fulfil"])
    async def notify(self, order: dict[str, Any]) -> str:
        if order.get("fail_notify"):
            raise RuntimeError("mail down")
        return "sent"


async def test_two_levels_of_nesting_with_derived_ids(engine: SagaEngine) -> None:
    result = await engine.execute(CheckoutSaga, {"amount": 3, "to": "Oslo"}, correlation_id="c-1")
    assert result.is_success
    fulfil = result.result_of("fulfil")
    assert fulfil.correlation_id == "c-1/fulfil"
    assert fulfil.result_of("pay").correlation_id == "c-1/fulfil/pay"
    assert fulfil.result_of("ship").correlation_id == "c-1/fulfil/ship"
    assert fulfil.result_of("pay").result_of("capture") == {"charge": "CH-3"}
    assert LOG == ["authorize c-1/fulfil/pay", "capture", "label c-1/fulfil/ship"]


async def test_two_levels_undone_newest_first(engine: SagaEngine) -> None:
    result = await engine.execute(CheckoutSaga, {"amount": 3, "to": "Oslo", "fail_notify": True})
    assert result.status is SagaStatus.COMPENSATED
    fulfil = result.steps["fulfil"].result
    assert fulfil.status is SagaStatus.COMPENSATED
    assert fulfil.compensated_steps == ("ship", "pay")
    assert fulfil.steps["pay"].result.status is SagaStatus.COMPENSATED
    assert LOG[-3:] == ["cancel L-1", "refund CH-3", "void A-3"]
    assert LOG.count("refund CH-3") == 1


@saga("by-name")
class ByName:
    @sub_saga("pay", "payment")
    async def pay(self, amount: int) -> dict[str, Any]:
        return {"amount": amount}


async def test_a_child_named_by_name_must_be_registered(engine: SagaEngine) -> None:
    with pytest.raises(UnknownSagaError, match=r"engine.register\(") as caught:
        await engine.execute(ByName, 5)
    assert caught.value.child == "payment" and caught.value.step_id == "pay"
    assert isinstance(caught.value, DefinitionError)
    assert LOG == []
    engine.register(PaymentSaga)
    result = await engine.execute(ByName, 5, correlation_id="n-1")
    assert result.is_success
    assert result.result_of("pay").correlation_id == "n-1/pay"


@saga("loop-a")
class LoopA:
    @sub_saga("again", "loop-a")
    async def again(self, value: int) -> int:
        return value


async def test_a_saga_that_runs_itself_is_refused(engine: SagaEngine) -> None:
    engine.register(LoopA)
    with pytest.raises(DefinitionError, match="cycle"):
        await engine.execute(LoopA, 1)


def test_definition_problems_of_sub_saga_steps() -> None:
    class NotASaga:
        pass

    with pytest.raises(DefinitionError) as caught:

        @saga("broken")
        class Broken:
            @sub_saga("pay", NotASaga)
            async def pay(self, value: int) -> int:
                return value

            @sub_saga("pay2", PaymentSaga)
            async def pay2(self, value: int) -> int:
                return value

            @compensation_step("pay2")
            async def undo(self, value: Any) -> None:
                pass

    text = str(caught.value)
    assert "NotASaga is not a saga" in text
    assert "remove its @compensation_step" in text


class Recorder:
    def __init__(self) -> None:
        self.events: list[RunEvent] = []
        self._lock = threading.Lock()

    def on_event(self, event: RunEvent) -> None:
        with self._lock:
            self.events.append(event)


async def test_listeners_see_the_child_under_its_own_correlation_id() -> None:
    recorder = Recorder()
    async with SagaEngine(listeners=[recorder]) as engine:
        await engine.execute(OrderSaga, {"amount": 2, "fail_ship": True}, correlation_id="l-1")
        assert engine.flush_listeners(timeout=30)
    started = [(e.name, e.correlation_id) for e in recorder.events if isinstance(e, TransactionStarted)]
    assert started == [("order", "l-1"), ("payment", "l-1/pay")]
    finished = {e.correlation_id: e.status for e in recorder.events if isinstance(e, TransactionFinished)}
    assert finished == {"l-1/pay": "SUCCEEDED", "l-1": "COMPENSATED"}
    child_undo = [
        e.unit_id
        for e in recorder.events
        if isinstance(e, AttemptFinished) and e.correlation_id == "l-1/pay" and e.phase is Phase.COMPENSATION
    ]
    assert child_undo == ["capture", "authorize"]
    steps = [
        e.unit_id
        for e in recorder.events
        if isinstance(e, AttemptFinished) and e.correlation_id == "l-1/pay" and e.phase is Phase.STEP
    ]
    assert steps == ["authorize", "capture"]


async def test_children_take_no_slot_so_max_in_flight_one_does_not_deadlock() -> None:
    async with SagaEngine(max_in_flight=1) as engine:
        runs = [engine.execute(CheckoutSaga, {"amount": i, "to": "Rome"}) for i in range(3)]
        results = await asyncio.gather(*runs)
        assert [r.status for r in results] == [SagaStatus.SUCCEEDED] * 3
        assert engine.runs_in_flight == 0


async def test_children_take_no_slot_when_the_engine_refuses_extra_runs() -> None:
    async with SagaEngine(max_in_flight=1, when_full="fail") as engine:
        result = await engine.execute(CheckoutSaga, {"amount": 1, "to": "Rome"})
        assert result.is_success
        assert engine.rejected == 0


def test_execute_sync_runs_children() -> None:
    with SagaEngine() as engine:
        result = engine.execute_sync(OrderSaga, {"amount": 4}, correlation_id="s-1")
    assert result.is_success
    assert result.result_of("pay").correlation_id == "s-1/pay"


def test_two_levels_nest_in_the_topology(mermaid_parse: Callable[[list[str]], list[dict[str, str]]]) -> None:
    shape = topology(CheckoutSaga)
    fulfil = shape.step("fulfil")
    assert fulfil.child is not None and fulfil.child.name == "fulfilment"
    pay = fulfil.child.step("pay")
    assert pay.child is not None and [s.step_id for s in pay.child.steps] == ["authorize", "capture"]
    assert topology(FulfilmentSaga).step("ship").sub_saga == "shipping"
    text = str(shape)
    assert "│     │  └─ sub-saga PaymentSaga (payment), undone by its own compensations\n" in text
    assert "n0_n0_sub" in shape.to_dot()
    assert [r["ok"] for r in mermaid_parse([shape.to_mermaid()])] == [True]


GATE: asyncio.Event | None = None
ENGINE_BOX: list[SagaEngine] = []


@saga("slow-child")
class SlowChild:
    @saga_step("hold")
    async def hold(self, value: int) -> int:
        LOG.append("hold")
        return value

    @compensation_step("hold")
    async def unhold(self, value: int) -> None:
        LOG.append("unhold")

    @saga_step("wait", depends_on=["hold"])
    async def wait(self, value: int) -> int:
        assert GATE is not None
        LOG.append("waiting")
        await GATE.wait()
        return value


@saga("waits-for-child")
class WaitsForChild:
    @saga_step("first")
    def first(self, value: int) -> int:
        LOG.append("first")
        return value

    @compensation_step("first")
    def undo_first(self, value: int) -> None:
        LOG.append("undo first")

    @sub_saga("child", SlowChild, depends_on=["first"])
    async def child(self, value: int) -> int:
        return value


async def test_cancelling_the_parent_cancels_the_child_which_undoes_itself() -> None:
    global GATE
    GATE = asyncio.Event()
    recorder = Recorder()
    async with SagaEngine(listeners=[recorder]) as engine:
        run = asyncio.create_task(engine.execute(WaitsForChild, 1, correlation_id="x-1"))
        while "waiting" not in LOG:
            await asyncio.sleep(0.01)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert engine.flush_listeners(timeout=30)
    assert LOG == ["first", "hold", "waiting", "unhold", "undo first"]
    finished = {e.correlation_id: e.status for e in recorder.events if isinstance(e, TransactionFinished)}
    assert finished == {"x-1/child": "COMPENSATED", "x-1": "COMPENSATED"}


async def test_a_step_that_runs_the_engine_itself_inside_a_child_still_takes_a_slot() -> None:
    """Only the launch of a child skips admission; what the child's steps start is admitted as usual."""

    @saga("inner-direct")
    class InnerDirect:
        @saga_step("only")
        async def only(self, value: int) -> int:
            return value

    @saga("runs-directly")
    class RunsDirectly:
        @saga_step("direct")
        async def direct(self, value: int) -> str:
            with pytest.raises(EngineFullError):
                await ENGINE_BOX[0].execute(InnerDirect, value)
            return "refused"

    @saga("outer-direct")
    class OuterDirect:
        @sub_saga("child", RunsDirectly)
        async def child(self, value: int) -> int:
            return value

    async with SagaEngine(max_in_flight=1, when_full="fail") as engine:
        ENGINE_BOX.append(engine)
        try:
            result = await engine.execute(OuterDirect, 1)
        finally:
            ENGINE_BOX.clear()
    assert result.is_success
    assert result.result_of("child").result_of("direct") == "refused"

