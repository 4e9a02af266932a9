"""What watching runs costs: diamond sagas per second with no observer, a no-op one, metrics, tracing.

    PYTHONPATH=src python -m benchmarks.observers [--sagas 6000] [--concurrency 100] [--rounds 3]

Each round measures every variant once, on a fresh engine, after a warm-up of 500 sagas; the
median of the rounds is printed with each round's rate. ``no-op`` is an observer that does
nothing: the difference to ``none`` is the cost of handing events to the observer thread, the
difference from ``no-op`` to the others is the observer's own work. Tracing uses the
OpenTelemetry SDK with no exporter. Needs the ``metrics`` and ``otel`` extras and the SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from fireflytx import SagaEngine, compensation_step, saga, saga_step


@saga("observed-diamond")
class Diamond:
    @saga_step("a")
    async def a(self) -> int:
        return 1

    @compensation_step("a")
    async def undo_a(self, _: int) -> None: ...

    @saga_step("b", depends_on=["a"])
    async def b(self) -> int:
        return 2

    @saga_step("c", depends_on=["a"])
    async def c(self) -> int:
        return 3

    @saga_step("d", depends_on=["b", "c"])
    async def d(self) -> int:
        return 4


class NoOp:
    def on_event(self, event: object) -> None:
        pass


def listeners(variant: str) -> list[Any]:
    if variant == "none":
        return []
    if variant == "no-op":
        return [NoOp()]
    from fireflytx.metrics import MetricsObserver

    if variant == "metrics":
        return [MetricsObserver()]
    from opentelemetry.sdk.trace import TracerProvider

    from fireflytx.tracing import TracingObserver

    return [MetricsObserver(), TracingObserver(TracerProvider())]


async def rate(engine: SagaEngine, sagas: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await engine.execute(Diamond, None)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(sagas)))
    return sagas / (time.perf_counter() - started)


async def main(sagas: int, concurrency: int, rounds: int) -> None:
    variants = ["none", "no-op", "metrics", "metrics+tracing"]
    rates: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(rounds):
        for variant in variants:
            async with SagaEngine(listeners=listeners(variant)) as engine:
                await rate(engine, 500, concurrency)
                rates[variant].append(await rate(engine, sagas, concurrency))
                engine.flush_listeners(60)
    base = statistics.median(rates["none"])
    for variant in variants:
        median = statistics.median(rates[variant])
        rounds_text = ", ".join(f"{r:,.0f}" for r in rates[variant])
        print(f"{variant:16s} {median:8,.0f} sagas/s  {median / base:4.0%} of none  (rounds: {rounds_text})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.sagas, args.concurrency, args.rounds))
