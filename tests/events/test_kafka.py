"""Events through a real Kafka broker: each arrives once and in order, survives a restart, and a
broker that is down never holds up a transaction."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from typing import Any

import pytest
from confluent_kafka import Consumer

from fireflytx import FireflyTxSettings, SagaEngine, SagaStatus, saga, saga_step
from fireflytx.config import EventsConfig, KafkaConfig
from fireflytx.events import EventObserver, KafkaPublisher, KafkaPublisherError

from .kafka_broker import KafkaBroker, free_port
from .test_events import Order, validate

# The first test also waits for the broker: on a fresh machine that includes downloading its 45 jars.
pytestmark = pytest.mark.timeout(600)


@saga("diamond")
class Diamond:
    @saga_step("a", timeout_ms=5_000)
    async def a(self, value: int) -> int:
        return value

    @saga_step("b", depends_on=["a"], timeout_ms=5_000)
    async def b(self, value: int) -> int:
        return value + 1

    @saga_step("c", depends_on=["a"], timeout_ms=5_000)
    async def c(self, value: int) -> int:
        return value + 2

    @saga_step("d", depends_on=["b", "c"], timeout_ms=5_000)
    async def d(self, value: int) -> int:
        return value + 3


EVENTS_PER_DIAMOND = 10  # started, 4 x (step started, step succeeded), finished


def consume(broker: KafkaBroker, topic: str, expected: int, timeout: float = 120.0) -> list[Any]:
    """Read ``topic`` from the start until ``expected`` messages arrived (or ``timeout``)."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"test-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    loop = asyncio.new_event_loop()
    deadline = loop.time() + timeout
    try:
        while len(messages) < expected and loop.time() < deadline:
            batch = consumer.consume(num_messages=5_000, timeout=1.0)
            messages += [m for m in batch if m.error() is None]
        # anything beyond the expected count would be a duplicate: look a little longer
        messages += [m for m in consumer.consume(num_messages=5_000, timeout=2.0) if m.error() is None]
    finally:
        consumer.close()
        loop.close()
    return messages


def by_run(messages: list[Any]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        event = json.loads(message.value())
        assert message.key().decode() == event["correlation_id"]
        runs[event["correlation_id"]].append(event)
    return runs


def publisher_for(broker: KafkaBroker | None, **options: Any) -> KafkaPublisher:
    servers = broker.bootstrap if broker is not None else f"127.0.0.1:{free_port()}"
    return KafkaPublisher(KafkaConfig(bootstrap_servers=servers), **options)


async def run_diamonds(engine: SagaEngine, count: int, prefix: str, concurrency: int = 100) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    for start in range(0, count, concurrency):
        chunk = ids[start : start + concurrency]
        results = await asyncio.gather(*(engine.execute(Diamond, 1, correlation_id=c) for c in chunk))
        assert all(r.status is SagaStatus.SUCCEEDED for r in results)
    return ids


async def test_every_event_of_1000_sagas_arrives_once_and_in_order_per_correlation_id(
    kafka: KafkaBroker,
) -> None:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic, partitions=4)
    publisher = publisher_for(kafka)
    async with SagaEngine(listeners=[EventObserver(publisher, EventsConfig(topic=topic))]) as engine:
        ids = await run_diamonds(engine, 1_000, "once")
    assert publisher.dropped == 0 and publisher.failed == 0 and publisher.undelivered == 0
    assert publisher.delivered == 1_000 * EVENTS_PER_DIAMOND
    messages = consume(kafka, topic, 1_000 * EVENTS_PER_DIAMOND)
    runs = by_run(messages)
    assert sorted(runs) == sorted(ids)
    for cid, events in runs.items():
        assert [e["sequence"] for e in events] == list(range(EVENTS_PER_DIAMOND)), cid
        assert events[0]["type"] == "TRANSACTION_STARTED" and events[-1]["type"] == "TRANSACTION_FINISHED"
    assert len({m.value() for m in messages}) == len(messages) == 1_000 * EVENTS_PER_DIAMOND
    validate([e for events in list(runs.values())[:20] for e in events])


async def test_a_compensated_saga_as_consumed_from_kafka(kafka: KafkaBroker) -> None:
    topic = f"compensated-{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic, partitions=1)
    kafka_config = KafkaConfig(bootstrap_servers=kafka.bootstrap)
    settings = FireflyTxSettings(events=EventsConfig(publisher="kafka", topic=topic, kafka=kafka_config))
    async with SagaEngine(settings) as engine:
        result = await engine.execute(Order, {"amount": 3, "declined": True}, correlation_id="ORD-42")
    assert result.status is SagaStatus.COMPENSATED
    events = [json.loads(m.value()) for m in consume(kafka, topic, 11)]
    validate(events)
    assert [(e["type"], e["unit_id"], e["attempt"]) for e in events] == [
        ("TRANSACTION_STARTED", None, None),
        ("STEP_STARTED", "reserve", 1),
        ("STEP_SUCCEEDED", "reserve", 1),
        ("STEP_STARTED", "charge", 1),
        ("STEP_FAILED", "charge", 1),
        ("STEP_RETRYING", "charge", 2),
        ("STEP_STARTED", "charge", 2),
        ("STEP_FAILED", "charge", 2),
        ("COMPENSATION_STARTED", "reserve", 1),
        ("COMPENSATION_SUCCEEDED", "reserve", 1),
        ("TRANSACTION_FINISHED", None, None),
    ]
    print("\n".join(json.dumps(e) for e in events))


async def test_events_survive_a_broker_restart_with_acks_all(kafka: KafkaBroker) -> None:
    topic = f"restart-{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic, partitions=4)
    publisher = publisher_for(kafka)
    observer = EventObserver(publisher, EventsConfig(topic=topic))
    async with SagaEngine(listeners=[observer]) as engine:
        before = await run_diamonds(engine, 100, "before")
        assert engine.flush_listeners(30) and publisher.flush(30)
        kafka.stop()
        try:
            during = await run_diamonds(engine, 100, "during")  # queued in the producer meanwhile
            assert engine.flush_listeners(30)
        finally:
            kafka.start()
        after = await run_diamonds(engine, 100, "after")
        assert publisher.flush(120)
    assert publisher.failed == 0 and publisher.dropped == 0
    runs = by_run(consume(kafka, topic, 300 * EVENTS_PER_DIAMOND))
    assert sorted(runs) == sorted(before + during + after)
    for cid, events in runs.items():
        assert [e["sequence"] for e in events] == list(range(EVENTS_PER_DIAMOND)), cid


async def test_sagas_finish_with_the_broker_down_and_the_dropped_events_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    publisher = publisher_for(
        None, buffer=50, options={"queue.buffering.max.messages": 100, "message.timeout.ms": 2_000}
    )
    settings = FireflyTxSettings(events=EventsConfig(close_timeout_s=1.0))
    with caplog.at_level(logging.WARNING, logger="fireflytx.events.kafka"):
        observer = EventObserver(publisher, EventsConfig(topic="nowhere"))
        async with SagaEngine(settings, listeners=[observer]) as engine:
            ids = await run_diamonds(engine, 300, "down")
            assert publisher.dropped > 0
    # every event was handed to the producer or dropped, and nothing the producer took arrived
    assert publisher.published + publisher.dropped == len(ids) * EVENTS_PER_DIAMOND
    assert publisher.delivered == 0
    assert publisher.failed + publisher.undelivered == publisher.published > 0
    assert engine.listener_errors == 0
    assert "Kafka" in caplog.text


def test_an_idempotent_producer_without_acks_all_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="acks='all'"):
        KafkaPublisher(KafkaConfig(acks="1"))
    KafkaPublisher(KafkaConfig(acks="1", idempotent=False)).close(1)
    with pytest.raises(KafkaPublisherError, match="rejected"):
        KafkaPublisher(options={"no.such.setting": "1"})
