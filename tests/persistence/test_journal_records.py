"""The records a journal writes from real runs of both engines, on every store.

The journal here is the thinnest possible: each checkpoint event, mapped by ``_events``, becomes one
store write. What is checked is that the records hold what recovery will need: the input, each
final step, compensation and phase with its result as its own type or its error, the TCC decision,
and the end with the run view.
"""

from __future__ import annotations

import dataclasses
import math

from pydantic import BaseModel

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
from fireflytx._persistence import (
    TransactionStore,
    checkpoint_of,
    decode,
    final_result_of,
    idempotency_key,
    new_transaction_of,
)
from fireflytx._persistence._errors import UnstorableValueError
from fireflytx.listeners import (
    AttemptFinished,
    DecisionMade,
    RunEvent,
    TransactionFinished,
    TransactionStarted,
)

OWNER = "process-1"


class StoreJournal:
    def __init__(self, store: TransactionStore) -> None:
        self.store = store

    async def record(self, event: RunEvent) -> None:
        cid = event.correlation_id
        if isinstance(event, TransactionStarted):
            await self.store.create(new_transaction_of(event, "fingerprint"), owner=OWNER, lease_s=60)
        elif isinstance(event, AttemptFinished):
            await self.store.append(cid, checkpoint_of(event), owner=OWNER)
        elif isinstance(event, DecisionMade):
            await self.store.decide(cid, event.decision.value, owner=OWNER)
        elif isinstance(event, TransactionFinished):
            await self.store.set_status(cid, event.status, owner=OWNER, result=final_result_of(event))


class Order(BaseModel):
    order_id: str
    amount: float


@dataclasses.dataclass
class Reservation:
    reservation_id: str
    items: tuple[str, ...]


@saga("stored-order")
class StoredOrder:
    @saga_step("reserve", retry=2, backoff_ms=1)
    async def reserve(self, order: Order) -> Reservation:
        return Reservation(f"R-{order.order_id}", ("book", "pen"))

    @compensation_step("reserve")
    async def release(self, reservation: Reservation) -> None: ...

    @saga_step("charge", depends_on=["reserve"])
    def charge(self, order: Order) -> dict[str, float]:
        if order.amount > 100:
            raise ValueError("card declined")
        return {"charged": order.amount}


async def test_a_saga_that_succeeds_is_stored_step_by_step(store: TransactionStore) -> None:
    async with SagaEngine(listeners=[StoreJournal(store)]) as engine:
        result = await engine.execute(
            StoredOrder, {"order_id": "O-1", "amount": 10}, correlation_id="saga-ok", headers={"tenant": "t"}
        )
    assert result.status is SagaStatus.SUCCEEDED
    stored = await store.get("saga-ok")
    assert stored is not None
    record = stored.record
    assert (record.kind, record.name, record.status, record.owner) == (
        "saga",
        "stored-order",
        "SUCCEEDED",
        None,
    )
    assert record.headers == {"tenant": "t"} and record.fingerprint == "fingerprint"
    assert decode(record.input) == {"order_id": "O-1", "amount": 10}
    assert [(c.phase, c.unit_id) for c in stored.checkpoints] == [("step", "reserve"), ("step", "charge")]
    reserve = stored.checkpoint("step", "reserve")
    assert reserve is not None and reserve.attempts == 1
    assert decode(reserve.result) == Reservation("R-O-1", ("book", "pen"))
    assert reserve.idempotency_key == idempotency_key("saga-ok", "step", "reserve")
    assert record.result["status"] == "SUCCEEDED" and record.result["failed_steps"] == []
    assert record.result["completed_at"] >= record.result["started_at"]


async def test_a_compensated_saga_stores_the_failure_and_each_compensation(store: TransactionStore) -> None:
    async with SagaEngine(listeners=[StoreJournal(store)]) as engine:
        result = await engine.execute(
            StoredOrder, {"order_id": "O-2", "amount": 500}, correlation_id="saga-comp"
        )
    assert result.status is SagaStatus.COMPENSATED
    stored = await store.get("saga-comp")
    assert stored is not None and stored.record.status == "COMPENSATED"
    assert [(c.phase, c.unit_id) for c in stored.checkpoints] == [
        ("step", "reserve"),
        ("step", "charge"),
        ("compensation", "reserve"),
    ]
    assert stored.record.result["failed_steps"] == ["charge"]
    assert stored.record.result["compensated_steps"] == ["reserve"]
    charge = stored.checkpoint("step", "charge")
    assert charge is not None and charge.error is not None and charge.result is None
    assert (charge.error.type, charge.error.message) == ("ValueError", "card declined")


async def test_a_result_no_store_can_hold_fails_its_step_naming_the_type(store: TransactionStore) -> None:
    @saga("unstorable")
    class Unstorable:
        @saga_step("ratio")
        def ratio(self) -> dict[str, float]:
            return {"ratio": math.nan}

    async with SagaEngine(listeners=[StoreJournal(store)]) as engine:
        result = await engine.execute(Unstorable, correlation_id="saga-nan")
    error = result.steps["ratio"].error
    assert error is not None and error.type == "JournalError" and error.exception is not None
    cause = error.exception.__cause__
    assert isinstance(cause, UnstorableValueError) and "non-finite float" in cause.type_name
    assert "result of step 'ratio'" in str(cause)
    stored = await store.get("saga-nan")
    assert stored is not None and stored.record.status == result.status.value


@tcc("stored-tcc")
class StoredTcc:
    @tcc_participant("payment", order=1)
    class Payment:
        @try_method
        async def hold(self, order: Order) -> Order:
            return order

        @confirm_method
        async def capture(self, held: Order) -> None: ...

        @cancel_method
        async def void(self, held: Order | None) -> None: ...

    @tcc_participant("stock", order=2)
    class Stock:
        @try_method
        def reserve(self) -> str:
            return "S-1"

        @confirm_method
        def commit(self, _: str) -> None: ...

        @cancel_method
        def free(self, _: str | None) -> None: ...


async def test_a_tcc_stores_its_tries_its_decision_and_its_confirms(store: TransactionStore) -> None:
    async with TccEngine(listeners=[StoreJournal(store)]) as engine:
        result = await engine.execute(StoredTcc, {"order_id": "O-3", "amount": 1}, correlation_id="tcc-ok")
    assert result.status is TccStatus.CONFIRMED
    stored = await store.get("tcc-ok")
    assert stored is not None
    assert stored.record.kind == "tcc" and stored.record.decision == "CONFIRM"
    assert stored.record.status == "CONFIRMED" and stored.record.result["failed_participant"] is None
    assert {(c.phase, c.unit_id) for c in stored.checkpoints} == {
        ("try", "payment"),
        ("try", "stock"),
        ("confirm", "payment"),
        ("confirm", "stock"),
    }
    held = stored.checkpoint("try", "payment")
    assert held is not None and decode(held.result) == Order(order_id="O-3", amount=1)
    tries = max(c.seq for c in stored.checkpoints if c.phase == "try")
    assert all(c.seq > tries for c in stored.checkpoints if c.phase == "confirm")
