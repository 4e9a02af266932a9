"""Prometheus metrics of real runs, read from the text exposition a scraper would get."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fireflytx import (
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
from fireflytx.metrics import MetricsObserver, start_http_server


@saga("metered")
class Metered:
    def __init__(self) -> None:
        self.flaky = 0

    @saga_step("reserve")
    async def reserve(self, order: dict) -> str:
        return "R-1"

    @compensation_step("reserve")
    def release(self, reservation: str) -> None:
        pass

    @saga_step("slow", depends_on=["reserve"], timeout_ms=50)
    async def slow(self, order: dict) -> None:
        if order.get("stall"):
            await asyncio.sleep(5)

    @saga_step("charge", depends_on=["slow"], retry=2, backoff_ms=1)
    def charge(self, order: dict) -> str:
        if order.get("decline"):
            raise ValueError("card declined")
        return "C-1"


@tcc("metered-tcc")
class MeteredTcc:
    @tcc_participant("payment", order=1)
    class Payment:
        @try_method
        async def hold(self, order: dict) -> str:
            return "H-1"

        @confirm_method
        async def capture(self, hold: str) -> None: ...

        @cancel_method
        async def release(self, hold: str | None) -> None: ...


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    parsed: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            parsed[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return parsed


def value(parsed: Samples, metric: str, /, **labels: str) -> float:
    return parsed[(metric, frozenset(labels.items()))]


async def test_runs_statuses_durations_retries_and_timeouts_reach_the_exposition() -> None:
    metrics = MetricsObserver()
    async with SagaEngine(listeners=[metrics]) as engine:
        assert (await engine.execute(Metered, {})).status is SagaStatus.SUCCEEDED
        assert (await engine.execute(Metered, {"decline": True})).status is SagaStatus.COMPENSATED
        assert (await engine.execute(Metered, {"stall": True})).status is SagaStatus.COMPENSATED
        assert engine.flush_listeners(10)
    parsed = samples(generate_latest(metrics.registry).decode())
    run = {"kind": "saga", "name": "metered"}
    assert value(parsed, "fireflytx_transactions_total", **run, status="SUCCEEDED") == 1
    assert value(parsed, "fireflytx_transactions_total", **run, status="COMPENSATED") == 2
    assert value(parsed, "fireflytx_transactions_in_flight", **run) == 0
    assert value(parsed, "fireflytx_transaction_duration_seconds_count", **run) == 3
    charge = {**run, "phase": "step", "unit": "charge"}
    # Three attempts of the declined charge: two are retried, the last fails for good.
    assert value(parsed, "fireflytx_retries_total", **charge) == 2
    assert value(parsed, "fireflytx_attempt_duration_seconds_count", **charge, outcome="failure") == 3
    assert value(parsed, "fireflytx_attempt_duration_seconds_count", **charge, outcome="success") == 1
    slow = {**run, "phase": "step", "unit": "slow"}
    assert value(parsed, "fireflytx_timeouts_total", **slow) == 1
    assert value(parsed, "fireflytx_attempt_duration_seconds_sum", **slow, outcome="failure") >= 0.05
    release = {**run, "phase": "compensation", "unit": "reserve"}
    assert value(parsed, "fireflytx_attempt_duration_seconds_count", **release, outcome="success") == 2


async def test_tcc_phases_and_a_shared_registry() -> None:
    registry = CollectorRegistry()
    metrics = MetricsObserver(registry)
    async with TccEngine(listeners=[metrics]) as engine:
        assert (await engine.execute(MeteredTcc, {})).status is TccStatus.CONFIRMED
        assert engine.flush_listeners(10)
    parsed = samples(generate_latest(registry).decode())
    run = {"kind": "tcc", "name": "metered-tcc"}
    assert value(parsed, "fireflytx_transactions_total", **run, status="CONFIRMED") == 1
    for phase in ("try", "confirm"):
        labels = {**run, "phase": phase, "unit": "payment", "outcome": "success"}
        assert value(parsed, "fireflytx_attempt_duration_seconds_count", **labels) == 1


class Broken:
    def on_event(self, event: object) -> None:
        raise RuntimeError("observer bug")


async def test_engine_counters_and_added_counters_are_read_at_each_scrape() -> None:
    metrics = MetricsObserver()
    published = [0]
    metrics.add_counter("events_published", "Events a publisher delivered.", lambda: published[0])
    async with SagaEngine(listeners=[Broken()]) as engine:
        metrics.watch(engine, label="orders")
        await engine.execute(Metered, {})
        assert engine.flush_listeners(10)
        published[0] = 7
        parsed = samples(generate_latest(metrics.registry).decode())
    # Broken raised on every event of the run: start, three steps started and finished, end.
    assert value(parsed, "fireflytx_observer_errors_total", engine="orders") == engine.listener_errors == 8
    assert value(parsed, "fireflytx_observer_events_dropped_total", engine="orders") == 0
    assert value(parsed, "fireflytx_events_published_total") == 7


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_start_http_server_serves_the_observers_registry_only_when_asked() -> None:
    metrics = MetricsObserver()
    async with SagaEngine(listeners=[metrics]) as engine:
        await engine.execute(Metered, {})
        assert engine.flush_listeners(10)
    port = free_port()
    server, thread = start_http_server(port, registry=metrics)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    parsed = samples(text)
    assert value(parsed, "fireflytx_transactions_total", kind="saga", name="metered", status="SUCCEEDED") == 1


async def test_runs_in_flight_count_while_they_go() -> None:
    metrics = MetricsObserver()
    release = asyncio.Event()
    entered = asyncio.Event()

    @saga("waiting")
    class Waiting:
        @saga_step("wait")
        async def wait(self) -> None:
            entered.set()
            await release.wait()

    async with SagaEngine(listeners=[metrics]) as engine:
        running = asyncio.ensure_future(engine.execute(Waiting, None))
        await entered.wait()
        assert engine.flush_listeners(10)
        during = samples(generate_latest(metrics.registry).decode())
        release.set()
        assert (await running).status is SagaStatus.SUCCEEDED
        assert engine.flush_listeners(10)
    after = samples(generate_latest(metrics.registry).decode())
    assert value(during, "fireflytx_transactions_in_flight", kind="saga", name="waiting") == 1
    assert value(after, "fireflytx_transactions_in_flight", kind="saga", name="waiting") == 0
