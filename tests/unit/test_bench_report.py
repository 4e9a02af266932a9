"""``benchmarks/_report.py``: the ratio targets read one run's rows, and the split table adds up."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture(scope="module")
def report(bench_module: Callable[[str], ModuleType]) -> ModuleType:
    return bench_module("_report")


def _rate(system: str, name: str, sagas_per_s: float) -> dict[str, Any]:
    return {"system": system, "name": name, "sagas_per_s": sagas_per_s}


def _chain(system: str, length: int, latency_ms: float) -> dict[str, Any]:
    return {"system": system, "name": f"chain-{length}-async", "latency_ms": {"median": latency_ms}}


def _split(name: str, us: float, java: float, calls: float) -> dict[str, Any]:
    return {
        "system": "fireflytx", "case": "split", "name": name, "us_per_saga": us, "java_us_per_saga": java,
        "calls_per_saga": calls, "empty_call_us": 1.0, "engine_us_per_saga": java - calls,
        "python_us_per_saga": us - java,
    }


def test_a_floor_ratio_target_names_every_case_that_falls_short(report: ModuleType) -> None:
    check = report._of_floor({"a": 0.2, "b": 0.5})
    rows = [_rate("fireflytx", "a", 30), _rate("asyncio-floor", "a", 100)]
    rows += [_rate("fireflytx", "b", 40), _rate("asyncio-floor", "b", 100)]
    text, met = check(rows)
    assert met is False
    assert text.startswith("0.3× / 0.4×")
    assert text.endswith("short: b")
    rows[2]["sagas_per_s"] = 50
    assert check(rows)[1] is True


def test_a_floor_ratio_target_is_not_judged_without_the_floor(report: ModuleType) -> None:
    text, met = report._of_floor({"a": 0.2})([_rate("fireflytx", "a", 30)])
    assert met is None
    assert text.startswith("a: ")


def test_the_per_step_target_compares_added_steps_and_shows_the_java_part(report: ModuleType) -> None:
    rows = [
        _chain("fireflytx", 1, 0.05), _chain("fireflytx", 50, 0.05 + 49 * 0.0095),  # 9.5 µs per added step
        _chain("asyncio-floor", 1, 0.002), _chain("asyncio-floor", 50, 0.051),  # 1 µs
        _split("split-chain-1-async", 50, 10, 2), _split("split-chain-50-async", 540, 206, 51),
    ]
    text, met = report._per_step_of_floor(rows)
    assert met is True
    assert "9.5 µs against the floor's 1.00 µs: 9.5×" in text
    assert "inside Java calls 4.0 µs per added step, alone 4.0× the floor's" in text
    rows[1]["latency_ms"]["median"] = 0.05 + 49 * 0.0105
    assert report._per_step_of_floor(rows)[1] is False


def test_the_split_table_splits_each_saga_and_each_added_step(report: ModuleType) -> None:
    rows = [
        _split("split-chain-1-async", 50, 10, 2), _split("split-chain-50-async", 540, 206, 51),
        _rate("asyncio-floor", "chain-1-async", 500_000),
    ]
    lines = report._split_table(rows)
    assert lines[2] == "| chain-1-async | 50.0 | 10.0 | 2.0 | 2.0 | 8.0 | 40.0 | 2.0 |"
    assert lines[3] == "| chain-50-async | 540.0 | 206.0 | 51.0 | 51.0 | 155.0 | 334.0 | — |"
    assert lines[4] == "| per added step (chain-50 − chain-1) ÷ 49 | 10.0 | 4.0 | 1 | 1.0 | 3.0 | 6.0 | |"
