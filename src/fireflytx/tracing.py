"""OpenTelemetry traces of transaction runs (extra ``otel``: ``pip install fireflytx[otel]``).

A run gets one span, and every attempt of a step, compensation or TCC phase a child span of it,
with the attempt's status and error. ``TracingObserver`` builds them from the engine's run
events on the observer thread, after the fact, with the start and end times the events carry:
tracing costs a run nothing.

The trace reaches a run, and goes on from its steps, through the run's headers (W3C
``traceparent``): the caller injects its current context when it starts the run, the
observer parents the transaction's span on it, and a step that calls another service reads it
back and continues the same trace::

    result = await engine.execute(Order, data, headers=inject_context())

    @saga_step("charge")
    async def charge(self, order: Order, ctx: SagaContext) -> dict:
        with tracer.start_as_current_span("call payments", context=context_from(ctx)):
            ...  # an instrumented HTTP client carries the trace on to the payment service

Spans built after the fact cannot be current while the step runs, so a step's own spans are
siblings of the attempt's span under the caller's span, in the same trace.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .listeners import (
    AttemptFinished,
    DecisionMade,
    RunEvent,
    TransactionFinished,
    TransactionStarted,
)

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fireflytx.tracing needs the OpenTelemetry API: install the extra with `pip install fireflytx[otel]`"
    ) from exc

__all__ = ["TracingObserver", "context_from", "inject_context"]

SUCCESSFUL = frozenset({"SUCCEEDED", "CONFIRMED"})
"""Final statuses whose transaction span ends OK; every other status is an error."""


def inject_context(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """``headers`` plus the current trace context (``traceparent``, ``tracestate``, baggage).

    Give the result to ``execute(headers=...)``: the run's span then joins the caller's trace.
    Uses the globally configured propagator (W3C trace context and baggage by default).
    """
    carrier = dict(headers or {})
    propagate.inject(carrier)
    return carrier


def context_from(source: Any) -> otel_context.Context:
    """The trace context carried by a run's headers: a ``SagaContext``, ``TccContext`` or mapping.

    Pass it as ``context=`` when starting a span inside a step, so the span continues the trace
    the run was started in.
    """
    headers = source.headers if hasattr(source, "headers") else source
    return propagate.extract(dict(headers))


def _nanos(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000_000)


def _error_status(error: BaseException) -> Status:
    return Status(StatusCode.ERROR, f"{type(error).__name__}: {error}")


class TracingObserver:
    """Builds a span per transaction run and per attempt; add it to engines as a listener.

    ``tracer_provider`` defaults to the global one. Spans are named ``saga <name>`` /
    ``tcc <name>`` and ``<phase> <unit>`` (``step reserve``, ``compensation reserve``,
    ``try payment``...), with the run's correlation id, kind and name as attributes.
    """

    def __init__(self, tracer_provider: Any = None, max_open: int = 100_000) -> None:
        self._tracer = trace.get_tracer("fireflytx", tracer_provider=tracer_provider)
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str, str], tuple[Span, otel_context.Context]] = {}
        self._max_open = max_open
        """Runs whose span is open; beyond it the oldest is ended (its end event was dropped)."""

    def on_event(self, event: RunEvent) -> None:
        """Turn one run event into spans (called by the engine on its observer thread)."""
        key = (event.kind.value, event.name, event.correlation_id)
        if isinstance(event, TransactionStarted):
            span = self._tracer.start_span(
                f"{event.kind.value} {event.name}",
                context=propagate.extract(dict(event.headers)),
                kind=SpanKind.INTERNAL,
                attributes=self._attributes(event),
                start_time=_nanos(event.at),
            )
            with self._lock:
                self._open[key] = (span, trace.set_span_in_context(span))
                stale = self._open.pop(next(iter(self._open))) if len(self._open) > self._max_open else None
            if stale is not None:
                stale[0].set_status(Status(StatusCode.ERROR, "the end of this run was not observed"))
                stale[0].end()
            return
        with self._lock:
            opened = self._open.get(key)
            if opened is not None and isinstance(event, TransactionFinished):
                del self._open[key]
        if opened is None:  # the observer was added while this run was going
            return
        span, parent = opened
        if isinstance(event, AttemptFinished):
            self._attempt_span(event, parent)
        elif isinstance(event, DecisionMade):
            span.add_event("decision", {"fireflytx.decision": event.decision.value}, _nanos(event.at))
        elif isinstance(event, TransactionFinished):
            span.set_attribute("fireflytx.status", event.status)
            if event.status in SUCCESSFUL:
                span.set_status(Status(StatusCode.OK))
            else:
                span.set_status(Status(StatusCode.ERROR, event.status))
            span.end(end_time=_nanos(event.at))

    def _attempt_span(self, event: AttemptFinished, parent: otel_context.Context) -> None:
        end = _nanos(event.at)
        span = self._tracer.start_span(
            f"{event.phase.value} {event.unit_id}",
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes={
                **self._attributes(event),
                "fireflytx.phase": event.phase.value,
                "fireflytx.unit_id": event.unit_id,
                "fireflytx.attempt": event.attempt,
                "fireflytx.final": event.final,
            },
            start_time=end - int(event.duration_ms * 1_000_000),
        )
        if event.error is None:
            span.set_status(Status(StatusCode.OK))
        else:
            span.record_exception(event.error, timestamp=end)
            span.set_status(_error_status(event.error))
        span.end(end_time=end)

    @staticmethod
    def _attributes(event: RunEvent) -> dict[str, str]:
        return {
            "fireflytx.kind": event.kind.value,
            "fireflytx.name": event.name,
            "fireflytx.correlation_id": event.correlation_id,
        }
