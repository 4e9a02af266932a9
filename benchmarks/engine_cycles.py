"""RSS over many engine start/run/stop cycles, as code that creates an engine per request or per test does.

    PYTHONPATH=src python -m benchmarks.engine_cycles saga 10000
    PYTHONPATH=src python -m benchmarks.engine_cycles tcc 10000

Prints the process's RSS every 1,000 cycles. Each cycle starts an engine, runs one saga (a plain
step with a compensation, then an async step) or one TCC (one participant, plain phases) with
``execute_sync``, and stops the engine. Memory should level off once the JVM's heap is in use.
"""

from __future__ import annotations

import argparse
import time

import psutil

from fireflytx import (
    SagaEngine,
    TccEngine,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)


@saga("engine-cycle")
class CycleSaga:
    @saga_step("a")
    def a(self) -> int:
        return 1

    @compensation_step("a")
    def undo(self, _: int) -> None: ...

    @saga_step("b", depends_on=["a"])
    async def b(self) -> int:
        return 2


@tcc("engine-cycle")
class CycleTcc:
    @tcc_participant("p", order=1)
    class P:
        @try_method
        def t(self) -> int:
            return 1

        @confirm_method
        def c(self, _: int) -> None: ...

        @cancel_method
        def x(self, _: int) -> None: ...


def cycle(kind: str) -> None:
    if kind == "saga":
        with SagaEngine() as saga_engine:
            assert saga_engine.execute_sync(CycleSaga).is_success
    else:
        with TccEngine() as tcc_engine:
            assert tcc_engine.execute_sync(CycleTcc).is_confirmed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["saga", "tcc"])
    parser.add_argument("cycles", type=int)
    args = parser.parse_args()
    process = psutil.Process()
    started = time.monotonic()
    for done in range(1, args.cycles + 1):
        cycle(args.kind)
        if done % 1000 == 0:
            rss = process.memory_info().rss / 2**20
            elapsed = time.monotonic() - started
            print(f"{args.kind} {done:>6} cycles  RSS {rss:6.1f} MiB  {elapsed:5.0f} s", flush=True)


if __name__ == "__main__":
    main()
