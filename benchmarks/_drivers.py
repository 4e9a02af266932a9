"""Measurement drivers shared by every system, so all of them are timed the same way.

A system (``fireflytx_cases.FireflyTx``, ``asyncio_floor.Floor``, ``dbos_peer.Dbos``) hands out
``Runner``s: zero-argument coroutine functions that run one saga of a shape and check its outcome.
The drivers here time them: one at a time for the per-step cost, with N workers pulling from a
shared budget for throughput, and with RSS snapshots for memory and leaks.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ._stats import slope, summary

Runner = Callable[[], Awaitable[None]]
MB = 1024 * 1024


class Gate:
    """Holds steps in flight: each arrival counts, then waits for the event."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.arrived = 0

    async def hold(self) -> None:
        self.arrived += 1
        await self.event.wait()


class System(Protocol):
    """What a system under test provides to the drivers."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def chain(self, length: int, use_async: bool) -> Runner: ...

    def diamond(self, fail: bool) -> Runner: ...

    def tcc(self, cancel: bool) -> Runner | str: ...

    def held_diamond(self) -> tuple[Runner, Gate]: ...


def rss_mb() -> float:
    """Resident set size of this process in MiB."""
    import psutil

    return float(psutil.Process(os.getpid()).memory_info().rss) / MB


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (the JVM's included)."""
    times = os.times()
    return times.user + times.system


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


SETTLED_SHARE = 0.02
"""Warming goes on while the JVM's JIT compilers took more than this share of a window's wall time."""
SETTLE_BATCH = 500
SETTLE_WINDOW_S = 0.5
"""A window runs batches of ``SETTLE_BATCH`` sagas for this long (thread CPU is counted in 10 ms ticks)."""
SETTLE_LIMIT_S = 30.0


def compiler_seconds() -> float | None:
    """CPU seconds the JVM's JIT compiler threads have used so far; None without a JVM (or off Linux).

    HotSpot compiles hot code on threads of its own for the first tens of thousands of sagas of a
    process; on two cores they take CPU from the runs being timed, and a case timed while they
    still work measures the compiler more than the code.
    """
    tasks = "/proc/self/task"
    if not os.path.isdir(tasks):
        return None
    ticks, found = 0, False
    for tid in os.listdir(tasks):
        try:
            with open(f"{tasks}/{tid}/comm") as comm:
                if "CompilerThre" not in comm.read():  # "C2 CompilerThread0", truncated by the kernel
                    continue
            with open(f"{tasks}/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        found = True
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


async def run_many(run: Runner, count: int, concurrency: int) -> None:
    """Run ``count`` sagas, ``concurrency`` at a time."""
    budget = iter(range(count))

    async def worker() -> None:
        for _ in budget:
            await run()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))


async def warm(run: Runner, count: int, concurrency: int = 1) -> None:
    """Run ``count`` sagas untimed (JIT, caches, pools), then more until the JIT has settled.

    More means windows of ``SETTLE_WINDOW_S`` until one in which the compiler threads took at most
    ``SETTLED_SHARE`` of its wall time (at most ``SETTLE_LIMIT_S`` seconds); the log says how many.
    """
    await run_many(run, count, concurrency)
    before = compiler_seconds()
    extra = 0
    start = time.perf_counter()
    while before is not None and time.perf_counter() - start < SETTLE_LIMIT_S:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < SETTLE_WINDOW_S:
            await run_many(run, SETTLE_BATCH, concurrency)
            extra += SETTLE_BATCH
        after = compiler_seconds()
        if after is None or after - before <= SETTLED_SHARE * (time.perf_counter() - t0):
            break
        before = after
    if extra:
        log(f"  warm-up: {count:,} sagas, then {extra:,} more until the JIT compilers settled")


async def sequential(name: str, run: Runner, steps: int, runs: int, warmup: int) -> dict[str, Any]:
    """One saga at a time: µs per step (latency ÷ steps) and sagas/s."""
    await warm(run, warmup)
    latencies: list[float] = []
    perf = time.perf_counter
    cpu_start = cpu_seconds()
    start = perf()
    for _ in range(runs):
        t0 = perf()
        await run()
        latencies.append(perf() - t0)
    elapsed = perf() - start
    cpu = cpu_seconds() - cpu_start
    return {
        "name": name,
        "steps": steps,
        "concurrency": 1,
        "us_per_step": summary([v * 1e6 / steps for v in latencies]),
        "latency_ms": summary([v * 1e3 for v in latencies]),
        "sagas_per_s": runs / elapsed,
        "cpu_us_per_saga": cpu * 1e6 / runs,
    }


async def throughput(
    name: str, run: Runner, concurrency: int, total: int, rounds: int, warmup: int
) -> dict[str, Any]:
    """``concurrency`` workers share ``total`` sagas per round; the median round's rate is reported."""
    await warm(run, warmup, concurrency)
    latencies: list[float] = []
    rates: list[float] = []
    perf = time.perf_counter
    cpu_start = cpu_seconds()
    for _ in range(rounds):
        budget = iter(range(total))

        async def worker(budget: Any = budget) -> None:
            for _ in budget:
                t0 = perf()
                await run()
                latencies.append(perf() - t0)

        start = perf()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        rates.append(total / (perf() - start))
    cpu = cpu_seconds() - cpu_start
    rates.sort()
    return {
        "name": name,
        "concurrency": concurrency,
        "sagas_per_s": rates[len(rates) // 2],
        "rounds_sagas_per_s": rates,
        "cpu_us_per_saga": cpu * 1e6 / (total * rounds),
        "latency_ms": summary([v * 1e3 for v in latencies]),
    }


async def in_flight_memory(system: System, count: int, warmup: int) -> dict[str, float]:
    """RSS after warm-up (idle) and with ``count`` held diamonds in flight, then after their release."""
    diamond = system.diamond(False)
    await warm(diamond, warmup, 10)
    gc.collect()
    await asyncio.sleep(0.2)
    idle_warm = rss_mb()
    run, gate = system.held_diamond()
    tasks = [asyncio.ensure_future(run()) for _ in range(count)]
    deadline = time.monotonic() + 120
    while gate.arrived < 2 * count:  # B and C of every saga are waiting
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {gate.arrived} of {2 * count} held steps arrived")
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    held = rss_mb()
    gate.event.set()
    await asyncio.gather(*tasks)
    gc.collect()
    await asyncio.sleep(0.2)
    return {"idle_warm": idle_warm, "in_flight": held, "after_release": rss_mb()}


async def settle(system: System) -> None:
    """Collect garbage everywhere the system keeps it (Python, and the JVM for fireflytx)."""
    collect = getattr(system, "collect", None)
    if collect is not None:
        collect()
    gc.collect()
    await asyncio.sleep(0.2)


async def leak(
    system: System, sagas: int, warmup: int, concurrency: int, checkpoints: int, extra: Callable[[], Any]
) -> dict[str, Any]:
    """RSS after ``warmup`` diamonds versus after ``sagas`` more, with checkpoints on the way.

    Both ends are measured after a full collection (Python's, and a Java GC for fireflytx, whose
    proxies keep Python objects until the JVM collects); the checkpoints on the way are not.
    """
    run = system.diamond(False)
    await warm(run, warmup, concurrency)
    await settle(system)
    before = rss_mb()
    blocks_before = sys.getallocatedblocks()
    extra_before = extra()
    chunk = sagas // checkpoints
    series: list[tuple[int, float]] = []
    start = time.perf_counter()
    done = 0
    for index in range(checkpoints):
        size = chunk if index < checkpoints - 1 else sagas - done
        await run_many(run, size, concurrency)
        done += size
        series.append((done, rss_mb()))
    elapsed = time.perf_counter() - start
    await settle(system)
    after = rss_mb()
    blocks_after = sys.getallocatedblocks()
    half = series[len(series) // 2 :]
    return {
        "name": "leak",
        "sagas": sagas,
        "warmup": warmup,
        "concurrency": concurrency,
        "sagas_per_s": sagas / elapsed,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "growth_mb": after - before,
        "bytes_per_saga": (after - before) * MB / sagas,
        "late_bytes_per_saga": slope([x for x, _ in half], [y * MB for _, y in half]),
        "checkpoints_mb": [[x, round(y, 2)] for x, y in series],
        "python_blocks_delta": blocks_after - blocks_before,
        "extra_before": extra_before,
        "extra_after": extra(),
    }
