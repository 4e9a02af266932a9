"""``benchmarks/_envelope_floor.py``: the events ceiling is computed from envelopes a consumer accepts.

The ceiling is only evidence if the envelopes timed are the real thing: each must fit the committed
schema and the model, with its own event id, and a run's sequence must count from 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import jsonschema
import pytest

from fireflytx.events import EventEnvelope, envelope_schema


@pytest.fixture(scope="module")
def floor(bench_module: Callable[[str], ModuleType]) -> ModuleType:
    return bench_module("_envelope_floor")


def test_every_envelope_fits_the_schema_and_the_model(floor: ModuleType) -> None:
    schema = envelope_schema()
    wire = [json.loads(e) for e in floor.envelopes(["run-1", "run-2"])]
    assert len(wire) == 20
    for event in wire:
        jsonschema.validate(event, schema, format_checker=jsonschema.FormatChecker())
        EventEnvelope.model_validate(event)
    assert len({e["event_id"] for e in wire}) == 20
    assert [e["sequence"] for e in wire if e["correlation_id"] == "run-2"] == list(range(10))
    assert [e["type"] for e in wire[:10]] == [
        "TRANSACTION_STARTED", "STEP_STARTED", "STEP_SUCCEEDED", "STEP_STARTED", "STEP_STARTED",
        "STEP_SUCCEEDED", "STEP_SUCCEEDED", "STEP_STARTED", "STEP_SUCCEEDED", "TRANSACTION_FINISHED",
    ]


def test_the_timing_is_positive_microseconds(floor: ModuleType) -> None:
    assert 0 < floor.least_envelope_us_per_saga(rounds=1) < 100_000
