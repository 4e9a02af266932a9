"""Dynamic fan-out against the real engine: one clone per item, each with its own outcome and undo."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from fireflytx import (
    DefinitionError,
    FanOutError,
    FanOutItem,
    FromStep,
    SagaContext,
    SagaEngine,
    SagaStatus,
    StepStatus,
    compensation_step,
    definition_of,
    saga,
    saga_step,
)
from fireflytx.listeners import AttemptFinished, Phase


class Parcel(BaseModel):
    sku: str
    qty: int


class Shipment(BaseModel):
    sku: str
    label: str


class Order(BaseModel):
    order_id: str
    parcels: list[Parcel]


def _order(*skus: str) -> Order:
    return Order(order_id="o-1", parcels=[Parcel(sku=s, qty=i + 1) for i, s in enumerate(skus)])


def shipping_saga(log: list[str], *, fail_bill: bool = False, max_parallel: int | None = None) -> type:
    """reserve (undoable) → ship, fanned out over the order's parcels (undoable) → bill."""

    @saga("shipping")
    class Shipping:
        @saga_step("reserve")
        async def reserve(self, order: Order) -> str:
            log.append("reserve")
            return f"R-{order.order_id}"

        @compensation_step("reserve")
        async def release(self, reservation: str) -> None:
            log.append(f"release {reservation}")

        @saga_step(
            "ship", depends_on=["reserve"], fan_out=lambda order: order.parcels, max_parallel=max_parallel
        )
        async def ship(self, parcel: Parcel, ctx: SagaContext) -> Shipment:
            # Later items finish first: results must still come back in item order.
            await asyncio.sleep(0.002 * (10 - parcel.qty))
            if parcel.sku == "bad":
                log.append("ship bad failed")
                raise RuntimeError("no courier for bad")
            log.append(f"ship {parcel.sku}")
            return Shipment(sku=parcel.sku, label=ctx.idempotency_key)

        @compensation_step("ship")
        def unship(self, shipment: Shipment, parcel: Annotated[Parcel, FanOutItem()]) -> None:
            assert shipment.sku == parcel.sku
            log.append(f"unship {shipment.sku}")

        @saga_step("bill", depends_on=["ship"])
        def bill(self, shipments: Annotated[list[Shipment], FromStep("ship")]) -> int:
            if fail_bill:
                raise ValueError("card declined")
            log.append("bill")
            return len(shipments)

    return Shipping


async def test_each_item_runs_once_and_the_results_come_back_in_item_order(engine: SagaEngine) -> None:
    log: list[str] = []
    result = await engine.execute(shipping_saga(log), _order("a", "b", "c"), correlation_id="fo-1")
    assert result.status is SagaStatus.SUCCEEDED
    assert sorted(log) == ["bill", "reserve", "ship a", "ship b", "ship c"]
    shipments = result.steps["ship"].result
    assert [s.sku for s in shipments] == ["a", "b", "c"]
    assert [s.label for s in shipments] == [f"fo-1:step:ship#{i}" for i in range(3)]
    assert result.steps["bill"].result == 3
    assert list(result.steps) == ["reserve", "ship", "ship#0", "ship#1", "ship#2", "bill"]
    for i, sku in enumerate("abc"):
        clone = result.steps[f"ship#{i}"]
        assert clone.status is StepStatus.SUCCEEDED and clone.attempts == 1
        assert clone.result == Shipment(sku=sku, label=f"fo-1:step:ship#{i}")
        assert clone.has_compensation
    assert result.steps["ship"].attempts == 1


async def test_an_empty_list_succeeds_with_no_clones_and_an_empty_result(engine: SagaEngine) -> None:
    log: list[str] = []
    result = await engine.execute(shipping_saga(log), _order())
    assert result.status is SagaStatus.SUCCEEDED
    assert result.steps["ship"].status is StepStatus.SUCCEEDED
    assert result.steps["ship"].result == []
    assert result.steps["bill"].result == 0
    assert list(result.steps) == ["reserve", "ship", "bill"]


async def test_a_clone_failing_compensates_the_completed_clones_then_the_earlier_steps(
    engine: SagaEngine,
) -> None:
    log: list[str] = []
    order = _order("a", "b", "bad", "c")
    result = await engine.execute(shipping_saga(log, max_parallel=1), order)
    # One at a time: a and b completed, bad failed for good, c never started.
    assert log == ["reserve", "ship a", "ship b", "ship bad failed", "unship b", "unship a", "release R-o-1"]
    assert result.status is SagaStatus.COMPENSATED
    steps = result.steps
    assert steps["ship"].status is StepStatus.FAILED
    error = steps["ship"].error
    assert error is not None and error.type == "FanOutError" and "'ship#2'" in error.message
    assert isinstance(error.exception, FanOutError) and error.exception.clone_id == "ship#2"
    assert isinstance(error.exception.__cause__, RuntimeError)
    assert [steps[f"ship#{i}"].status for i in range(4)] == [
        StepStatus.COMPENSATED, StepStatus.COMPENSATED, StepStatus.FAILED, StepStatus.NOT_RUN,
    ]
    clone_error = steps["ship#2"].error
    assert clone_error is not None and clone_error.message == "no courier for bad"
    assert steps["reserve"].status is StepStatus.COMPENSATED
    assert steps["bill"].status is StepStatus.NOT_RUN
    assert set(result.failed_steps) == {"ship", "ship#2"}
    assert result.compensated_steps == ("ship#1", "ship#0", "reserve")


async def test_a_later_step_failing_compensates_every_clone_last_completed_first(engine: SagaEngine) -> None:
    log: list[str] = []
    result = await engine.execute(shipping_saga(log, fail_bill=True), _order("a", "b", "c"))
    assert result.status is SagaStatus.COMPENSATED
    # ship c finished first (shortest sleep), so it is undone last.
    shipped = [e for e in log if e.startswith("ship ")]
    undone = [e.removeprefix("unship ") for e in log if e.startswith("unship ")]
    assert undone == [e.removeprefix("ship ") for e in reversed(shipped)]
    assert log[-1] == "release R-o-1"
    assert result.steps["ship"].status is StepStatus.COMPENSATED
    assert all(result.steps[f"ship#{i}"].status is StepStatus.COMPENSATED for i in range(3))
    assert result.failed_steps == ("bill",)
    assert result.compensated_steps[-1] == "reserve"
    assert {"ship", "ship#0", "ship#1", "ship#2"} <= set(result.compensated_steps)


async def test_a_clone_compensation_that_fails_is_reported() -> None:
    @saga("undo-fails")
    class UndoFails:
        @saga_step("ship", fan_out=lambda items: items)
        def ship(self, item: str) -> str:
            return item

        @compensation_step("ship", retry=1, backoff_ms=1)
        async def unship(self, shipped: str) -> None:
            if shipped == "y":
                raise RuntimeError("cannot recall y")

        @saga_step("bill", depends_on=["ship"])
        def bill(self) -> None:
            raise ValueError("declined")

    async with SagaEngine() as engine:
        result = await engine.execute(UndoFails, ["x", "y"])
    assert result.status is SagaStatus.COMPENSATION_FAILED
    assert result.steps["ship#0"].status is StepStatus.COMPENSATED
    assert result.steps["ship#1"].status is StepStatus.COMPENSATION_FAILED
    assert result.steps["ship#1"].compensation_attempts == 2
    assert result.steps["ship"].status is StepStatus.COMPENSATION_FAILED
    comp_error = result.steps["ship"].compensation_error
    assert comp_error is not None and "ship#1" in comp_error.message


async def test_max_parallel_bounds_how_many_clones_run_at_once(engine: SagaEngine) -> None:
    running = peak = 0

    @saga("bounded")
    class Bounded:
        @saga_step("work", fan_out=lambda n: list(range(n)), max_parallel=3)
        async def work(self, i: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.005)
            running -= 1
            return i * i

    result = await engine.execute(Bounded, 12)
    assert result.steps["work"].result == [i * i for i in range(12)]
    assert peak == 3


async def test_max_parallel_bounds_def_clones_on_worker_threads(engine: SagaEngine) -> None:
    lock = threading.Lock()
    running = peak = 0

    @saga("bounded-threads")
    class BoundedThreads:
        @saga_step("work", fan_out=lambda n: list(range(n)), max_parallel=2)
        def work(self, i: int) -> int:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.005)
            with lock:
                running -= 1
            return -i

    result = await engine.execute(BoundedThreads, 10)
    assert result.steps["work"].result == [-i for i in range(10)]
    assert 1 <= peak <= 2


async def test_each_clone_retries_on_its_own(engine: SagaEngine) -> None:
    calls: dict[str, int] = {}

    @saga("flaky")
    class Flaky:
        @saga_step("call", fan_out=lambda items: items, retry=2, backoff_ms=1)
        def call(self, item: str) -> str:
            calls[item] = calls.get(item, 0) + 1
            if item == "flaky" and calls[item] < 3:
                raise ConnectionError("try again")
            return item.upper()

    result = await engine.execute(Flaky, ["ok", "flaky", "fine"])
    assert result.status is SagaStatus.SUCCEEDED
    assert result.steps["call"].result == ["OK", "FLAKY", "FINE"]
    assert calls == {"ok": 1, "flaky": 3, "fine": 1}
    assert [result.steps[f"call#{i}"].attempts for i in range(3)] == [1, 3, 1]
    assert len(result.steps["call#1"].attempt_log) == 3
    assert result.steps["call"].attempts == 1


async def test_a_clone_that_times_out_fails_with_its_own_timeout(engine: SagaEngine) -> None:
    @saga("slow-clone")
    class SlowClone:
        @saga_step("call", fan_out=lambda items: items, timeout_ms=50)
        async def call(self, item: str) -> str:
            if item == "slow":
                await asyncio.sleep(30)
            return item

    result = await engine.execute(SlowClone, ["quick", "slow"])
    assert result.status is SagaStatus.COMPENSATED
    error = result.steps["call#1"].error
    assert error is not None and error.type == "StepTimeoutError"
    assert result.steps["call#0"].status is StepStatus.SUCCEEDED  # no compensation declared


async def test_fan_out_over_an_earlier_steps_result_and_with_the_context(engine: SagaEngine) -> None:
    seen: list[tuple[str, str]] = []

    @saga("from-results")
    class FromResults:
        @saga_step("quote")
        def quote(self, order_id: str) -> list[str]:
            return [f"{order_id}-line{i}" for i in range(3)]

        @saga_step("pack", depends_on=["quote"], fan_out=FromStep("quote"))
        async def pack(self, line: str) -> str:
            return f"box({line})"

        @saga_step(
            "label", depends_on=["pack"], fan_out=lambda order_id, ctx: ctx.get_result("pack")[:2]
        )
        def label(self, box: str, ctx: SagaContext) -> str:
            seen.append((box, ctx.step(ctx.idempotency_key.rsplit(":", 1)[1]).status.value))
            return f"label({box})"

    result = await engine.execute(FromResults, "q7")
    assert result.status is SagaStatus.SUCCEEDED
    assert result.steps["pack"].result == [f"box(q7-line{i})" for i in range(3)]
    assert result.steps["label"].result == ["label(box(q7-line0))", "label(box(q7-line1))"]
    assert sorted(seen) == [("box(q7-line0)", "RUNNING"), ("box(q7-line1)", "RUNNING")]


@pytest.mark.parametrize(
    ("fan_out", "message"),
    [
        (lambda order: order["missing"], "raised KeyError: 'missing'"),
        (lambda order: (x for x in order["items"]), "must give a list or tuple of items, got generator"),
        (lambda order: set(order["items"]), "must give a list or tuple of items, got set"),
        (lambda order: None, "must give a list or tuple of items, got NoneType"),
    ],
)
async def test_a_selector_that_raises_or_gives_no_list_fails_the_step_cleanly(
    engine: SagaEngine, fan_out: Any, message: str
) -> None:
    log: list[str] = []

    @saga("bad-selector")
    class BadSelector:
        @saga_step("first")
        def first(self) -> str:
            log.append("first")
            return "1"

        @compensation_step("first")
        def undo_first(self, _: str) -> None:
            log.append("undo first")

        @saga_step("each", depends_on=["first"], fan_out=fan_out)
        def each(self, item: Any) -> Any:
            log.append(f"each {item}")
            return item

    result = await engine.execute(BadSelector, {"items": [1, 2]})
    assert result.status is SagaStatus.COMPENSATED
    assert log == ["first", "undo first"]
    outcome = result.steps["each"]
    assert outcome.status is StepStatus.FAILED and outcome.attempts == 1
    assert outcome.error is not None and outcome.error.type == "FanOutError"
    assert message in outcome.error.message and "fan-out step 'each'" in outcome.error.message
    assert list(result.steps) == ["first", "each"]
    raised = outcome.error.exception
    assert isinstance(raised, FanOutError) and raised.step_id == "each" and raised.clone_id is None
    if "raised" in message:
        assert isinstance(raised.__cause__, KeyError)


async def test_fan_out_with_from_step_checks_the_result_is_a_list(engine: SagaEngine) -> None:
    @saga("from-dict")
    class FromDict:
        @saga_step("quote")
        def quote(self) -> dict[str, int]:
            return {"a": 1}

        @saga_step("each", depends_on=["quote"], fan_out=FromStep("quote"))
        def each(self, item: Any) -> Any:
            return item

    result = await engine.execute(FromDict)
    error = result.steps["each"].error
    assert error is not None
    assert "fan_out (FromStep('quote')) must give a list or tuple of items, got dict" in error.message


async def test_thousands_of_items_finish(engine: SagaEngine) -> None:
    @saga("many")
    class Many:
        @saga_step("double", fan_out=lambda n: list(range(n)))
        async def double(self, i: int) -> int:
            return 2 * i

        @saga_step("square", depends_on=["double"], fan_out=FromStep("double"), max_parallel=16)
        def square(self, i: int) -> int:
            return i * i

    result = await engine.execute(Many, 2000)
    assert result.status is SagaStatus.SUCCEEDED
    assert result.steps["square"].result == [(2 * i) ** 2 for i in range(2000)]
    assert len(result.steps) == 2 + 2 * 2000


async def test_listeners_and_the_context_see_every_clone(engine: SagaEngine) -> None:
    events: list[AttemptFinished] = []
    views: dict[str, str] = {}

    class Collect:
        def on_event(self, event: Any) -> None:
            if isinstance(event, AttemptFinished):
                events.append(event)

    @saga("observed")
    class Observed:
        @saga_step("each", fan_out=lambda items: items)
        async def each(self, item: int) -> int:
            return item + 1

        @saga_step("after", depends_on=["each"])
        def after(self, ctx: SagaContext) -> None:
            views.update({k: v.status.value for k, v in ctx.steps.items()})
            progress = ctx.to_dict()["steps"]
            views["each#1 result"] = progress["each#1"]["result"]

    engine.add_listener(Collect())
    result = await engine.execute(Observed, [10, 20])
    assert engine.flush_listeners(5)
    assert result.status is SagaStatus.SUCCEEDED
    units = sorted((e.phase.value, e.unit_id) for e in events)
    assert units == [("step", "after"), ("step", "each"), ("step", "each#0"), ("step", "each#1")]
    finished = {e.unit_id: e.result for e in events if e.phase is Phase.STEP}
    assert finished["each#1"] == 21 and finished["each"] == [11, 21]
    assert views == {
        "each": "SUCCEEDED", "each#0": "SUCCEEDED", "each#1": "SUCCEEDED", "after": "RUNNING",
        "each#1 result": 21,
    }


async def test_cancelling_the_caller_mid_fan_out_undoes_the_completed_clones() -> None:
    log: list[str] = []
    entered = threading.Event()

    @saga("cancel-fan-out")
    class CancelFanOut:
        @saga_step("each", fan_out=lambda items: items)
        async def each(self, item: str) -> str:
            if item == "hang":
                entered.set()
                await asyncio.sleep(30)
            log.append(f"done {item}")
            return item

        @compensation_step("each")
        async def undo(self, item: str) -> None:
            log.append(f"undo {item}")

    async with SagaEngine() as engine:
        task = asyncio.create_task(engine.execute(CancelFanOut, ["quick", "hang"]))
        while not (entered.is_set() and "done quick" in log):
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert log == ["done quick", "undo quick"]
        assert engine.runs_in_flight == 0


def test_fan_out_mistakes_are_definition_errors() -> None:
    with pytest.raises(DefinitionError) as raised:

        @saga("wrong")
        class Wrong:
            @saga_step("a", max_parallel=2)
            def a(self) -> None: ...

            @saga_step("b", fan_out=[1, 2])
            def b(self) -> None: ...

            @saga_step("c", fan_out=lambda x: x, max_parallel=0)
            def c(self, item: int) -> None: ...

            @saga_step("d", fan_out=FromStep("a"))
            def d(self, item: int) -> None: ...

            @saga_step("e", fan_out=lambda: [1])
            def e(self, item: int) -> None: ...

            @saga_step("f")
            def f(self) -> None: ...

            @compensation_step("f")
            def undo_f(self, _: None, item: Annotated[int, FanOutItem()]) -> None: ...

            @saga_step("c#1")
            def c1(self) -> None: ...

            @saga_step("g", fan_out=FromStep("nowhere"))
            def g(self, item: int) -> None: ...

    text = "\n".join(raised.value.problems)
    assert "max_parallel bounds the clones of a fan-out step" in text
    assert "fan_out must be a function of the saga input" in text
    assert "max_parallel must be an int >= 1, got 0" in text
    assert "fans out over FromStep('a') but does not depend on it; add depends_on=['a']" in text
    assert "fan_out must take the saga input" in text
    assert "compensation of 'f' takes a FanOutItem parameter" in text
    assert "step id 'c#1' reads as a clone of fan-out step 'c'" in text
    assert "FromStep('nowhere'), which is no step of the saga" in text


def test_an_async_selector_is_refused() -> None:
    async def items(order: Any) -> list[Any]:
        return []

    with pytest.raises(DefinitionError, match="fan_out must be a plain function"):

        @saga("async-selector")
        class AsyncSelector:
            @saga_step("a", fan_out=items)
            def a(self, item: int) -> None: ...


def test_the_spec_keeps_the_fan_out() -> None:
    spec = definition_of(shipping_saga([], max_parallel=4)).step("ship")
    assert spec.fan_out is not None and spec.fan_out.max_parallel == 4
    assert definition_of(shipping_saga([])).step("reserve").fan_out is None


async def test_the_run_view_and_timeline_show_each_clone_after_its_step(
    engine: SagaEngine, dot_svg: Any, mermaid_parse: Any
) -> None:
    from fireflytx.topology import run_view, timeline

    log: list[str] = []
    cls = shipping_saga(log, max_parallel=1)
    result = await engine.execute(cls, _order("a", "bad", "c"))
    view = run_view(result, cls)
    assert [s.step_id for s in view.steps] == ["reserve", "ship", "ship#0", "ship#1", "ship#2", "bill"]
    clone = view.step("ship#0")
    assert (clone.status, clone.depends_on, clone.layer) == (StepStatus.COMPENSATED, ("ship",), 1)
    assert clone.compensation.method == "unship"
    text = view.to_ascii()
    assert "✗ ship#1 · FAILED" in text and "○ ship#2 · not run" in text
    assert "undone: ship#0, reserve" in text
    lanes = [lane.label for lane in timeline(result, cls).lanes]
    assert lanes[:5] == ["reserve", "↺ release", "ship", "ship#0", "↺ unship"]
    assert "ship#1" in lanes
    assert mermaid_parse([view.to_mermaid()])[0]["ok"]
    assert "ship#2" in dot_svg(view.to_dot())
