"""How many sagas each case runs, per system speed class and mode (default or ``--quick``)."""

from __future__ import annotations

from dataclasses import dataclass

CASES = (
    "chain",
    "throughput",
    "failure",
    "tcc",
    "calls",
    "split",
    "events",
    "durable",
    "coldstart",
    "memory",
    "leak",
)
PERF_CASES = ("chain", "throughput", "failure", "tcc", "calls", "split", "events", "durable")
SYSTEMS = ("fireflytx", "asyncio-floor", "dbos")
MODULES = {"fireflytx": "fireflytx_cases", "asyncio-floor": "asyncio_floor", "dbos": "dbos_peer"}


@dataclass(frozen=True)
class Sizes:
    warmup: int  # diamonds run before any timing, at concurrency 10
    chain_runs: dict[int, int]  # chain length -> timed sagas (one at a time)
    concurrencies: tuple[int, ...]  # diamond throughput
    failure_concurrencies: tuple[int, ...]
    tcc_concurrencies: tuple[int, ...]
    per_round: int  # sagas per throughput round (at least 10 per worker)
    rounds: int
    in_flight: int  # held sagas for the memory case
    leak_sagas: int  # 0: not measured
    leak_warmup: int
    coldstart_runs: int
    durable_per_round: int  # diamonds per round of each engine in the durable case (fireflytx only)
    durable_rounds: int
    orphans: int  # orphaned diamonds the durable case recovers, per store


def sizes(system: str, quick: bool) -> Sizes:
    if system == "dbos":  # ~50-100 sagas/s, a few ms per checkpointed step
        return Sizes(
            warmup=10 if quick else 30,
            chain_runs={1: 20, 10: 6, 50: 3} if quick else {1: 100, 10: 30, 50: 8},
            concurrencies=(1, 10),
            failure_concurrencies=(1, 10),
            tcc_concurrencies=(1, 10),
            per_round=40 if quick else 150,
            rounds=1 if quick else 2,
            in_flight=1000,
            leak_sagas=0,
            leak_warmup=0,
            coldstart_runs=3 if quick else 5,
            durable_per_round=0,
            durable_rounds=0,
            orphans=0,
        )
    return Sizes(
        warmup=1500 if quick else 10_000,
        chain_runs={1: 600, 10: 200, 50: 60} if quick else {1: 3000, 10: 1000, 50: 300},
        concurrencies=(1, 10, 100, 1000),
        failure_concurrencies=(1, 10, 100),
        tcc_concurrencies=(1, 10, 100),
        per_round=1500 if quick else 5000,
        rounds=1 if quick else 3,
        in_flight=1000,
        leak_sagas=10_000 if quick else 100_000,
        leak_warmup=3000 if quick else 20_000,
        coldstart_runs=3 if quick else 5,
        durable_per_round=1000 if quick else 3000,
        durable_rounds=3 if quick else 5,
        orphans=1000 if quick else 10_000,
    )
