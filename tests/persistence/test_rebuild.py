"""Finished transactions read back from every store as the results their runs returned, and views of records.

The records are written the way the journal writes them: from the events of real runs (compared
with the results those runs returned), or through the store API with the same content.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import time
from typing import Annotated

import pytest
from pydantic import BaseModel
from rich.console import Console

from fireflytx import (
    FromStep,
    SagaEngine,
    SagaResult,
    SagaStatus,
    StepStatus,
    TccEngine,
    TccResult,
    TccStatus,
    cancel_method,
    compensation_step,
    confirm_method,
    definition_of,
    saga,
    saga_step,
    tcc,
    tcc_definition_of,
    tcc_participant,
    try_method,
)
from fireflytx._persistence import (
    Checkpoint,
    ErrorInfo,
    NewTransaction,
    TransactionStore,
    TypeRegistry,
    checkpoint_of,
    encode,
    final_result_of,
    idempotency_key,
    new_transaction_of,
)
from fireflytx._persistence._errors import TransactionNotFinishedError, UnrestorableValueError
from fireflytx._persistence._fingerprint import fingerprint_of
from fireflytx._persistence._rebuild import result_of
from fireflytx._persistence._view import StoredRun
from fireflytx._tcc._results import TccParticipantStatus, TccPhaseStatus
from fireflytx.listeners import (
    AttemptFinished,
    DecisionMade,
    RunEvent,
    TransactionFinished,
    TransactionStarted,
)

OWNER = "process-1"


class Journal:
    """Each checkpoint event becomes one store write, with the definition's real fingerprint."""

    def __init__(self, store: TransactionStore, *transactions: type) -> None:
        self.store = store
        self.fingerprints = {}
        for cls in transactions:
            spec = cls.__fireflytx_definition__
            self.fingerprints[spec.name] = fingerprint_of(spec)

    async def record(self, event: RunEvent) -> None:
        cid = event.correlation_id
        if isinstance(event, TransactionStarted):
            new = new_transaction_of(event, self.fingerprints[event.name])
            await self.store.create(new, owner=OWNER, lease_s=60)
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


_flaky: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _first_reserve_fails_again() -> None:
    _flaky.clear()


@saga("rebuilt-order")
class RebuiltOrder:
    @saga_step("reserve", retry=2, backoff_ms=1)
    async def reserve(self, order: Order) -> Reservation:
        seen = _flaky[order.order_id] = _flaky.get(order.order_id, 0) + 1
        if seen == 1:
            raise ConnectionError("stock service busy")
        return Reservation(f"R-{order.order_id}", ("book", "pen"))

    @compensation_step("reserve")
    async def release(self, reservation: Reservation) -> None: ...

    @saga_step("quote", depends_on=["reserve"])
    def quote(self, order: Order) -> Order:
        return Order(order_id=order.order_id, amount=order.amount * 2)

    @saga_step("charge", depends_on=["quote"])
    def charge(self, quoted: Annotated[Order, FromStep("quote")]) -> dict[str, float]:
        if quoted.amount > 100:
            raise ValueError("card declined")
        return {"charged": quoted.amount}

    @saga_step("ship", depends_on=["charge"])
    def ship(self) -> str:
        return "shipped"


@tcc("rebuilt-tcc")
class RebuiltTcc:
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
        def reserve(self, order: Order) -> str:
            if order.amount > 100:
                raise ValueError("out of stock")
            return "S-1"

        @confirm_method
        def commit(self, _: str) -> None: ...

        @cancel_method
        def free(self, _: str | None) -> None: ...

    @tcc_participant("audit", order=3)
    class Audit:
        @try_method
        def note(self) -> None: ...

        @confirm_method
        def keep(self) -> None: ...

        @cancel_method
        def drop(self) -> None: ...


def _error(error: object) -> tuple[str, str] | None:
    return None if error is None else (error.type, error.message)  # type: ignore[attr-defined]


def assert_same_saga(rebuilt: SagaResult | TccResult, live: SagaResult) -> None:
    assert isinstance(rebuilt, SagaResult)
    assert (rebuilt.saga_name, rebuilt.correlation_id, rebuilt.status) == (
        live.saga_name,
        live.correlation_id,
        live.status,
    )
    assert (rebuilt.started_at, rebuilt.completed_at, rebuilt.duration_ms) == (
        live.started_at,
        live.completed_at,
        live.duration_ms,
    )
    assert (rebuilt.failed_steps, rebuilt.compensated_steps) == (live.failed_steps, live.compensated_steps)
    assert rebuilt.context == live.context
    assert list(rebuilt.steps) == list(live.steps)
    for step_id, want in live.steps.items():
        got = rebuilt.steps[step_id]
        assert (got.status, got.attempts, got.result, got.has_compensation) == (
            want.status,
            want.attempts,
            want.result,
            want.has_compensation,
        ), step_id
        assert (got.compensated, got.compensation_attempts) == (want.compensated, want.compensation_attempts)
        assert _error(got.error) == _error(want.error)
        assert _error(got.compensation_error) == _error(want.compensation_error)
        assert got.error is None or (got.error.exception is None and got.error.traceback == "")


def assert_same_tcc(rebuilt: SagaResult | TccResult, live: TccResult) -> None:
    assert isinstance(rebuilt, TccResult)
    assert (rebuilt.tcc_name, rebuilt.status, rebuilt.failed_participant) == (
        live.tcc_name,
        live.status,
        live.failed_participant,
    )
    assert (rebuilt.started_at, rebuilt.duration_ms, rebuilt.context) == (
        live.started_at,
        live.duration_ms,
        live.context,
    )
    assert list(rebuilt.participants) == list(live.participants)
    for pid, want in live.participants.items():
        got = rebuilt.participants[pid]
        assert (got.status, got.order, got.optional, got.try_result) == (
            want.status,
            want.order,
            want.optional,
            want.try_result,
        ), pid
        for phase in ("try_phase", "confirm_phase", "cancel_phase"):
            mine, theirs = getattr(got, phase), getattr(want, phase)
            assert (mine.status, mine.attempts, _error(mine.error)) == (
                theirs.status,
                theirs.attempts,
                _error(theirs.error),
            ), (pid, phase)


async def test_a_succeeded_saga_comes_back_with_its_results_as_their_own_types(
    store: TransactionStore,
) -> None:
    async with SagaEngine(listeners=[Journal(store, RebuiltOrder)]) as engine:
        live = await engine.execute(
            RebuiltOrder, {"order_id": "ok-1", "amount": 10}, correlation_id="rb-ok", headers={"tenant": "t"}
        )
    assert live.status is SagaStatus.SUCCEEDED
    stored = await store.get("rb-ok")
    assert stored is not None
    rebuilt = result_of(stored)
    assert_same_saga(rebuilt, live)
    assert isinstance(rebuilt, SagaResult)
    assert rebuilt.steps["reserve"].attempts == 2
    assert rebuilt.result_of("reserve") == Reservation("R-ok-1", ("book", "pen"))
    assert type(rebuilt.result_of("quote")) is Order and rebuilt.result_of("quote").amount == 20
    assert rebuilt.context["headers"] == {"tenant": "t"}
    assert rebuilt == pickle.loads(pickle.dumps(rebuilt))


async def test_a_compensated_saga_comes_back_with_its_failure_undo_and_steps_not_run(
    store: TransactionStore,
) -> None:
    async with SagaEngine(listeners=[Journal(store, RebuiltOrder)]) as engine:
        live = await engine.execute(
            RebuiltOrder, {"order_id": "no-1", "amount": 60}, correlation_id="rb-comp"
        )
    assert live.status is SagaStatus.COMPENSATED
    stored = await store.get("rb-comp")
    assert stored is not None
    rebuilt = result_of(stored)
    assert_same_saga(rebuilt, live)
    assert isinstance(rebuilt, SagaResult)
    assert [s.status for s in rebuilt.steps.values()] == [
        StepStatus.COMPENSATED,
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.NOT_RUN,
    ]
    assert str(rebuilt.error) == "ValueError: card declined"
    with pytest.raises(Exception, match="card declined") as raised:
        rebuilt.raise_for_status()
    assert type(raised.value).__name__ == "StepFailedError"


async def test_confirmed_and_cancelled_tccs_come_back_participant_by_participant(
    store: TransactionStore,
) -> None:
    async with TccEngine(listeners=[Journal(store, RebuiltTcc)]) as engine:
        confirmed = await engine.execute(
            RebuiltTcc, {"order_id": "t-1", "amount": 5}, correlation_id="rb-tcc-ok"
        )
        cancelled = await engine.execute(
            RebuiltTcc, {"order_id": "t-2", "amount": 500}, correlation_id="rb-tcc-no"
        )
    assert (confirmed.status, cancelled.status) == (TccStatus.CONFIRMED, TccStatus.CANCELED)
    for live in (confirmed, cancelled):
        stored = await store.get(live.correlation_id)
        assert stored is not None
        assert_same_tcc(result_of(stored), live)
    stored = await store.get("rb-tcc-no")
    assert stored is not None and stored.record.decision == "CANCEL"
    rebuilt = result_of(stored)
    assert isinstance(rebuilt, TccResult)
    assert rebuilt.participants["audit"].status is TccParticipantStatus.SKIPPED
    assert rebuilt.try_result_of("payment") == Order(order_id="t-2", amount=500)
    assert str(rebuilt.error) == "ValueError: out of stock"


# -- records written through the store API ---------------------------------------------------------


def _new(cid: str, cls: type, value: object, kind: str = "saga") -> NewTransaction:
    spec = definition_of(cls) if kind == "saga" else tcc_definition_of(cls)
    return NewTransaction(
        correlation_id=cid, kind=kind, name=spec.name, input=encode(value), fingerprint=fingerprint_of(spec)
    )


def _checkpoint(
    cid: str,
    phase: str,
    unit: str,
    result: object = None,
    *,
    error: ErrorInfo | None = None,
    attempts: int = 1,
) -> Checkpoint:
    return Checkpoint(
        phase=phase,
        unit_id=unit,
        attempts=attempts,
        idempotency_key=idempotency_key(cid, phase, unit),
        result=None if error is not None else encode(result),
        error=error,
        at=time.time(),
    )


def _summary(status: str, **fields: object) -> dict[str, object]:
    now = time.time()
    return {
        "status": status,
        "duration_ms": 12.5,
        "started_at": "2026-01-02T03:04:05.000006+00:00",
        "completed_at": "2026-01-02T03:04:05.012506+00:00",
        "context": encode({"variables": {"k": Order(order_id="ctx", amount=now % 1)}, "headers": {}}),
        **fields,
    }


async def test_a_failed_compensation_is_rebuilt_from_store_api_records(store: TransactionStore) -> None:
    cid = "api-comp-failed"
    await store.create(_new(cid, RebuiltOrder, {"order_id": "a", "amount": 1}), owner=OWNER, lease_s=60)
    reservation = Reservation("R-a", ("x",))
    await store.append(cid, _checkpoint(cid, "step", "reserve", reservation, attempts=2), owner=OWNER)
    await store.append(cid, _checkpoint(cid, "step", "quote", Order(order_id="a", amount=2)), owner=OWNER)
    declined = ErrorInfo("ValueError", "card declined")
    await store.append(cid, _checkpoint(cid, "step", "charge", error=declined, attempts=3), owner=OWNER)
    stuck = ErrorInfo("TimeoutError", "stock service gone")
    await store.append(cid, _checkpoint(cid, "compensation", "reserve", error=stuck, attempts=4), owner=OWNER)
    summary = _summary("COMPENSATION_FAILED", failed_steps=["charge"], compensated_steps=[])
    await store.set_status(cid, "COMPENSATION_FAILED", owner=OWNER, result=summary)
    stored = await store.get(cid)
    assert stored is not None

    rebuilt = result_of(stored)
    assert isinstance(rebuilt, SagaResult)
    assert rebuilt.status is SagaStatus.COMPENSATION_FAILED
    assert rebuilt.duration_ms == 12.5 and rebuilt.started_at.microsecond == 6
    reserve = rebuilt.steps["reserve"]
    assert (reserve.status, reserve.attempts, reserve.compensation_attempts) == (
        StepStatus.COMPENSATION_FAILED,
        2,
        4,
    )
    assert (
        reserve.result == reservation
        and str(reserve.compensation_error) == "TimeoutError: stock service gone"
    )
    assert rebuilt.steps["charge"].attempts == 3 and rebuilt.steps["ship"].status is StepStatus.NOT_RUN
    assert rebuilt.compensation_errors == {"reserve": reserve.compensation_error}
    variables = rebuilt.context["variables"]
    assert isinstance(variables["k"], Order) and variables["k"].order_id == "ctx"
    assert rebuilt.to_json_dict()["steps"]["reserve"]["compensation_error"]["traceback"] == ""


async def test_a_tcc_record_without_its_summary_still_names_the_failed_participant(
    store: TransactionStore,
) -> None:
    cid = "api-tcc"
    await store.create(_new(cid, RebuiltTcc, None, kind="tcc"), owner=OWNER, lease_s=60)
    await store.append(cid, _checkpoint(cid, "try", "payment", Order(order_id="p", amount=1)), owner=OWNER)
    await store.append(cid, _checkpoint(cid, "try", "stock", "S-9"), owner=OWNER)
    await store.append(cid, _checkpoint(cid, "try", "audit", None), owner=OWNER)
    assert await store.decide(cid, "CONFIRM", owner=OWNER) == "CONFIRM"
    await store.append(cid, _checkpoint(cid, "confirm", "payment"), owner=OWNER)
    refused = ErrorInfo("RuntimeError", "ledger closed")
    await store.append(cid, _checkpoint(cid, "confirm", "stock", error=refused, attempts=3), owner=OWNER)
    await store.set_status(cid, "CONFIRM_FAILED", owner=OWNER)
    stored = await store.get(cid)
    assert stored is not None

    rebuilt = result_of(stored)
    assert isinstance(rebuilt, TccResult)
    assert (rebuilt.status, rebuilt.failed_participant) == (TccStatus.CONFIRM_FAILED, "stock")
    statuses = {pid: p.status for pid, p in rebuilt.participants.items()}
    assert statuses == {
        "payment": TccParticipantStatus.CONFIRMED,
        "stock": TccParticipantStatus.CONFIRM_FAILED,
        "audit": TccParticipantStatus.TRIED,
    }
    assert rebuilt.participants["stock"].confirm_phase.attempts == 3
    assert rebuilt.participants["audit"].confirm_phase.status is TccPhaseStatus.NOT_RUN
    assert [p.order for p in rebuilt.participants.values()] == [1, 2, 3]
    assert (
        rebuilt.try_result_of("stock") == "S-9" and rebuilt.confirm_errors["stock"].message == "ledger closed"
    )


async def test_an_unfinished_record_has_no_result_but_a_view_of_its_checkpoints(
    store: TransactionStore,
) -> None:
    cid = "api-running"
    await store.create(_new(cid, RebuiltOrder, {"order_id": "r", "amount": 1}), owner=OWNER, lease_s=60)
    await store.append(cid, _checkpoint(cid, "step", "reserve", Reservation("R-r", ())), owner=OWNER)
    failed = ErrorInfo("ValueError", "quote refused")
    await store.append(cid, _checkpoint(cid, "step", "quote", error=failed, attempts=2), owner=OWNER)
    stored = await store.get(cid)
    assert stored is not None
    with pytest.raises(TransactionNotFinishedError, match="RUNNING") as raised:
        result_of(stored)
    assert raised.value.correlation_id == cid
    assert pickle.loads(pickle.dumps(raised.value)).status == "RUNNING"

    view = StoredRun.of(stored)
    assert view.result is None and view.unreadable is None
    rows = view.rows()
    assert [(r.unit, r.phase, r.status, r.attempts) for r in rows] == [
        ("reserve", "step", "SUCCEEDED", 1),
        ("quote", "step", "FAILED", 2),
        ("charge", "-", "PENDING", 0),
        ("ship", "-", "PENDING", 0),
    ]
    assert rows[0].idempotency_key == f"{cid}:step:reserve" and rows[1].error == "ValueError: quote refused"
    text = view.to_text()
    assert f"saga rebuilt-order · RUNNING · correlation_id={cid}" in text
    assert f"owner {OWNER}" in text
    assert "✗ ValueError: quote refused" in text  # the timeline's lane for the failed step
    console = Console(record=True, width=200)
    console.print(view)
    table = console.export_text()
    assert f"{cid}:step:quote" in table and "PENDING" in table
    page = view._repr_html_()
    assert "<th>idempotency key</th>" in page and "quote refused" in page
    assert view.timeline().to_svg().startswith("<?xml")


async def test_a_finished_record_is_shown_through_its_rebuilt_result(store: TransactionStore) -> None:
    async with SagaEngine(listeners=[Journal(store, RebuiltOrder)]) as engine:
        await engine.execute(RebuiltOrder, {"order_id": "v-1", "amount": 60}, correlation_id="rb-view")
    stored = await store.get("rb-view")
    assert stored is not None
    view = StoredRun.of(stored)
    assert isinstance(view.result, SagaResult)
    text = view.to_text()
    assert "failed at: charge (ValueError: card declined)" in text  # the run view's own footer
    assert "undone: reserve" in text
    console = Console(record=True, width=200)
    console.print(view)
    shown = console.export_text()
    assert "saga rebuilt-order · COMPENSATED" in shown and "rb-view:compensation:reserve" in shown
    assert "<b>saga rebuilt-order</b>" in view._repr_html_()
    assert view.to_json_dict()["result"]["status"] == "COMPENSATED"


async def test_a_class_that_cannot_be_found_leaves_the_view_readable(store: TransactionStore) -> None:
    class Local(BaseModel):
        n: int

    cid = "api-local"
    await store.create(_new(cid, RebuiltOrder, None), owner=OWNER, lease_s=60)
    await store.append(cid, _checkpoint(cid, "step", "reserve", Local(n=1)), owner=OWNER)
    await store.set_status(cid, "FAILED", owner=OWNER, result=_summary("FAILED"))
    stored = await store.get(cid)
    assert stored is not None
    with pytest.raises(UnrestorableValueError, match="defined inside a function"):
        result_of(stored)
    view = StoredRun.of(stored)
    assert view.result is None and view.unreadable is not None and "Local" in view.unreadable
    assert "result not rebuilt" in view.to_text()

    registry = TypeRegistry()
    registry.register(Local)
    rebuilt = result_of(stored, registry)
    assert isinstance(rebuilt, SagaResult) and rebuilt.result_of("reserve") == Local(n=1)


@saga("rebuilt-durations")
class Slow:
    @saga_step("wait")
    async def wait(self) -> str:
        await asyncio.sleep(0.05)
        return "waited"


async def test_a_rebuilt_step_spans_its_final_attempt_as_the_live_one_did(store: TransactionStore) -> None:
    async with SagaEngine(listeners=[Journal(store, Slow)]) as engine:
        live = await engine.execute(Slow, correlation_id="rb-slow")
    stored = await store.get("rb-slow")
    assert stored is not None
    step = result_of(stored).steps["wait"]
    # asyncio.sleep(0.05) waits at least that long: a lower bound, not a timing expectation.
    assert step.duration_ms >= 45.0
    assert step.started_at is not None and step.completed_at is not None
    spanned = (step.completed_at - step.started_at).total_seconds() * 1000
    assert spanned == pytest.approx(step.duration_ms, abs=0.01)
    assert step.duration_ms == pytest.approx(live.steps["wait"].duration_ms, abs=0.01)


async def test_a_checkpoint_written_without_its_start_rebuilds_as_a_moment(store: TransactionStore) -> None:
    old = Checkpoint.from_json(
        '{"phase":"step","unit_id":"wait","attempts":1,"key":"k","result":"waited","error":null,'
        '"at":1764500000.5,"seq":1}'
    )
    assert old.started == 0.0
    spec = definition_of(Slow)
    new = NewTransaction(correlation_id="rb-old", kind="saga", name=spec.name, input=None,
                         fingerprint=fingerprint_of(spec))
    await store.create(new, owner=OWNER, lease_s=60)
    await store.append("rb-old", old, owner=OWNER)
    await store.set_status("rb-old", "SUCCEEDED", owner=OWNER, result={"status": "SUCCEEDED"})
    stored = await store.get("rb-old")
    assert stored is not None
    step = result_of(stored).steps["wait"]
    assert step.duration_ms == 0.0 and step.started_at == step.completed_at
