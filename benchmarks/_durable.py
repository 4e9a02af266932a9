"""The durable case: diamonds at concurrency 100 journaled to SQLite and to Redis, against none.

fireflytx only. Three engines live in one process: one with no store (the in-memory rate), one
journaling every run to a SQLite file (``synchronous=FULL``, the default), one to a real Valkey
server started here (``appendfsync always``, as the store tests run it). Rounds alternate between
the three, so all see the same machine and the same warm JVM; each rate is the median of its rounds.

Then recovery: 10,000 orphaned diamonds (``--quick``: 1,000) are written through the store API,
as a killed process leaves them (RUNNING, owned by a process that is gone, lease expired, a
quarter each with 0, 1, 2 or 3 step checkpoints), and a fresh engine that registered the diamond
is timed through ``await engine.recover()``; every one of them must come back SUCCEEDED.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ._drivers import Runner, cpu_seconds, log, warm

CONCURRENCY = 100
STORES = ("sqlite", "redis")
RATE_NAMES = ("diamond-c100-memory", *(f"diamond-c100-{store}" for store in STORES))
RECOVERY_NAMES = tuple(f"recover-{store}" for store in STORES)
DEAD_OWNER = "bench-dead-process"
ROOT = Path(__file__).resolve().parent.parent


class DurableSetup:
    """A temporary directory (SQLite files, the server's data), the Valkey server, the durable engines."""

    def __init__(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="fireflytx-bench-durable-"))
        self.server: Any = None
        self.engines: dict[str, Any] = {}

    async def start(self) -> None:
        if str(ROOT / "tests" / "persistence") not in sys.path:
            sys.path.insert(0, str(ROOT / "tests" / "persistence"))
        from valkey_server import ValkeyProcess

        self.server = ValkeyProcess(self._tmp / "valkey")
        await asyncio.to_thread(self.server.start)
        for store in STORES:
            self.engines[store] = await self.engine(store, "rates")

    def settings(self, store: str, tag: str) -> Any:
        """Settings journaling to ``store``; ``tag`` keeps apart the data of the rates and of recovery."""
        from fireflytx.config import FireflyTxSettings, PersistenceConfig

        if store == "sqlite":
            config = PersistenceConfig(url=f"sqlite:///{self._tmp / f'{tag}.db'}")
        else:
            url = self.server.url
            config = PersistenceConfig(url=url, key_prefix=f"bench-{tag}:")
        return FireflyTxSettings(persistence=config)

    async def engine(self, store: str, tag: str) -> Any:
        from fireflytx import SagaEngine

        return await SagaEngine(self.settings(store, tag)).initialize()

    @property
    def description(self) -> str:
        return f"SQLite in {self._tmp}, Valkey at {self.server.url if self.server else '?'}"

    async def stop(self) -> None:
        for engine in self.engines.values():
            await engine.shutdown()
        self.engines.clear()
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)
            self.server = None
        shutil.rmtree(self._tmp, ignore_errors=True)


async def _round(run: Runner, total: int) -> tuple[float, float]:
    """Sagas per second and CPU seconds of one round of ``total`` diamonds at concurrency 100."""
    budget = iter(range(total))

    async def worker() -> None:
        for _ in budget:
            await run()

    cpu = cpu_seconds()
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return total / (time.perf_counter() - start), cpu_seconds() - cpu


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


async def _rates(
    setup: DurableSetup,
    memory: Runner,
    make_on: Callable[[Any], Runner],
    total: int,
    rounds: int,
    warmup: int,
) -> list[dict[str, Any]]:
    runners = {"memory": memory, **{store: make_on(setup.engines[store]) for store in STORES}}
    log(f"  durable: {setup.description}; warm-up {warmup} diamonds per engine")
    for run in runners.values():
        await warm(run, warmup, CONCURRENCY)
    rates: dict[str, list[float]] = {kind: [] for kind in runners}
    cpu: dict[str, float] = dict.fromkeys(runners, 0.0)
    for _ in range(rounds):
        for kind, run in runners.items():
            rate, seconds = await _round(run, total)
            rates[kind].append(rate)
            cpu[kind] += seconds
    in_memory = _median(rates["memory"])
    rows = []
    for kind, name in zip(runners, RATE_NAMES, strict=True):
        rate = _median(rates[kind])
        row: dict[str, Any] = {
            "name": name,
            "store": kind,
            "concurrency": CONCURRENCY,
            "sagas_per_s": rate,
            "rounds": rates[kind],
            "sagas_per_round": total,
            "cpu_us_per_saga": cpu[kind] * 1e6 / (total * rounds),
        }
        if kind != "memory":
            row["ratio_to_memory"] = rate / in_memory
            row["store_settings"] = (
                "synchronous=FULL" if kind == "sqlite" else "appendfsync always"
            )
        rows.append(row)
    return rows


async def _orphans(store: Any, count: int) -> None:
    """``count`` diamonds as a killed process leaves them: RUNNING, lease expired, 0-3 steps done."""
    from fireflytx import definition_of
    from fireflytx._persistence._codec import encode
    from fireflytx._persistence._fingerprint import fingerprint_of
    from fireflytx.persistence import Checkpoint, NewTransaction

    from ._shapes import DiamondSaga

    fingerprint = fingerprint_of(definition_of(DiamondSaga))
    done = (("a", 1), ("b", 2), ("c", 3))

    async def one(n: int) -> None:
        cid = f"orphan-{n}"
        new = NewTransaction(
            correlation_id=cid, kind="saga", name="diamond", input=encode(False), fingerprint=fingerprint
        )
        await store.create(new, owner=DEAD_OWNER, lease_s=0)
        for unit, result in done[: n % 4]:
            checkpoint = Checkpoint(
                phase="step",
                unit_id=unit,
                attempts=1,
                idempotency_key=f"{cid}:step:{unit}",
                result=encode(result),
            )
            await store.append(cid, checkpoint, owner=DEAD_OWNER)

    for start in range(0, count, 500):
        await asyncio.gather(*(one(n) for n in range(start, min(start + 500, count))))


async def _recovery(setup: DurableSetup, store_kind: str, count: int) -> list[dict[str, Any]]:
    from fireflytx.persistence import RUNNING, open_store

    from ._shapes import DiamondSaga

    settings = setup.settings(store_kind, "recover")
    store = await open_store(settings.persistence)
    try:
        started = time.perf_counter()
        await _orphans(store, count)
        written = time.perf_counter() - started
        log(f"  durable: {count:,} orphaned diamonds written to {store_kind} in {written:.1f} s")
        engine = await setup.engine(store_kind, "recover")
        try:
            engine.register(DiamondSaga)
            cpu = cpu_seconds()
            started = time.perf_counter()
            results = await engine.recover()
            seconds = time.perf_counter() - started
            cpu = cpu_seconds() - cpu
        finally:
            await engine.shutdown()
        failed = [r for r in results if not r.is_success]
        if len(results) != count or failed:
            raise AssertionError(
                f"recover() resumed {len(results):,} of {count:,} orphans, {len(failed):,} did not succeed"
                + (f"; first: {failed[0]!r}" if failed else "")
            )
        left = await store.find(status=RUNNING, limit=10)
        succeeded = len(await store.find(status="SUCCEEDED", limit=count + 1))
        if left or succeeded != count:
            raise AssertionError(
                f"after recover(): {succeeded:,} of {count:,} SUCCEEDED, still running: {left}"
            )
    finally:
        await store.close()
    return [
        {
            "name": f"recover-{store_kind}",
            "store": store_kind,
            "orphans": count,
            "seconds": seconds,
            "sagas_per_s": count / seconds,
            "cpu_us_per_saga": cpu * 1e6 / count,
            "setup_seconds": written,
            "store_settings": "synchronous=FULL" if store_kind == "sqlite" else "appendfsync always",
        }
    ]


async def _part(
    names: tuple[str, ...], body: Callable[[], Awaitable[list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """One measurement; a failure becomes an ``error`` row for each of its names, not the end of the case."""
    try:
        return await body()
    except Exception as exc:
        traceback.print_exc()
        return [{"name": name, "error": f"{type(exc).__name__}: {exc}"[:300]} for name in names]


async def measure(
    memory: Runner,
    make_on: Callable[[Any], Runner],
    total: int,
    rounds: int,
    warmup: int,
    orphans: int,
) -> list[dict[str, Any]]:
    """The alternating rate rounds, then recovery of ``orphans`` on each store; one row per measurement."""
    setup = DurableSetup()
    try:
        try:
            await setup.start()
        except Exception as exc:
            traceback.print_exc()
            error = f"the stores did not start: {type(exc).__name__}: {exc}"[:300]
            return [{"name": name, "error": error} for name in (*RATE_NAMES, *RECOVERY_NAMES)]
        rows = await _part(RATE_NAMES, lambda: _rates(setup, memory, make_on, total, rounds, warmup))
        for store in STORES:
            rows += await _part((f"recover-{store}",), functools.partial(_recovery, setup, store, orphans))
        return rows
    finally:
        await setup.stop()
