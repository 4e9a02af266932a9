"""OpenTelemetry spans of real runs, and a trace carried through a run's headers into its steps."""

from __future__ import annotations

from datetime import UTC, datetime

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from fireflytx import (
    SagaContext,
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
from fireflytx.listeners import TransactionKind, TransactionStarted
from fireflytx.tracing import TracingObserver, context_from, inject_context

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracer = provider.get_tracer("test-service")


@saga("traced")
class Traced:
    @saga_step("reserve")
    async def reserve(self, order: dict) -> str:
        return "R-1"

    @compensation_step("reserve")
    def release(self, reservation: str) -> None:
        pass

    @saga_step("charge", depends_on=["reserve"], retry=1, backoff_ms=1)
    def charge(self, order: dict, ctx: SagaContext) -> str:
        # A step calling another service continues the trace the run was started in.
        with tracer.start_as_current_span("call payments", context=context_from(ctx)):
            if order.get("decline"):
                raise ValueError("card declined")
        return "C-1"


@tcc("traced-tcc")
class TracedTcc:
    @tcc_participant("payment", order=1)
    class Payment:
        @try_method
        async def hold(self, order: dict) -> str:
            return "H-1"

        @confirm_method
        async def capture(self, hold: str) -> None: ...

        @cancel_method
        async def release(self, hold: str | None) -> None: ...


def by_name(spans: tuple[ReadableSpan, ...] | list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


async def test_a_compensated_saga_is_one_trace_continued_by_its_steps() -> None:
    exporter.clear()
    with tracer.start_as_current_span("handle order") as caller:
        headers = inject_context({"tenant": "t1"})
        async with SagaEngine(listeners=[TracingObserver(provider)]) as engine:
            result = await engine.execute(Traced, {"decline": True}, correlation_id="C-7", headers=headers)
            assert engine.flush_listeners(10)
    assert result.status is SagaStatus.COMPENSATED
    assert headers["tenant"] == "t1" and "traceparent" in headers
    spans = exporter.get_finished_spans()
    trace_id = caller.get_span_context().trace_id
    assert {span.context.trace_id for span in spans} == {trace_id}

    (run,) = by_name(spans, "saga traced")
    assert run.parent is not None and run.parent.span_id == caller.get_span_context().span_id
    assert run.status.status_code is StatusCode.ERROR and run.status.description == "COMPENSATED"
    assert run.attributes is not None and run.attributes["fireflytx.correlation_id"] == "C-7"

    attempts = [s for s in spans if s.parent is not None and s.parent.span_id == run.context.span_id]
    assert sorted(s.name for s in attempts) == [
        "compensation reserve", "step charge", "step charge", "step reserve",
    ]
    assert run.start_time is not None and run.end_time is not None
    for span in attempts:
        assert span.start_time is not None and span.end_time is not None
        assert run.start_time <= span.start_time <= span.end_time <= run.end_time
    charges = sorted(by_name(attempts, "step charge"), key=lambda s: s.attributes["fireflytx.attempt"])
    assert [s.attributes["fireflytx.final"] for s in charges] == [False, True]
    for span in charges:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "ValueError: card declined"
        (exception,) = [e for e in span.events if e.name == "exception"]
        assert exception.attributes is not None
        assert exception.attributes["exception.type"] == "ValueError"
        assert exception.attributes["exception.message"] == "card declined"
    assert by_name(attempts, "step reserve")[0].status.status_code is StatusCode.OK

    calls = by_name(spans, "call payments")
    assert len(calls) == 2
    for call in calls:
        assert call.parent is not None and call.parent.span_id == caller.get_span_context().span_id


async def test_a_run_without_trace_headers_starts_its_own_trace() -> None:
    exporter.clear()
    async with SagaEngine(listeners=[TracingObserver(provider)]) as engine:
        result = await engine.execute(Traced, {})
        assert engine.flush_listeners(10)
    assert result.status is SagaStatus.SUCCEEDED
    spans = exporter.get_finished_spans()
    (run,) = by_name(spans, "saga traced")
    assert run.parent is None and run.status.status_code is StatusCode.OK
    assert {span.context.trace_id for span in spans if span.name != "call payments"} == {run.context.trace_id}


async def test_tcc_phases_and_the_decision() -> None:
    exporter.clear()
    async with TccEngine(listeners=[TracingObserver(provider)]) as engine:
        result = await engine.execute(TracedTcc, {}, headers=inject_context())
        assert engine.flush_listeners(10)
    assert result.status is TccStatus.CONFIRMED
    spans = exporter.get_finished_spans()
    (run,) = by_name(spans, "tcc traced-tcc")
    assert run.status.status_code is StatusCode.OK
    assert [e.attributes["fireflytx.decision"] for e in run.events if e.attributes] == ["CONFIRM"]
    run_id = run.context.span_id
    children = sorted(s.name for s in spans if s.parent is not None and s.parent.span_id == run_id)
    assert children == ["confirm payment", "try payment"]


def test_runs_whose_end_was_never_seen_do_not_pile_up() -> None:
    exporter.clear()
    observer = TracingObserver(provider, max_open=2)
    now = datetime.now(UTC)
    for cid in ("r1", "r2", "r3"):
        observer.on_event(
            TransactionStarted(
                kind=TransactionKind.SAGA, name="lost", correlation_id=cid, at=now, input=None, headers={}
            )
        )
    (ended,) = exporter.get_finished_spans()
    assert ended.attributes is not None and ended.attributes["fireflytx.correlation_id"] == "r1"
    assert ended.status.description == "the end of this run was not observed"
