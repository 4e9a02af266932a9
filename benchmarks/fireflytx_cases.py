"""fireflytx on the real engine: per-step overhead and diamond throughput."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fireflytx import SagaEngine

from ._shapes import DiamondSaga, chain_saga
from ._stats import summary


async def per_step_overhead(engine: SagaEngine, length: int, use_async: bool, runs: int) -> dict[str, Any]:
    """Median and p99 µs per step of a chain of no-op steps, one saga at a time."""
    cls = chain_saga(length, use_async)
    for _ in range(max(50, runs // 5)):
        await engine.execute(cls)
    per_step = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await engine.execute(cls)
        per_step.append((time.perf_counter() - start) * 1e6 / length)
        assert result.is_success
    return {"case": f"chain-{length}-{'async' if use_async else 'sync'}", "us_per_step": summary(per_step)}


async def diamond_throughput(engine: SagaEngine, concurrency: int, total: int, fail: bool) -> dict[str, Any]:
    """Sagas per second and latency with ``concurrency`` diamonds in flight."""
    latencies: list[float] = []
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            start = time.perf_counter()
            result = await engine.execute(DiamondSaga, fail)
            latencies.append((time.perf_counter() - start) * 1e3)
            assert result.is_success != fail

    for _ in range(min(total, 200)):
        await engine.execute(DiamondSaga, fail)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {
        "case": f"diamond{'-failing' if fail else ''}-c{concurrency}",
        "sagas_per_s": total / elapsed,
        "latency_ms": summary(latencies),
    }
