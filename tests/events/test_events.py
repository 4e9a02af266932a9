"""The events a run publishes: their order, their envelope, and what ``@step_events`` chooses."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from fireflytx import (
    FireflyTxSettings,
    SagaEngine,
    SagaStatus,
    TccEngine,
    TccStatus,
    cancel_method,
    compensation_step,
    confirm_method,
    definition_of,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx.config import EventsConfig
from fireflytx.events import (
    EventEnvelope,
    EventObserver,
    EventRecorder,
    StepEvents,
    envelope_schema,
    event_line,
    step_events,
)
from fireflytx.events._schema import generated_schema


def validate(events: list[dict[str, Any]]) -> None:
    """Every envelope fits the committed schema and the model, and survives JSON."""
    schema = envelope_schema()
    for event in events:
        wire = json.loads(json.dumps(event))
        jsonschema.validate(wire, schema, format_checker=jsonschema.FormatChecker())
        EventEnvelope.model_validate(wire)


@saga("order")
class Order:
    @saga_step("reserve")
    async def reserve(self, order: dict) -> dict:
        return {"reservation": "R-1"}

    @compensation_step("reserve")
    async def release(self, reservation: dict) -> None:
        return None

    @saga_step("charge", depends_on=["reserve"], retry=1, backoff_ms=1)
    def charge(self, order: dict) -> dict:
        if order.get("declined"):
            raise ValueError("card declined")
        return {"charged": order["amount"]}


async def run_recorded(cls: Any, value: Any, **kwargs: Any) -> tuple[Any, EventRecorder]:
    recorder = EventRecorder()
    async with SagaEngine(listeners=[EventObserver(recorder, kwargs.pop("config", None))]) as engine:
        result = await engine.execute(cls, value, correlation_id="cid-1", headers={"tenant": "t1"}, **kwargs)
    return result, recorder


def test_the_committed_schema_is_what_the_envelope_model_generates() -> None:
    assert envelope_schema() == generated_schema(), (
        "envelope.schema.json is stale: run `python -m fireflytx.events._schema` and commit it"
    )


async def test_a_compensated_saga_publishes_every_attempt_retry_and_compensation_in_order() -> None:
    result, recorder = await run_recorded(Order, {"amount": 5, "declined": True})
    assert result.status is SagaStatus.COMPENSATED
    events = recorder.of("cid-1")
    assert [(e["type"], e["unit_id"], e["attempt"], e["will_retry"]) for e in events] == [
        ("TRANSACTION_STARTED", None, None, None),
        ("STEP_STARTED", "reserve", 1, None),
        ("STEP_SUCCEEDED", "reserve", 1, None),
        ("STEP_STARTED", "charge", 1, None),
        ("STEP_FAILED", "charge", 1, True),
        ("STEP_RETRYING", "charge", 2, True),
        ("STEP_STARTED", "charge", 2, None),
        ("STEP_FAILED", "charge", 2, False),
        ("COMPENSATION_STARTED", "reserve", 1, None),
        ("COMPENSATION_SUCCEEDED", "reserve", 1, None),
        ("TRANSACTION_FINISHED", None, None, None),
    ]
    assert [e["sequence"] for e in events] == list(range(len(events)))
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["headers"] == {"tenant": "t1"} and e["transaction_name"] == "order" for e in events)
    assert events[4]["error"] == {"type": "ValueError", "message": "card declined"}
    assert events[-1]["status"] == "COMPENSATED" and events[-1]["duration_ms"] > 0
    assert all(e["payload"] is None for e in events)
    validate(events)
    assert "STEP_FAILED" in event_line(events[4]) and "card declined" in event_line(events[4])


@step_events(topic="orders", include_payload=True)
@saga("tuned-order")
class TunedOrder:
    @step_events(on_start=False)
    @saga_step("reserve")
    async def reserve(self, order: dict) -> dict:
        return {"reservation": "R-1", "card": "4111"}

    @saga_step("charge", depends_on=["reserve"])
    @step_events(topic="payments", on_success=False, include_payload=False)
    async def charge(self, order: dict) -> dict:
        return {"charged": order["amount"]}


def test_step_events_on_a_saga_and_its_steps_is_carried_by_the_spec() -> None:
    spec = definition_of(TunedOrder)
    assert spec.events == StepEvents(topic="orders", include_payload=True)
    assert spec.step("reserve").events == StepEvents(on_start=False)
    assert spec.step("charge").events == StepEvents(topic="payments", on_success=False, include_payload=False)


def test_step_events_rejects_options_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match="topic"):
        step_events(topic="")
    with pytest.raises(TypeError, match="on_start"):
        step_events(on_start="yes")  # type: ignore[arg-type]


async def test_step_events_choose_topics_events_and_payloads_and_redaction_sees_every_payload() -> None:
    seen: list[tuple[str, str | None]] = []

    def redact(kind: str, unit_id: str | None, payload: Any) -> Any:
        seen.append((kind, unit_id))
        return {k: ("***" if k == "card" else v) for k, v in payload.items()}

    recorder = EventRecorder()
    observer = EventObserver(recorder, EventsConfig(topic="default-topic"), redact=redact)
    async with SagaEngine(listeners=[observer]) as engine:
        result = await engine.execute(TunedOrder, {"amount": 7}, correlation_id="cid-2")
    assert result.is_success
    sent = [(topic, e["type"], e["unit_id"], e["payload"]) for topic, e in recorder.records]
    assert sent == [
        ("orders", "TRANSACTION_STARTED", None, {"amount": 7}),
        ("orders", "STEP_SUCCEEDED", "reserve", {"reservation": "R-1", "card": "***"}),
        ("payments", "STEP_STARTED", "charge", None),
        ("orders", "TRANSACTION_FINISHED", None, None),
    ]
    assert seen == [("TRANSACTION_STARTED", None), ("STEP_SUCCEEDED", "reserve")]
    validate(recorder.events)


@tcc("checkout")
class Checkout:
    @tcc_participant("payment", order=1)
    class Payment:
        @try_method
        async def hold(self, order: dict) -> dict:
            return {"hold": 1}

        @confirm_method
        async def capture(self, hold: dict) -> None:
            return None

        @cancel_method
        async def release(self, hold: dict | None) -> None:
            return None

    @tcc_participant("stock", order=2)
    class Stock:
        @try_method
        async def reserve(self, order: dict) -> dict:
            if order.get("out_of_stock"):
                raise LookupError("no stock")
            return {"stock": 1}

        @confirm_method
        async def commit(self, stock: dict) -> None:
            return None

        @cancel_method
        async def undo(self, stock: dict | None) -> None:
            return None


@pytest.mark.parametrize(
    ("value", "status", "decision", "phase"),
    [
        ({}, TccStatus.CONFIRMED, "CONFIRM", "CONFIRM"),
        ({"out_of_stock": True}, TccStatus.CANCELED, "CANCEL", "CANCEL"),
    ],
)
async def test_a_tcc_publishes_its_tries_decision_and_second_phase(
    value: dict, status: TccStatus, decision: str, phase: str
) -> None:
    recorder = EventRecorder()
    async with TccEngine(listeners=[EventObserver(recorder)]) as engine:
        result = await engine.execute(Checkout, value, correlation_id="tcc-1")
    assert result.status is status
    events = recorder.of("tcc-1")
    types = [e["type"] for e in events]
    assert types[0] == "TRANSACTION_STARTED" and types[-1] == "TRANSACTION_FINISHED"
    assert events[-1]["status"] == str(status)
    tries = [t for t in types if t.startswith("TCC_TRY")]
    assert tries[:2] == ["TCC_TRY_STARTED", "TCC_TRY_SUCCEEDED"]
    decided = types.index("TCC_DECISION")
    assert events[decided]["status"] == decision
    assert all(t.startswith("TCC_TRY") for t in types[1:decided])
    second = types[decided + 1 : -1]
    assert second and all(t.startswith(f"TCC_{phase}_") for t in second)
    assert {e["unit_id"] for e in events[decided + 1 : -1]} == {"payment", "stock"}
    assert all(e["transaction_kind"] == "tcc" for e in events)
    validate(events)


class ClosingRecorder(EventRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.closed: list[float] = []

    def close(self, timeout: float) -> bool:
        self.closed.append(timeout)
        return True


async def test_engine_shutdown_closes_the_publisher_with_the_configured_time_limit() -> None:
    recorder = ClosingRecorder()
    settings = FireflyTxSettings(events=EventsConfig(close_timeout_s=2.5))
    async with SagaEngine(settings, listeners=[EventObserver(recorder)]) as engine:
        await engine.execute(Order, {"amount": 1})
        assert recorder.closed == []
    assert recorder.closed == [2.5]
    assert [e["type"] for e in recorder.events][-1] == "TRANSACTION_FINISHED"


async def test_a_publisher_that_raises_is_counted_and_changes_no_outcome() -> None:
    class Broken(EventRecorder):
        def publish(self, topic: str, key: bytes, value: bytes) -> None:
            raise ConnectionError("broker gone")

    async with SagaEngine(listeners=[EventObserver(Broken())]) as engine:
        result = await engine.execute(Order, {"amount": 1})
        assert engine.flush_listeners(10)
        assert engine.listener_errors > 0
    assert result.is_success


def scrub(kind: str, unit_id: str | None, payload: Any) -> Any:
    return "scrubbed"


async def test_the_redaction_hook_can_be_named_in_the_settings_and_a_bad_name_is_explained() -> None:
    config = EventsConfig(include_payload=True, redact=f"{__name__}:scrub")
    recorder = EventRecorder()
    async with SagaEngine(listeners=[EventObserver(recorder, config)]) as engine:
        await engine.execute(Order, {"amount": 2}, correlation_id="cid-3")
    payloads = {e["type"]: e["payload"] for e in recorder.of("cid-3")}
    assert payloads["TRANSACTION_STARTED"] == "scrubbed" and payloads["STEP_SUCCEEDED"] == "scrubbed"
    with pytest.raises(ValueError, match="module:function"):
        EventObserver(recorder, EventsConfig(redact="no_colon"))
    with pytest.raises(ValueError, match="cannot be imported"):
        EventObserver(recorder, EventsConfig(redact=f"{__name__}:missing"))


async def test_recorded_events_show_as_a_table_in_notebooks_and_terminals() -> None:
    _, recorder = await run_recorded(Order, {"amount": 5, "declined": True})
    html = recorder._repr_html_()
    assert html.count("<tr>") == len(recorder) + 1
    assert "STEP_FAILED" in html and "ValueError: card declined (will retry)" in html
    console = Console(record=True, width=200)
    console.print(recorder)
    text = console.export_text()
    assert "COMPENSATION_SUCCEEDED" in text and "TRANSACTION_FINISHED" in text and "COMPENSATED" in text
    assert [e.type for e in recorder.envelopes()][-1] == "TRANSACTION_FINISHED"


class InlineRecorder(EventRecorder):
    """A recorder that asks to be called on the run's thread, as the Kafka publisher does."""

    inline = True

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def publish(self, topic: str, key: bytes, value: bytes) -> None:
        self.threads.add(threading.current_thread().name)
        super().publish(topic, key, value)


def test_an_event_observer_is_inline_only_when_its_publisher_is_and_no_redaction_hook_is_set() -> None:
    assert EventObserver(InlineRecorder()).inline is True
    assert EventObserver(EventRecorder()).inline is False  # on_publish callbacks are user code
    assert EventObserver(InlineRecorder(), redact=scrub).inline is False


async def test_an_inline_observer_that_raises_changes_no_outcome_and_is_counted() -> None:
    calls: list[str] = []

    class Raising:
        inline = True

        def on_event(self, event: Any) -> None:
            calls.append(threading.current_thread().name)
            raise RuntimeError("observer bug")

    async with SagaEngine(listeners=[Raising()]) as engine:
        declined = await engine.execute(Order, {"amount": 5, "declined": True})
        paid = await engine.execute(Order, {"amount": 5})
        assert engine.listener_errors == len(calls) > 0
    assert declined.status is SagaStatus.COMPENSATED and declined.compensated_steps == ("reserve",)
    assert paid.status is SagaStatus.SUCCEEDED and paid.result_of("charge") == {"charged": 5}
    assert not any(name.startswith("fireflytx-observers") for name in calls)  # called where events happen


@saga("parallel-sync")
class ParallelSync:
    """A -> (B || C || D) -> E, all ``def`` steps: B, C and D end on worker threads at the same time."""

    @saga_step("a")
    def a(self, value: int) -> int:
        return value

    @saga_step("b", depends_on=["a"])
    def b(self, value: int) -> int:
        return value

    @saga_step("c", depends_on=["a"])
    def c(self, value: int) -> int:
        return value

    @saga_step("d", depends_on=["a"])
    def d(self, value: int) -> int:
        return value

    @saga_step("e", depends_on=["b", "c", "d"])
    def e(self, value: int) -> int:
        return value


async def test_inline_events_of_parallel_steps_on_worker_threads_keep_one_order_per_run() -> None:
    recorder = InlineRecorder()
    async with SagaEngine(listeners=[EventObserver(recorder)]) as engine:
        ids = [f"par-{i}" for i in range(300)]
        results = await asyncio.gather(*(engine.execute(ParallelSync, 1, correlation_id=c) for c in ids))
        assert engine.listener_errors == 0
    assert all(r.is_success for r in results)
    assert len(recorder.threads) > 1  # published from the loop and from worker threads
    for cid in ids:
        events = recorder.of(cid)
        assert [e["sequence"] for e in events] == list(range(12)), cid  # in the order they were published
        kinds = [(e["type"], e["unit_id"]) for e in events]
        assert kinds[0] == ("TRANSACTION_STARTED", None) and kinds[-1] == ("TRANSACTION_FINISHED", None)
        position = {kind: i for i, kind in enumerate(kinds)}
        for unit in "abcde":
            assert position[("STEP_STARTED", unit)] < position[("STEP_SUCCEEDED", unit)], cid
        assert max(position[("STEP_SUCCEEDED", u)] for u in "bcd") < position[("STEP_STARTED", "e")], cid
        assert position[("STEP_SUCCEEDED", "a")] < min(position[("STEP_STARTED", u)] for u in "bcd"), cid
