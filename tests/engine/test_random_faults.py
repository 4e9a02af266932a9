"""Random faults at volume, each outcome checked against what the methods did (``benchmarks/faults.py``).

The suite runs a few thousand sagas and TCCs; ``python -m benchmarks.faults --runs 100000`` runs the
100,000 that throughput changes are checked with. They run in a child process with a deadline: a run
that never ends (the kind of bug this hunts) would otherwise hold the engines' shutdown, and the suite,
forever.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 100
"""Under the suite's 120 s per test; 3,000 transactions take about 10 s."""


def test_thousands_of_runs_with_random_faults_and_cancellations_end_exactly_as_their_methods_did() -> None:
    command = [sys.executable, "-m", "benchmarks.faults", "--runs", "3000", "--concurrency", "200"]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE_S)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"some runs never ended: no result after {DEADLINE_S} s\n{exc.stdout}") from None

    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "every outcome matched what the methods did" in done.stdout, report
    # The mix really exercised every ending.
    endings = ["saga SUCCEEDED", "saga COMPENSATED", "tcc CONFIRMED", "tcc CANCELED"]
    endings.append("cancelled by the caller:")
    for ending in endings:
        assert f"  {ending}" in done.stdout, report
