"""Where envelopes go: the publisher protocol, and the in-memory recorder for tests and notebooks."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ._envelope import EventEnvelope

__all__ = ["EventRecorder", "Publisher"]


@runtime_checkable
class Publisher(Protocol):
    """Sends envelopes somewhere; implement it to send events to your own system.

    ``publish`` is called on the engine's observer thread, once per event and in event order, with
    the envelope as UTF-8 JSON (``EventEnvelope.model_validate_json`` reads it back) and the run's
    correlation id as the key. It must return at once: queue the event and deliver it from a thread
    of your own, keeping that queue bounded (drop the oldest and count them when full), and never
    raise for a delivery failure (count and log it). A publisher whose ``publish`` is also safe to
    call from several threads at once and never waits may say so with a class attribute
    ``inline = True``: the ``EventObserver`` is then called on the thread where each event happened
    (see ``fireflytx.listeners``), which costs a busy engine less than the observer thread.
    ``close`` is called when the engine stops: deliver what is queued within ``timeout`` seconds and
    return whether everything went out; ``publish`` may be called again after it (the engine was
    started again).
    """

    def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue one envelope (JSON) for ``topic`` under ``key`` (the correlation id, UTF-8)."""

    def close(self, timeout: float) -> bool:
        """Deliver what is queued within ``timeout`` seconds; False if some could not be."""


class EventRecorder:
    """Keeps every envelope in memory as a dict, in order: tests, notebooks, ``fireflytx run --events``.

    ``on_publish`` is called with each envelope as it arrives (on the observer thread).

    Args:
        maxlen: Keep only the newest ``maxlen`` envelopes (default: all).
        on_publish: Called as ``on_publish(topic, envelope)`` for every event.
    """

    def __init__(
        self, maxlen: int | None = None, on_publish: Callable[[str, dict[str, Any]], None] | None = None
    ) -> None:
        self.records: deque[tuple[str, dict[str, Any]]] = deque(maxlen=maxlen)
        self._on_publish = on_publish
        self._lock = threading.Lock()

    def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Record the envelope, parsed into a dict."""
        event = json.loads(value)
        with self._lock:
            self.records.append((topic, event))
        if self._on_publish is not None:
            self._on_publish(topic, event)

    def close(self, timeout: float) -> bool:
        """Nothing to deliver: everything is already in memory."""
        return True

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every envelope recorded, oldest first."""
        with self._lock:
            return [event for _, event in self.records]

    def of(self, correlation_id: str) -> list[dict[str, Any]]:
        """The envelopes of one run, in order."""
        return [e for e in self.events if e["correlation_id"] == correlation_id]

    def types(self, correlation_id: str) -> list[str]:
        """The event types of one run, in order."""
        return [str(e["type"]) for e in self.of(correlation_id)]

    def envelopes(self) -> list[EventEnvelope]:
        """Every envelope parsed into ``EventEnvelope`` (validated)."""
        return [EventEnvelope.model_validate(e) for e in self.events]

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self.records.clear()

    def __len__(self) -> int:
        return len(self.records)

    def __rich__(self) -> Any:
        from ._view import events_table

        return events_table(self.events)

    def _repr_html_(self) -> str:
        from ._view import events_html

        return events_html(self.events)
