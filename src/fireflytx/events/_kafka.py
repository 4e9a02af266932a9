"""Publishing envelopes to Kafka with ``confluent-kafka``, without ever holding up a run.

``publish`` hands the envelope to librdkafka's queue, which only enqueues (it raises at once
when full, never waits); while that queue is full (the broker is down or slow) events go to a
bounded buffer instead (the oldest is dropped and counted when it is full), and a thread of the
publisher's own moves them to the producer as it makes room: that thread waits, never the engine.
Because ``publish`` never waits, the ``EventObserver`` calls it inline, on the run's thread.
Delivery reports count what arrived and what failed, apart from any transaction's outcome.
Messages are keyed by correlation id, so one run's events land on one partition in order; with the
idempotent producer (the default) retries neither duplicate nor reorder them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from .._threads import start_daemon
from ..config import KafkaConfig
from ..errors import FireflyTxError

__all__ = ["KafkaPublisher", "producer_config"]

_log = logging.getLogger("fireflytx.events.kafka")

_FAILURE_LOG_EVERY_S = 10.0


def producer_config(config: KafkaConfig) -> dict[str, Any]:
    """The librdkafka settings ``config`` stands for.

    Raises:
        ValueError: an idempotent producer was asked for with acks other than ``all``.
    """
    if config.idempotent and config.acks != "all":
        raise ValueError(
            f"an idempotent Kafka producer needs acks='all', got acks={config.acks!r}: set "
            "events.kafka.acks='all' or events.kafka.idempotent=false"
        )
    settings: dict[str, Any] = {
        "bootstrap.servers": config.bootstrap_servers,
        "security.protocol": config.security_protocol,
        "acks": config.acks,
        "compression.type": config.compression,
        "enable.idempotence": config.idempotent,
        "linger.ms": config.linger_ms,
        "message.timeout.ms": config.message_timeout_ms,
    }
    optional = {
        "sasl.mechanism": config.sasl_mechanism,
        "sasl.username": config.sasl_username,
        "sasl.password": config.sasl_password.get_secret_value() if config.sasl_password else None,
        "ssl.ca.location": config.ssl_ca_location,
        "ssl.certificate.location": config.ssl_certificate_location,
        "ssl.key.location": config.ssl_key_location,
    }
    settings.update({k: str(v) for k, v in optional.items() if v is not None})
    settings.update(config.options)
    return settings


class KafkaPublisherError(FireflyTxError):
    """The Kafka publisher cannot be created."""


class KafkaPublisher:
    """A ``Publisher`` that sends envelopes to Kafka as UTF-8 JSON, keyed by correlation id.

    Args:
        config: Brokers, security, acks, compression, idempotence; default ``KafkaConfig()``.
        buffer: Events kept while the producer cannot take them; beyond, the oldest are dropped.
        options: More librdkafka settings, over those of ``config``.

    Counters (read them any time): ``published`` (handed to the producer), ``delivered`` and
    ``failed`` (delivery reports), ``dropped`` (the buffer was full, or ``close`` ran out of time
    before they reached the producer), ``undelivered`` (still in the producer when ``close`` ran
    out of time).

    Raises:
        KafkaPublisherError: ``confluent-kafka`` is not installed, or rejects the settings.
    """

    inline = True
    """``publish`` is thread-safe and never waits: an ``EventObserver`` may call it on the run's thread.

    It never waits because ``produce`` only enqueues into librdkafka (and raises ``BufferError``
    at once when that queue is full, after which events go to the bounded buffer).
    """

    def __init__(
        self,
        config: KafkaConfig | None = None,
        *,
        buffer: int = 100_000,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            from confluent_kafka import KafkaException, Producer
        except ImportError as exc:
            raise KafkaPublisherError(
                "publishing events to Kafka needs confluent-kafka: pip install 'fireflytx[kafka]'"
            ) from exc
        if buffer < 1:
            raise ValueError(f"buffer must be at least 1, got {buffer}")
        settings = producer_config(config or KafkaConfig())
        settings.update(options or {})
        settings.setdefault("logger", _log)
        settings["error_cb"] = self._on_error
        # Only failures come back as reports: a Python call per delivered event would cost more than
        # producing it. Delivered = published - failed - still in the producer.
        settings["delivery.report.only.error"] = True
        settings["on_delivery"] = self._delivered
        try:
            self._producer = Producer(settings)
        except KafkaException as exc:
            raise KafkaPublisherError(f"Kafka rejected the producer settings: {exc}") from exc
        self._produce = self._producer.produce
        self._capacity = buffer
        self._pending: deque[tuple[str, bytes, bytes]] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._publishing = threading.Lock()
        """Publishers on several threads take turns: the counters and the buffer's order stay exact."""
        self._thread: threading.Thread | None = None
        self._closing = False
        self._direct = 0  # produced by publish() itself
        self._drained = 0  # produced from the buffer by the publisher's thread
        self.failed = 0
        self.dropped = 0
        self.undelivered = 0
        self._last_failure_log = 0.0
        self._failures_unlogged = 0

    @property
    def published(self) -> int:
        """Events handed to the producer."""
        return self._direct + self._drained

    @property
    def delivered(self) -> int:
        """Events the broker acknowledged (as ``acks`` asks)."""
        return self.published - self.failed - len(self._producer)

    @property
    def queued(self) -> int:
        """Events not yet delivered: in the buffer or in the producer's queue."""
        return len(self._pending) + len(self._producer)

    # -- the publishing side (the run's thread, through an inline EventObserver) ---------------------

    def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Hand the envelope to the producer, or queue it while the producer is full; returns at once.

        From any thread: engines (and their runs' threads) may share one publisher.
        """
        with self._publishing:
            pending = self._pending
            if not pending:
                try:
                    self._produce(topic, value, key)
                except BufferError:  # the producer's queue is full: the broker is down or slow
                    pass
                else:
                    self._direct += 1
                    if self._thread is None:
                        self._start()
                    return
            if len(pending) >= self._capacity:
                pending.popleft()
                self.dropped += 1
            pending.append((topic, key, value))
            if self._thread is None:
                self._start()
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._closing = False
                self._thread = start_daemon(self._serve, "fireflytx-kafka")

    # -- the publisher's thread ------------------------------------------------------------------

    def _serve(self) -> None:
        """Serve delivery reports and move buffered events to the producer as it makes room."""
        pending, producer = self._pending, self._producer
        produce, poll = self._produce, producer.poll
        while True:
            self._wake.wait(0.1)
            self._wake.clear()
            while pending:
                topic, key, value = pending[0]
                try:
                    produce(topic, value, key)
                except BufferError:
                    poll(0.05)
                    continue
                # popped only once produced, so publish() keeps queueing behind it, in order
                try:
                    pending.popleft()
                except IndexError:  # cleared by a close that ran out of time
                    break
                self._drained += 1
            poll(0)
            if self._closing and not pending:
                return

    def _delivered(self, error: Any, message: Any) -> None:
        if error is None:
            return
        self.failed += 1
        self._failures_unlogged += 1
        now = time.monotonic()
        if now - self._last_failure_log >= _FAILURE_LOG_EVERY_S:
            _log.warning(
                "%d event(s) could not be delivered to Kafka (%d in all so far), the last to topic %s: %s",
                self._failures_unlogged, self.failed, message.topic(), error,
            )
            self._last_failure_log, self._failures_unlogged = now, 0

    def _on_error(self, error: Any) -> None:
        _log.warning("Kafka producer: %s", error)

    # -- the engine's side -----------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Wait until every event so far was delivered or failed; False if ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.005)
        left = self._producer.flush(max(0.0, deadline - time.monotonic()))
        return left == 0 and not self._pending

    def close(self, timeout: float) -> bool:
        """Deliver what is queued within ``timeout`` seconds, then stop the thread; counts the rest.

        Publishing again later starts a new thread on the same producer.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            thread, self._closing = self._thread, True
        self._wake.set()
        abandoned = 0
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():  # still waiting for a full producer queue: give up on the buffer
                abandoned = len(self._pending)
                self._pending.clear()
                self.dropped += abandoned
                thread.join(1.0)
        with self._lock:
            self._thread = None
        left = self._producer.flush(max(0.0, deadline - time.monotonic()))
        self.undelivered += left
        if left or abandoned:
            _log.warning(
                "shutdown gave up on %d Kafka event(s) after %.1f s: %d still in the producer (undelivered), "
                "%d never handed to it (dropped)", left + abandoned, timeout, left, abandoned,
            )
        return left == 0 and abandoned == 0
