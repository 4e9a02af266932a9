"""The benchmark's split case times every call into Java on the run path (``benchmarks/_split.py``).

Its numbers are only as good as its coverage: a call path it does not wrap would show up as
Python time. Run in a child process, since the case starts engines with the benchmark's settings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import asyncio, json
from benchmarks import _split, fireflytx_cases

async def main():
    system = fireflytx_cases.create()
    await system.start()
    try:
        shapes = list(_split.shapes(system))
        rows = [await _split.measure(name, run, 50, system, settle=False) for name, run, _ in shapes]
    finally:
        await system.stop()
    print(json.dumps(rows))

asyncio.run(main())
"""
CALLS = {
    "split-chain-1-async": 2,
    "split-chain-50-async": 51,
    "split-diamond-c1": 4,
    "split-diamond-failing-c1": 7,
    "split-tcc-confirmed-c1": 7,
}
"""Calls into Java per saga run one at a time: a start, then one per answer (a failure's included)."""


def test_the_split_case_times_every_call_a_run_makes_into_java() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=100, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout.splitlines()[-1])}
    assert {name: row["calls_per_saga"] for name, row in rows.items()} == CALLS
    for row in rows.values():
        assert row["untimed_calls"] in (0, 2, 3), row  # at most a launcher registered (and one retired)
        assert 0 < row["empty_call_us"] < row["java_us_per_saga"] / row["calls_per_saga"], row
        assert 0 < row["java_us_per_saga"] < row["us_per_saga"], row
        assert row["python_us_per_saga"] == pytest.approx(row["us_per_saga"] - row["java_us_per_saga"]), row
