"""The events case: diamonds at concurrency 100 with Kafka events for every step, against none.

fireflytx only. A real single-node Kafka (the one the event tests start) runs beside the
benchmark; one engine publishes every event of every run to it, another publishes nothing.
Rounds alternate between the two in one process, so both see the same machine. An events-on
round is timed until every event of its sagas was delivered to the broker (acks=all), so the
rate is one the event pipeline keeps up with, not one that leaves a backlog behind.

CPU time is split by where it goes (this process's threads by role, and the broker's process),
because the broker shares the machine's cores and its share is outside fireflytx's control.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from ._drivers import Runner, cpu_seconds, log, warm

CONCURRENCY = 100
TOPIC = "fireflytx-bench-events"


class EventsSetup:
    """The broker, the publishing engine and its publisher."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="fireflytx-bench-kafka-")
        self.broker: Any = None
        self.engine: Any = None
        self.publisher: Any = None

    async def start(self) -> None:
        from tests.events.kafka_broker import KafkaBroker

        from fireflytx import SagaEngine
        from fireflytx.config import EventsConfig, KafkaConfig
        from fireflytx.events import EventObserver, KafkaPublisher

        self.broker = KafkaBroker(Path(self._tmp.name))
        await asyncio.to_thread(self.broker.start)
        await asyncio.to_thread(self.broker.create_topic, TOPIC, 4)
        self.publisher = KafkaPublisher(KafkaConfig(bootstrap_servers=self.broker.bootstrap))
        observer = EventObserver(self.publisher, EventsConfig(topic=TOPIC))
        self.engine = await SagaEngine(listeners=[observer]).initialize()

    async def drained(self) -> None:
        """Wait until every event so far reached the broker."""
        engine, publisher = self.engine, self.publisher
        if not await asyncio.to_thread(engine.flush_listeners, 120):
            raise AssertionError("the observers did not catch up within 120 s")
        if not await asyncio.to_thread(publisher.flush, 120):
            raise AssertionError("the Kafka publisher did not deliver within 120 s")

    async def stop(self) -> None:
        if self.engine is not None:
            await self.engine.shutdown()
        if self.broker is not None:
            self.broker.stop()
        self._tmp.cleanup()


def _role(thread_id: int, names: dict[int | None, str]) -> str:
    if thread_id == os.getpid():
        return "event loop"
    name = names.get(thread_id, "")
    if name.startswith("fireflytx-observers"):
        return "observer thread"
    if name == "fireflytx-kafka":
        return "publisher thread"
    try:
        with open(f"/proc/self/task/{thread_id}/comm", encoding="utf-8") as comm:
            if comm.read().startswith("rdk:"):
                return "librdkafka"
    except OSError:
        pass
    return "other (JVM, workers)"


def cpu_split(broker_pid: int | None) -> Counter[str]:
    """CPU seconds so far: this process's threads by role, and the broker's process."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    split: Counter[str] = Counter()
    for thread in psutil.Process().threads():
        split[_role(thread.id, names)] += thread.user_time + thread.system_time
    if broker_pid is not None:
        times = psutil.Process(broker_pid).cpu_times()
        split["broker"] = times.user + times.system
    return split


async def _round(run: Runner, total: int, after: Any = None) -> float:
    budget = iter(range(total))

    async def worker() -> None:
        for _ in budget:
            await run()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    if after is not None:
        await after()
    return total / (time.perf_counter() - start)


async def measure(off: Runner, make_on: Any, total: int, rounds: int, warmup: int) -> dict[str, Any]:
    """Alternate events-off and events-on rounds; the medians and their ratio."""
    setup = EventsSetup()
    try:
        await setup.start()
        on = make_on(setup.engine)
        log(f"  events: broker at {setup.broker.bootstrap}; warm-up {warmup} diamonds each way")
        await warm(off, warmup, CONCURRENCY)
        await warm(on, warmup, CONCURRENCY)
        await setup.drained()
        off_rates: list[float] = []
        on_rates: list[float] = []
        cpu_off = cpu_on = 0.0
        split_off: Counter[str] = Counter()
        split_on: Counter[str] = Counter()
        pid = setup.broker.pid
        for _ in range(rounds):
            c0, s0 = cpu_seconds(), cpu_split(pid)
            off_rates.append(await _round(off, total))
            c1, s1 = cpu_seconds(), cpu_split(pid)
            on_rates.append(await _round(on, total, setup.drained))
            c2, s2 = cpu_seconds(), cpu_split(pid)
            cpu_off, cpu_on = cpu_off + c1 - c0, cpu_on + c2 - c1
            split_off.update(s1 - s0)  # threads that ended in between drop out rather than count negative
            split_on.update(s2 - s1)
        publisher = setup.publisher
        counters = {
            k: getattr(publisher, k) for k in ("published", "delivered", "failed", "dropped", "undelivered")
        }
    finally:
        await setup.stop()
    off_rates.sort()
    on_rates.sort()
    off_rate, on_rate = off_rates[len(off_rates) // 2], on_rates[len(on_rates) // 2]
    return {
        "name": "diamond-c100-events",
        "concurrency": CONCURRENCY,
        "sagas_per_s": on_rate,
        "events_off_sagas_per_s": off_rate,
        "ratio": on_rate / off_rate,
        "rounds_on": on_rates,
        "rounds_off": off_rates,
        "cpu_us_per_saga_on": cpu_on * 1e6 / (total * rounds),
        "cpu_us_per_saga_off": cpu_off * 1e6 / (total * rounds),
        "cpu_us_per_saga_on_by": {k: v * 1e6 / (total * rounds) for k, v in sorted(split_on.items())},
        "cpu_us_per_saga_off_by": {k: v * 1e6 / (total * rounds) for k, v in sorted(split_off.items())},
        "publisher": counters,
    }
