"""The diamond workload for a profiler: ``nox -s profile`` records it with py-spy as a flame graph.

``python -m benchmarks.profile [--seconds S] [--concurrency C] [--fail] [--java PATH]``: one
``SagaEngine``, the benchmark's diamond saga (``async def`` steps) at concurrency C, for S seconds
after a warm-up, so the profile shows the steady state and not the JVM's start. Prints the sagas
per second it ran. ``--java PATH`` also records the JVM with Java Flight Recorder over those
seconds, writes the recording to PATH and prints where the loop thread's Java time went
(``_java_profile.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from fireflytx import SagaEngine
from fireflytx.config import FireflyTxSettings

from . import _java_profile, _shapes


async def _run(seconds: float, concurrency: int, fail: bool, java: Path | None) -> None:
    settings = FireflyTxSettings()
    if java is not None:
        jvm = settings.jvm.model_copy(update={"options": (*settings.jvm.options, _java_profile.OPTION)})
        settings = settings.model_copy(update={"jvm": jvm})
    engine = await SagaEngine(settings).initialize()
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
        begin = _java_profile.now()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        print(f"{done:,} diamonds (fail={fail}) at concurrency {concurrency}: {done / elapsed:,.0f}/s")
        if java is not None:
            _java_profile.dump(java, begin)
            print(f"Java Flight Recorder: {java}\n{_java_profile.summary(java)}")
    finally:
        await engine.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to run after the warm-up")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--fail", action="store_true", help="the failure path: D fails, A, B, C compensate")
    parser.add_argument("--java", type=Path, metavar="PATH", help="also record the JVM with JFR into PATH")
    args = parser.parse_args()
    asyncio.run(_run(args.seconds, args.concurrency, args.fail, args.java))


if __name__ == "__main__":
    main()
