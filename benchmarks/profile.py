"""The diamond workload for a profiler: ``nox -s profile`` records it with py-spy as a flame graph.

``python -m benchmarks.profile [--seconds S] [--concurrency C] [--fail]``: one ``SagaEngine``, the
benchmark's diamond saga (``async def`` steps) at concurrency C, for S seconds after a warm-up, so
the profile shows the steady state and not the JVM's start. Prints the sagas per second it ran.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from fireflytx import SagaEngine

from . import _shapes


async def _run(seconds: float, concurrency: int, fail: bool) -> None:
    engine = await SagaEngine().initialize()
    try:
        done = 0
        deadline = 0.0

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                result = await engine.execute(_shapes.DiamondSaga, fail)
                if result.is_success == fail:
                    raise AssertionError(f"the diamond (fail={fail}) ended wrong: {result!r}")
                done += 1

        deadline = time.perf_counter() + 2.0  # warm-up: JIT, caches, first-run registration
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        done = 0
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        print(f"{done:,} diamonds (fail={fail}) at concurrency {concurrency}: {done / elapsed:,.0f}/s")
    finally:
        await engine.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to run after the warm-up")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--fail", action="store_true", help="the failure path: D fails, A, B, C compensate")
    args = parser.parse_args()
    asyncio.run(_run(args.seconds, args.concurrency, args.fail))


if __name__ == "__main__":
    main()
