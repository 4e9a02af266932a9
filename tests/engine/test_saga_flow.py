"""Data flow, results and context, against the real engine."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

import pytest
from pydantic import BaseModel

from fireflytx import (
    FromStep,
    InputValidationError,
    SagaContext,
    SagaEngine,
    SagaStatus,
    StepStatus,
    UnsupportedResultError,
    compensation_step,
    saga,
    saga_step,
)


class Order(BaseModel):
    order_id: str
    amount: float


@dataclass
class Reservation:
    reservation_id: str
    order_id: str


@saga("flow")
class FlowSaga:
    @saga_step("reserve")
    async def reserve(self, order: Order, ctx: SagaContext) -> Reservation:
        ctx.set_data("seen_header", ctx.get_header("tenant"))
        return Reservation(f"R-{order.order_id}", order.order_id)

    @saga_step("price", depends_on=["reserve"])
    def price(self, order: Order) -> dict[str, float]:
        return {"amount": order.amount * 2}

    @saga_step("confirm", depends_on=["price"])
    async def confirm(
        self,
        raw: dict[str, object],
        ctx: SagaContext,
        reservation: Annotated[Reservation, FromStep("reserve")],
    ) -> dict[str, object]:
        ctx.put_header("confirmed", "yes")
        return {
            "raw_input": raw,
            "reservation": reservation.reservation_id,
            "price": ctx.get_result("price"),
            "saga": ctx.saga_name,
            "cid": ctx.correlation_id,
        }


async def test_inputs_results_context_and_headers(engine: SagaEngine) -> None:
    result = await engine.execute(
        FlowSaga, {"order_id": "O1", "amount": 5}, correlation_id="cid-1", headers={"tenant": "acme"}
    )
    assert result.is_success and result.status is SagaStatus.SUCCEEDED
    assert result.correlation_id == "cid-1" and result.saga_name == "flow"
    assert result.result_of("reserve") == Reservation("R-O1", "O1")
    assert result.result_of("price") == {"amount": 10.0}
    assert result.result_of("confirm") == {
        "raw_input": {"order_id": "O1", "amount": 5},
        "reservation": "R-O1",
        "price": {"amount": 10.0},
        "saga": "flow",
        "cid": "cid-1",
    }
    assert result.context == {
        "variables": {"seen_header": "acme"},
        "headers": {"tenant": "acme", "confirmed": "yes"},
    }
    assert [s.status for s in result.steps.values()] == [StepStatus.SUCCEEDED] * 3
    assert all(s.attempts == 1 for s in result.steps.values())
    assert result.steps["price"].started_at >= result.steps["reserve"].completed_at  # type: ignore[operator]
    assert result.failed_step is None and result.error is None
    assert "SUCCEEDED" in repr(result) and "<table>" in result._repr_html_()
    assert result.to_json_dict()["steps"]["reserve"]["result"] == {"reservation_id": "R-O1", "order_id": "O1"}
    with pytest.raises(KeyError, match="no step 'nope'"):
        result.result_of("nope")


async def test_bad_input_is_rejected_before_any_step_runs(engine: SagaEngine) -> None:
    with pytest.raises(InputValidationError) as info:
        await engine.execute(FlowSaga, {"order_id": "O1", "amount": "lots"})
    assert info.value.step_id == "reserve" and "Order" in str(info.value)


async def test_instance_keeps_state_and_unsupported_results_fail_the_step(engine: SagaEngine) -> None:
    @saga("odd-result")
    class OddResult:
        def __init__(self) -> None:
            self.calls = 0

        @saga_step("a")
        def a(self) -> object:
            self.calls += 1
            return object()

    instance = OddResult()
    result = await engine.execute(instance)
    assert result.status is SagaStatus.COMPENSATED
    error = result.steps["a"].error
    assert error is not None and error.type == "UnsupportedResultError"
    assert isinstance(error.exception, UnsupportedResultError)
    assert instance.calls == 1


async def test_python_exception_comes_back_as_the_same_object(engine: SagaEngine) -> None:
    raised: list[BaseException] = []

    @saga("raises")
    class Raises:
        @saga_step("a")
        async def a(self) -> None:
            exc = LookupError("no such order")
            raised.append(exc)
            raise exc

    result = await engine.execute(Raises)
    error = result.steps["a"].error
    assert error is not None
    assert error.exception is raised[0]
    assert error.type == "LookupError" and error.message == "no such order"
    assert "raise exc" in error.traceback
    assert result.failed_steps == ("a",) and result.failed_step == "a"


async def test_many_runs_in_flight_on_one_engine(engine: SagaEngine) -> None:
    @saga("parallel-runs")
    class Echo:
        @saga_step("a")
        async def a(self, n: int) -> int:
            await asyncio.sleep(0.01)
            return n

        @saga_step("b", depends_on=["a"])
        def b(self, n: int, got: Annotated[int, FromStep("a")]) -> int:
            return n + got

    results = await asyncio.gather(*(engine.execute(Echo, n) for n in range(300)))
    assert [r.result_of("b") for r in results] == [2 * n for n in range(300)]
    assert len({r.correlation_id for r in results}) == 300


async def test_compensation_receives_its_steps_result_not_the_input(engine: SagaEngine) -> None:
    seen: list[object] = []

    @saga("comp-arg")
    class CompArg:
        @saga_step("a")
        def a(self, order: dict[str, str]) -> dict[str, str]:
            return {"made": order["id"]}

        @compensation_step("a")
        def undo(self, made: dict[str, str]) -> None:
            seen.append(made)

        @saga_step("b", depends_on=["a"])
        def b(self) -> None:
            raise RuntimeError("b fails")

    result = await engine.execute(CompArg, {"id": "X"})
    assert seen == [{"made": "X"}]
    assert result.compensated_steps == ("a",)


async def test_results_pickle_with_their_step_outcomes(engine: SagaEngine) -> None:
    import pickle

    @saga("pickled")
    class Pickled:
        @saga_step("a")
        def a(self) -> dict[str, int]:
            return {"n": 1}

        @compensation_step("a")
        def undo(self, _: object) -> None: ...

        @saga_step("b", depends_on=["a"])
        def b(self) -> None:
            raise KeyError("missing")

    result = await engine.execute(Pickled)
    copy = pickle.loads(pickle.dumps(result))
    assert copy.status is SagaStatus.COMPENSATED and copy.failed_steps == ("b",)
    assert copy.steps["a"].result == {"n": 1} and copy.steps["a"].compensated
    assert copy.steps["b"].error is not None and copy.steps["b"].error.type == "KeyError"
    assert 'raise KeyError("missing")' in copy.steps["b"].error.traceback
    assert copy.to_json_dict()["steps"]["b"]["error"]["type"] == "KeyError"
