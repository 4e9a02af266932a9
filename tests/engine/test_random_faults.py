"""Random faults at volume, each outcome checked against what the methods did (``benchmarks/faults.py``).

The suite runs a few thousand sagas and TCCs; ``python -m benchmarks.faults --runs 100000`` runs the
100,000 that throughput changes are checked with.
"""

from __future__ import annotations

from benchmarks.faults import run_faults


async def test_thousands_of_runs_with_random_faults_and_cancellations_end_exactly_as_their_methods_did() -> (
    None
):
    tally = await run_faults(runs=3_000, concurrency=200, seed=20261201)

    assert tally.violations == []
    # The mix really exercised every ending.
    for status in (
        "saga SUCCEEDED",
        "saga COMPENSATED",
        "tcc CONFIRMED",
        "tcc CANCELED",
        "cancelled by the caller",
    ):
        assert tally.statuses[status] > 0, tally.statuses
