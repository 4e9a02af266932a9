"""Turning the core's run events into envelopes and handing them to a publisher.

``EventObserver`` is an observer of the transaction core, never called inside a step's own code.
With a publisher that only queues (``KafkaPublisher``) it is called inline, on the thread where
each event happened, because its few microseconds per event cost less there than handing every
event to the engine's observer thread; with any other publisher, or a redaction hook (user code),
it runs on that observer thread. Publishers queue and return at once, so a slow broker costs a
run nothing either way.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

from .._core._attempt import safe_text
from .._ids import IdSequence
from .._saga._fan_out import split_clone_id
from .._saga._step_events import StepEvents
from ..config import EventsConfig
from ..listeners import (
    AttemptFinished,
    AttemptStarted,
    DecisionMade,
    Phase,
    RunEvent,
    TransactionFinished,
    TransactionStarted,
)
from ._envelope import EventType
from ._publishers import Publisher

__all__ = ["EventObserver", "Redactor", "load_redactor"]

_log = logging.getLogger("fireflytx.events")

Redactor = Callable[[str, str | None, Any], Any]
"""``redact(event_type, unit_id, payload) -> payload``, called before a payload leaves the process."""

# Phase -> (started, succeeded, failed)
_TYPE_MEMBERS = {
    Phase.STEP: (EventType.STEP_STARTED, EventType.STEP_SUCCEEDED, EventType.STEP_FAILED),
    Phase.COMPENSATION: (
        EventType.COMPENSATION_STARTED, EventType.COMPENSATION_SUCCEEDED, EventType.COMPENSATION_FAILED,
    ),
    Phase.TRY: (EventType.TCC_TRY_STARTED, EventType.TCC_TRY_SUCCEEDED, EventType.TCC_TRY_FAILED),
    Phase.CONFIRM: (
        EventType.TCC_CONFIRM_STARTED, EventType.TCC_CONFIRM_SUCCEEDED, EventType.TCC_CONFIRM_FAILED,
    ),
    Phase.CANCEL: (EventType.TCC_CANCEL_STARTED, EventType.TCC_CANCEL_SUCCEEDED, EventType.TCC_CANCEL_FAILED),
}
# Keyed by the phase's plain value and holding plain strings: an enum member's hash is a Python call,
# and the observer looks these up for every event.
_TYPES: dict[str, tuple[str, str, str]] = {
    phase._value_: (started.value, succeeded.value, failed.value)
    for phase, (started, succeeded, failed) in _TYPE_MEMBERS.items()
}


def load_redactor(path: str) -> Redactor:
    """The function named by ``module:function`` (the ``events.redact`` setting).

    Raises:
        ValueError: ``path`` is not ``module:function`` or names nothing callable.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"events.redact must be 'module:function', got {path!r}")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"events.redact={path!r} cannot be imported: {exc}") from exc
    if not callable(found):
        raise ValueError(f"events.redact={path!r} is not callable")
    redactor: Redactor = found
    return redactor


@dataclass(frozen=True, slots=True)
class _Options:
    topic: str
    on_start: bool
    on_success: bool
    on_failure: bool
    include_payload: bool


@dataclass(slots=True)
class _Run:
    """What the observer remembers of a run between its events."""

    tail: str
    """The envelope's run-wide fields, as JSON text: the same in every event of the run."""
    tx_input: Any
    options: dict[str, _Options]
    default: _Options
    key: bytes
    sequence: int = 0


_STARTED = EventType.TRANSACTION_STARTED.value
_RETRYING = EventType.STEP_RETRYING.value
_DECISION = EventType.TCC_DECISION.value
_FINISHED = EventType.TRANSACTION_FINISHED.value
_MAX_RUNS = 100_000
"""Runs the observer remembers at once; beyond, the oldest is forgotten (its later events lose headers)."""
_BOOL = {None: "null", True: "true", False: "false"}
_PHASE: dict[str | None, str] = {None: "null", **{p.value: f'"{p.value}"' for p in Phase}}
_NO_OUTCOME = ',"will_retry":null,"duration_ms":null,"status":null,"error":null'
_NO_STATUS = ',"status":null,"error":null'
_NO_PAYLOAD = ',"payload":null'
_MAX_HEADS = 10_000


def _json_text(text: str) -> str:
    """``text`` as a JSON string; ids and names seldom need escaping, and json.dumps costs microseconds."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text)


def _run_tail(event: RunEvent, headers: dict[str, str]) -> str:
    return (
        f',"transaction_kind":"{event.kind._value_}","transaction_name":{_json_text(event.name)},'
        f'"correlation_id":{_json_text(event.correlation_id)},'
        f'"headers":{json.dumps(headers) if headers else "{}"}}}'
    )


def _head(kind: str, unit_id: str | None, phase: str | None, attempt: int | None) -> str:
    unit = "null" if unit_id is None else _json_text(unit_id)
    return (
        f'"type":"{kind}","unit_id":{unit},"phase":{_PHASE[phase]},'
        f'"attempt":{"null" if attempt is None else attempt}'
    )


def _fields(
    kind: str,
    unit_id: str | None = None,
    phase: str | None = None,
    attempt: int | None = None,
    *,
    will_retry: bool | None = None,
    duration_ms: float | None = None,
    status: str | None = None,
    error: dict[str, str] | None = None,
) -> str:
    """The envelope's per-event fields but the payload (null), for the events that are not every step's."""
    return (
        f'{_head(kind, unit_id, phase, attempt)},"will_retry":{_BOOL[will_retry]},'
        f'"duration_ms":{"null" if duration_ms is None else repr(float(duration_ms))},'
        f'"status":{"null" if status is None else json.dumps(status)},'
        f'"error":{"null" if error is None else json.dumps(error)}{_NO_PAYLOAD}'
    )


class _Timestamps:
    """ISO 8601 text of UTC datetimes, the date and time to the second made once per second.

    ``datetime.isoformat`` was a fifth of an envelope's cost; events come thousands per second.
    """

    __slots__ = ("_day", "_hour", "_minute", "_month", "_second", "_text", "_year")

    def __init__(self) -> None:
        self._second = self._minute = self._hour = self._day = self._month = self._year = -1
        self._text = ""

    def text(self, at: datetime) -> str:
        if at.tzinfo is not UTC:
            return at.isoformat()
        if (
            at.second != self._second or at.minute != self._minute or at.hour != self._hour
            or at.day != self._day or at.month != self._month or at.year != self._year
        ):
            self._second, self._minute, self._hour = at.second, at.minute, at.hour
            self._day, self._month, self._year = at.day, at.month, at.year
            self._text = at.isoformat(timespec="seconds")[:19]
        return f"{self._text}.{at.microsecond:06d}+00:00"


class EventObserver:
    """Publishes every run of an engine as envelopes (``fireflytx.events``).

    Give it to an engine (``SagaEngine(listeners=[EventObserver(KafkaPublisher())])``), or set
    ``FIREFLYTX_EVENTS__PUBLISHER=kafka`` to have every engine make one from the settings. Saga
    classes and steps choose their topic and events with ``@step_events``; what they leave unset
    comes from ``config``.

    Args:
        publisher: Where envelopes go.
        config: Defaults (topic, which events, payloads); default ``EventsConfig()``.
        redact: ``redact(event_type, unit_id, payload) -> payload`` before any payload is published; default
            the function named by ``config.redact``.
    """

    def __init__(
        self, publisher: Publisher, config: EventsConfig | None = None, *, redact: Redactor | None = None
    ) -> None:
        self.publisher = publisher
        self.config = config or EventsConfig()
        if redact is None and self.config.redact is not None:
            redact = load_redactor(self.config.redact)
        self._redact = redact
        self._runs: dict[str, _Run] = {}
        self._heads: dict[tuple[str, str | None, str | None, int | None], str] = {}
        self._timestamps = _Timestamps()
        self._event_id = IdSequence()
        self._plans: dict[int, tuple[Any, dict[str, _Options], _Options]] = {}
        self.errors = 0
        """Payloads that could not be made JSON or redacted (the event went out without them)."""
        self._lock = threading.Lock()
        """One event at a time: runs on several threads emit at once, and sequences follow the order."""

    @property
    def inline(self) -> bool:
        """Called on the thread that produced each event, when that is safe (see ``fireflytx.listeners``).

        It is when the publisher says so (``KafkaPublisher``: ``publish`` only hands the envelope to
        librdkafka's queue or a bounded buffer) and no redaction hook, which is user code, is set;
        otherwise the engine's observer thread calls it. Envelopes cost a few microseconds, less
        than handing the event to that thread.
        """
        return self._redact is None and getattr(self.publisher, "inline", False) is True

    # -- options ---------------------------------------------------------------------------------

    def _resolve(self, options: StepEvents | None) -> _Options:
        c = self.config
        o = options or StepEvents()
        return _Options(
            o.topic or c.topic,
            c.on_start if o.on_start is None else o.on_start,
            c.on_success if o.on_success is None else o.on_success,
            c.on_failure if o.on_failure is None else o.on_failure,
            c.include_payload if o.include_payload is None else o.include_payload,
        )

    def _plan(self, definition: Any) -> tuple[dict[str, _Options], _Options]:
        """Per-unit options of a saga (TCCs have run-wide ones); cached per spec."""
        cached = self._plans.get(id(definition))
        if cached is not None and cached[0] is definition:
            return cached[1], cached[2]
        saga_level: StepEvents | None = getattr(definition, "events", None)
        default = self._resolve(saga_level)
        per_unit = {
            step.step_id: self._resolve(step.events.over(saga_level))
            for step in getattr(definition, "steps", ())
            if getattr(step, "events", None) is not None
        }
        self._plans[id(definition)] = (definition, per_unit, default)
        return per_unit, default

    def _lost_run(self, event: RunEvent) -> _Run:
        """A run whose start this observer did not see (it was dropped): carry on without headers."""
        run = _Run(_run_tail(event, {}), None, {}, self._resolve(None), event.correlation_id.encode())
        if not isinstance(event, TransactionFinished):
            self._runs[event.correlation_id] = run
        return run

    # -- events ----------------------------------------------------------------------------------

    def on_event(self, event: RunEvent) -> None:
        """Publish the envelopes ``event`` stands for; from any thread, one event at a time."""
        with self._lock:
            if isinstance(event, AttemptStarted):
                run = self._runs.get(event.correlation_id) or self._lost_run(event)
                opts = _options_of(run, event.unit_id)
                phase = event.phase._value_
                if phase != "step" or opts.on_start:
                    kind = _TYPES[phase][0]
                    head = self._head(kind, event.unit_id, phase, event.attempt)
                    if opts.include_payload and phase == "step":
                        fields = f"{head}{_NO_OUTCOME}{self._payload(kind, event.unit_id, run.tx_input)}"
                    else:
                        fields = f"{head}{_NO_OUTCOME}{_NO_PAYLOAD}"
                    self._send(event, run, opts.topic, fields)
            elif isinstance(event, AttemptFinished):
                self._finished(event)
            elif isinstance(event, TransactionStarted):
                per_unit, default = self._plan(event.definition)
                tail = _run_tail(event, event.headers)
                run = _Run(tail, event.input, per_unit, default, event.correlation_id.encode())
                runs = self._runs
                if len(runs) >= _MAX_RUNS:  # ends lost to a full buffer must not keep their runs forever
                    del runs[next(iter(runs))]
                runs[event.correlation_id] = run
                payload = _NO_PAYLOAD
                if default.include_payload:
                    payload = self._payload(_STARTED, None, event.input)
                fields = f"{self._head(_STARTED, None, None, None)}{_NO_OUTCOME}{payload}"
                self._send(event, run, default.topic, fields)
            elif isinstance(event, DecisionMade):
                run = self._runs.get(event.correlation_id) or self._lost_run(event)
                self._send(event, run, run.default.topic, _fields(_DECISION, status=str(event.decision)))
            elif isinstance(event, TransactionFinished):
                ended = self._runs.pop(event.correlation_id, None)
                run = self._lost_run(event) if ended is None else ended
                fields = _fields(_FINISHED, status=event.status, duration_ms=event.duration_ms)
                self._send(event, run, run.default.topic, fields)

    def _finished(self, event: AttemptFinished) -> None:
        run = self._runs.get(event.correlation_id) or self._lost_run(event)
        unit_id = event.unit_id
        opts = _options_of(run, unit_id)
        phase = event.phase._value_
        is_step = phase == "step"
        if event.error is None:
            if not is_step or opts.on_success:
                kind = _TYPES[phase][1]
                head = self._head(kind, unit_id, phase, event.attempt)
                if opts.include_payload and phase in ("step", "try"):
                    payload = self._payload(kind, unit_id, event.result)
                else:
                    payload = _NO_PAYLOAD
                fields = f'{head},"will_retry":null,"duration_ms":{event.duration_ms!r}{_NO_STATUS}{payload}'
                self._send(event, run, opts.topic, fields)
            return
        if is_step and not opts.on_failure:
            return
        retry = not event.final
        error = {"type": type(event.error).__name__, "message": safe_text(event.error)}
        fields = _fields(
            _TYPES[phase][2], unit_id, phase, event.attempt, will_retry=retry, duration_ms=event.duration_ms,
            error=error,
        )
        self._send(event, run, opts.topic, fields)
        if retry and is_step:
            retrying = _fields(_RETRYING, unit_id, phase, event.attempt + 1, will_retry=True)
            self._send(event, run, opts.topic, retrying)

    def _head(self, kind: str, unit_id: str | None, phase: str | None, attempt: int | None) -> str:
        """The envelope's type, unit id, phase and attempt as JSON text, made once for each combination."""
        key = (kind, unit_id, phase, attempt)
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) >= _MAX_HEADS:  # fan-out clones and retries have no bound of their own
                self._heads.clear()
            head = self._heads[key] = _head(kind, unit_id, phase, attempt)
        return head

    def _send(self, event: RunEvent, run: _Run, topic: str, fields: str) -> None:
        # The envelope is written as JSON text directly: json.dumps of a dict per event would cost
        # more than everything else an event costs together. Tests validate it against the schema.
        sequence = run.sequence
        run.sequence = sequence + 1
        text = (
            f'{{"schema_version":1,"event_id":"{self._event_id()}",'
            f'"sequence":{sequence},"timestamp":"{self._timestamps.text(event.at)}",{fields}{run.tail}'
        )
        self.publisher.publish(topic, run.key, text.encode())

    def _payload(self, kind: str, unit_id: str | None, value: Any) -> str:
        """The ``payload`` field, after the redaction hook; null when it cannot be made JSON."""
        try:
            if self._redact is not None:
                value = self._redact(kind, unit_id, value)
            return f',"payload":{to_json(value, fallback=repr).decode()}'
        except Exception as exc:
            self.errors += 1
            _log.error("the payload of %s could not be redacted or made JSON; sent without it", unit_id,
                       exc_info=exc)
            return _NO_PAYLOAD

    def close(self, timeout: float) -> bool:
        """Deliver what the publisher still holds, within ``timeout`` seconds (the engine stopped)."""
        with self._lock:  # another engine sharing this observer may still be publishing inline
            self._runs.clear()
        return self.publisher.close(timeout)


def _options_of(run: _Run, unit_id: str) -> _Options:
    """A unit's ``@step_events`` options; a fan-out clone (``ship#2``) has its step's."""
    options = run.options.get(unit_id)
    if options is None and "#" in unit_id:
        split = split_clone_id(unit_id)
        options = run.options.get(split[0]) if split is not None else None
    return run.default if options is None else options
