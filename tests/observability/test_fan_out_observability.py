"""A fan-out's clones in metrics (one label for them all) and in published events (their step's options)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fireflytx import SagaEngine, SagaStatus, saga, saga_step
from fireflytx.config import EventsConfig
from fireflytx.events import EventObserver, EventRecorder, step_events
from fireflytx.metrics import MetricsObserver


@saga("fanned")
class Fanned:
    @step_events(topic="parcels", on_start=False)
    @saga_step("ship", fan_out=lambda n: list(range(n)), retry=1, backoff_ms=1)
    def ship(self, i: int) -> int:
        return i

    @saga_step("done", depends_on=["ship"])
    async def done(self) -> str:
        return "ok"


async def test_metrics_count_every_clone_under_one_unit_label() -> None:
    registry = CollectorRegistry()
    async with SagaEngine(listeners=[MetricsObserver(registry)]) as engine:
        assert (await engine.execute(Fanned, 25)).status is SagaStatus.SUCCEEDED
        assert engine.flush_listeners(10)
    units: dict[str, float] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "fireflytx_attempt_duration_seconds_count" and labels["outcome"] == "success":
                units[labels["unit"]] = sample.value
    assert units == {"ship#*": 25, "ship": 1, "done": 1}


async def test_published_clone_events_take_their_steps_options() -> None:
    recorder = EventRecorder()
    observer = EventObserver(recorder, EventsConfig(topic="default-topic"))
    async with SagaEngine(listeners=[observer]) as engine:
        assert (await engine.execute(Fanned, 2, correlation_id="fan-1")).is_success
    sent = [(topic, e["type"], e["unit_id"]) for topic, e in recorder.records]
    assert sent[0] == ("default-topic", "TRANSACTION_STARTED", None)
    clones = [("parcels", "STEP_SUCCEEDED", "ship#0"), ("parcels", "STEP_SUCCEEDED", "ship#1")]
    assert sorted(sent[1:3]) == clones
    assert sent[3:] == [
        ("parcels", "STEP_SUCCEEDED", "ship"),
        ("default-topic", "STEP_STARTED", "done"),
        ("default-topic", "STEP_SUCCEEDED", "done"),
        ("default-topic", "TRANSACTION_FINISHED", None),
    ]
