"""Transaction events: every start, attempt, retry, compensation, TCC phase and end, sent as it happens.

An ``EventObserver`` watches an engine's runs (it is an observer of the transaction core, so it
never runs inside a step) and hands one ``EventEnvelope`` per event to a publisher:

- none: the default; no observer, no cost;
- ``EventRecorder``: keeps them in memory (tests, notebooks, ``fireflytx run --events``);
- ``KafkaPublisher``: Kafka through ``confluent-kafka`` (``pip install 'fireflytx[kafka]'``);
- your own: anything with ``publish(topic, key, event)`` and ``close(timeout)`` (``Publisher``).

A broker never breaks a transaction: publishing only queues (a bounded buffer that drops and counts
the oldest), delivery failures are logged and counted apart from any outcome, and engine shutdown
delivers what is queued within ``settings.events.close_timeout_s``.

``@step_events(topic=, on_start=, on_success=, on_failure=, include_payload=)`` on a saga class or
step chooses its events; ``FireflyTxSettings.events`` holds the defaults. The envelope's JSON
schema is ``envelope_schema()`` (the file ``envelope.schema.json`` in this package).
"""

from __future__ import annotations

from .._saga._step_events import StepEvents, step_events
from ._envelope import SCHEMA_VERSION, EventEnvelope, EventError, EventType
from ._kafka import KafkaPublisher, KafkaPublisherError
from ._observer import EventObserver, Redactor
from ._publishers import EventRecorder, Publisher
from ._schema import envelope_schema
from ._view import event_line

__all__ = [
    "SCHEMA_VERSION",
    "EventEnvelope",
    "EventError",
    "EventObserver",
    "EventRecorder",
    "EventType",
    "KafkaPublisher",
    "KafkaPublisherError",
    "Publisher",
    "Redactor",
    "StepEvents",
    "envelope_schema",
    "event_line",
    "step_events",
]
