"""The events case: diamonds at concurrency 100 with Kafka events for every step, against none.

fireflytx only. A real single-node Kafka (the one the event tests start) runs beside the
benchmark; one engine publishes every event of every run to it, another publishes nothing.
Rounds alternate between the two in one process, so both see the same machine. An events-on
round is timed until every event of its sagas was delivered to the broker (acks=all), so the
rate is one the event pipeline keeps up with, not one that leaves a backlog behind.

CPU time is split by where it goes (this process's threads by role, and the broker's process),
because the broker shares the machine's cores and its share is outside fireflytx's control.

Two more engines split the cost of events into its parts, each publishing to the same broker
through a ``KafkaPublisher`` of its own:

- *Kafka alone*: no observer; the diamond's steps themselves publish one fixed, envelope-sized
  message for each event a diamond has (10), so only producing the messages is paid.
- *run events, fixed messages*: an observer that builds no envelope and publishes that fixed
  message for each run event the engine hands it, so the engine's run events are paid too.

What events on costs beyond the second is the envelopes.

Two engines without Kafka split it the other way, in the order events on adds things: *run events
alone* (an inline observer that does nothing: what the engine pays to hand every event over), then
*envelopes without Kafka* (the ``EventObserver`` writing every envelope for a publisher that drops
it). Events on adds producing to Kafka to that.

A ceiling comes last: the loop CPU of Kafka alone plus the least 10 envelopes can cost
(``_envelope_floor``), against the loop CPU with events off. Events on cannot run faster than that
share of the events-off rate even if the engine's run events cost nothing.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

from fireflytx import saga, saga_step
from fireflytx._saga._definition import StepMarker
from fireflytx._spec import MARKER_ATTRIBUTE

from . import _shapes
from ._drivers import Runner, cpu_seconds, log, warm
from ._envelope_floor import least_envelope_us_per_saga

CONCURRENCY = 100
TOPIC = "fireflytx-bench-events"
FLOOR_TOPIC = "fireflytx-bench-floor"
FIXED_ENVELOPE = (
    b'{"schema_version":1,"event_id":"3d34ce26-6f43-4774-8ee0-a843681c4013","sequence":3,'
    b'"timestamp":"2026-12-01T03:17:01.392120Z","type":"STEP_SUCCEEDED","transaction_kind":"saga",'
    b'"transaction_name":"bench-diamond","correlation_id":"3d34ce26-6f43-4774-8ee0-a843681c4013",'
    b'"unit_id":"b","phase":"step","attempt":1,"will_retry":null,"duration_ms":0.012,"status":null,'
    b'"error":null,"headers":{},"payload":null}'
)


EVENTS_PER_DIAMOND = 10
"""Transaction started and finished, and each of the four steps started and succeeded."""

_self_publish: list[Any] = []
"""The publisher of ``SelfPublishingDiamond``'s steps (set by ``EventsSetup.start``)."""


def _publish_fixed(count: int) -> None:
    publish = _self_publish[0].publish
    for _ in range(count):
        publish(FLOOR_TOPIC, b"kafka-alone", FIXED_ENVELOPE)


_MESSAGES_BY_STEP = {"a": 3, "b": 2, "c": 2, "d": 3}


def _publishing_first(step: Callable[..., Awaitable[int]], count: int) -> Callable[..., Awaitable[int]]:
    async def publishing(self: Any, fail: bool) -> int:
        _publish_fixed(count)
        return await step(self, fail)

    return publishing


def _self_publishing_diamond() -> type:
    """``_shapes``'s diamond, compensations and all, whose steps first publish its 10 events' messages.

    Made from ``DiamondSaga`` rather than written again, so the two stay the same saga.
    """
    namespace: dict[str, Any] = {}
    for name, member in vars(_shapes.DiamondSaga).items():
        marker = getattr(member, MARKER_ATTRIBUTE, None)
        if isinstance(marker, StepMarker):
            step = _publishing_first(member, _MESSAGES_BY_STEP[marker.step_id])
            namespace[name] = saga_step(marker.step_id, depends_on=list(marker.depends_on))(step)
        elif marker is not None:
            namespace[name] = member
    return saga("bench-self-publishing-diamond")(type("SelfPublishingDiamond", (), namespace))


SelfPublishingDiamond = _self_publishing_diamond()


class FixedMessagePerEvent:
    """An observer that only publishes one fixed message per run event: the per-event Kafka floor."""

    inline = True

    def __init__(self, publisher: Any) -> None:
        self._publish = publisher.publish

    def on_event(self, event: object) -> None:
        self._publish(FLOOR_TOPIC, b"floor", FIXED_ENVELOPE)


class DoNothing:
    """An inline observer that does nothing: what handing every run event over costs the engine."""

    inline = True

    def on_event(self, event: object) -> None:
        return None


class Discard:
    """A publisher that drops every envelope: the ``EventObserver``'s own cost, without Kafka."""

    inline = True

    def publish(self, topic: str, key: bytes, value: bytes) -> None:
        return None

    def close(self, timeout: float) -> bool:
        return True


class EventsSetup:
    """The broker, the publishing engine and its publisher, and the floor engine and its publisher."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="fireflytx-bench-kafka-")
        self.broker: Any = None
        self.engine: Any = None
        self.publisher: Any = None
        self.floor_engine: Any = None
        self.floor_publisher: Any = None
        self.alone_engine: Any = None
        self.alone_publisher: Any = None
        self.handed_engine: Any = None
        self.unpublished_engine: Any = None

    async def start(self) -> None:
        from tests.events.kafka_broker import KafkaBroker

        from fireflytx import SagaEngine
        from fireflytx.config import EventsConfig, KafkaConfig
        from fireflytx.events import EventObserver, KafkaPublisher

        self.broker = KafkaBroker(Path(self._tmp.name))
        await asyncio.to_thread(self.broker.start)
        await asyncio.to_thread(self.broker.create_topic, TOPIC, 4)
        await asyncio.to_thread(self.broker.create_topic, FLOOR_TOPIC, 4)
        self.publisher = KafkaPublisher(KafkaConfig(bootstrap_servers=self.broker.bootstrap))
        observer = EventObserver(self.publisher, EventsConfig(topic=TOPIC))
        self.engine = await SagaEngine(listeners=[observer]).initialize()
        self.floor_publisher = KafkaPublisher(KafkaConfig(bootstrap_servers=self.broker.bootstrap))
        floor = FixedMessagePerEvent(self.floor_publisher)
        self.floor_engine = await SagaEngine(listeners=[floor]).initialize()
        self.alone_publisher = KafkaPublisher(KafkaConfig(bootstrap_servers=self.broker.bootstrap))
        _self_publish[:] = [self.alone_publisher]
        self.alone_engine = await SagaEngine().initialize()
        self.handed_engine = await SagaEngine(listeners=[DoNothing()]).initialize()
        unpublished = EventObserver(Discard(), EventsConfig(topic=TOPIC))
        self.unpublished_engine = await SagaEngine(listeners=[unpublished]).initialize()

    def kafka_alone(self) -> Runner:
        """The self-publishing diamond on the engine with no observer."""
        execute = self.alone_engine.execute

        async def run() -> None:
            result = await execute(SelfPublishingDiamond, False)
            if not result.is_success:
                raise AssertionError(f"self-publishing diamond failed: {result!r}")

        return run

    async def drained(self) -> None:
        """Wait until every event so far reached the broker."""
        await _drained(self.engine, self.publisher)

    async def floor_drained(self) -> None:
        """Wait until every message of the floor engine so far reached the broker."""
        await _drained(self.floor_engine, self.floor_publisher)

    async def alone_drained(self) -> None:
        """Wait until every message the self-publishing steps sent so far reached the broker."""
        await _drained(self.alone_engine, self.alone_publisher)

    async def stop(self) -> None:
        for engine in (
            self.engine, self.floor_engine, self.alone_engine, self.handed_engine, self.unpublished_engine
        ):
            if engine is not None:
                await engine.shutdown()
        if self.broker is not None:
            self.broker.stop()
        self._tmp.cleanup()


async def _drained(engine: Any, publisher: Any) -> None:
    if not await asyncio.to_thread(engine.flush_listeners, 120):
        raise AssertionError("the observers did not catch up within 120 s")
    if not await asyncio.to_thread(publisher.flush, 120):
        raise AssertionError("the Kafka publisher did not deliver within 120 s")


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


def _facts(
    label: str,
    median: dict[str, float],
    rates: dict[str, list[float]],
    cpu: dict[str, float],
    split: dict[str, Counter[str]],
    per_saga: float,
) -> dict[str, Any]:
    """One engine's rate, share of events off, rounds and CPU per saga, under keys named after ``label``."""
    return {
        f"{label}_sagas_per_s": median[label],
        f"{label}_ratio": median[label] / median["off"],
        f"rounds_{label}": sorted(rates[label]),
        f"cpu_us_per_saga_{label}": cpu[label] * per_saga,
        f"cpu_us_per_saga_{label}_by": {k: v * per_saga for k, v in sorted(split[label].items())},
    }


async def measure(off: Runner, make_on: Any, total: int, rounds: int, warmup: int) -> dict[str, Any]:
    """Alternate events-off, events-on and floor rounds; the medians and their ratios to off."""
    setup = EventsSetup()
    try:
        await setup.start()
        on, floor, alone = make_on(setup.engine), make_on(setup.floor_engine), setup.kafka_alone()
        handed, unpublished = make_on(setup.handed_engine), make_on(setup.unpublished_engine)
        log(f"  events: broker at {setup.broker.bootstrap}; warm-up {warmup} diamonds each way")
        for run in (off, on, floor, alone, handed, unpublished):
            await warm(run, warmup, CONCURRENCY)
        await setup.drained()
        await setup.floor_drained()
        await setup.alone_drained()
        plan = (
            ("off", off, None),
            ("on", on, setup.drained),
            ("floor", floor, setup.floor_drained),
            ("alone", alone, setup.alone_drained),
            ("handed", handed, None),
            ("unpublished", unpublished, None),
        )
        rates: dict[str, list[float]] = {label: [] for label, _, _ in plan}
        cpu: dict[str, float] = {label: 0.0 for label, _, _ in plan}
        split: dict[str, Counter[str]] = {label: Counter() for label, _, _ in plan}
        pid = setup.broker.pid
        for _ in range(rounds):
            for label, runner, after in plan:
                c0, s0 = cpu_seconds(), cpu_split(pid)
                rates[label].append(await _round(runner, total, after))
                c1, s1 = cpu_seconds(), cpu_split(pid)
                cpu[label] += c1 - c0
                split[label].update(s1 - s0)  # threads that ended in between drop out, not negative
        names = ("published", "delivered", "failed", "dropped", "undelivered")
        counters = {k: getattr(setup.publisher, k) for k in names}
        floor_delivered = setup.floor_publisher.delivered
        alone_delivered = setup.alone_publisher.delivered
    finally:
        await setup.stop()
    median = {label: sorted(values)[len(values) // 2] for label, values in rates.items()}
    per_saga = 1e6 / (total * rounds)
    least_envelopes = least_envelope_us_per_saga()
    loop_off = split["off"]["event loop"] * per_saga
    loop_alone = split["alone"]["event loop"] * per_saga
    return {
        "name": "diamond-c100-events",
        "concurrency": CONCURRENCY,
        "sagas_per_s": median["on"],
        "events_off_sagas_per_s": median["off"],
        "ratio": median["on"] / median["off"],
        "floor_sagas_per_s": median["floor"],
        "floor_ratio": median["floor"] / median["off"],
        "alone_sagas_per_s": median["alone"],
        "alone_ratio": median["alone"] / median["off"],
        "rounds_on": sorted(rates["on"]),
        "rounds_off": sorted(rates["off"]),
        "rounds_floor": sorted(rates["floor"]),
        "rounds_alone": sorted(rates["alone"]),
        "cpu_us_per_saga_on": cpu["on"] * per_saga,
        "cpu_us_per_saga_off": cpu["off"] * per_saga,
        "cpu_us_per_saga_floor": cpu["floor"] * per_saga,
        "cpu_us_per_saga_alone": cpu["alone"] * per_saga,
        "cpu_us_per_saga_on_by": {k: v * per_saga for k, v in sorted(split["on"].items())},
        "cpu_us_per_saga_off_by": {k: v * per_saga for k, v in sorted(split["off"].items())},
        "cpu_us_per_saga_floor_by": {k: v * per_saga for k, v in sorted(split["floor"].items())},
        "cpu_us_per_saga_alone_by": {k: v * per_saga for k, v in sorted(split["alone"].items())},
        "least_envelopes_us_per_saga": least_envelopes,
        "ceiling_ratio": loop_off / (loop_alone + least_envelopes),
        "publisher": counters,
        **_facts("handed", median, rates, cpu, split, per_saga),
        **_facts("unpublished", median, rates, cpu, split, per_saga),
        "floor_delivered": floor_delivered,
        "alone_delivered": alone_delivered,
    }
