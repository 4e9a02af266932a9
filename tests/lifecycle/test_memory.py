"""Engines created and stopped over and over (one per request, one per test) keep memory flat.

Each test runs in a fresh interpreter with a small young generation, so the JVM's heap is fully
in use after a short warm-up and what grows after it is what the cycles leave behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

WARM_UP = 1_000
CYCLES = 2_000
BOUND_MIB = 32
"""Allowed growth over ``CYCLES`` cycles (a saga engine and a TCC engine started, run once, stopped).

Growth after warm-up measured 5-15 MiB; engines that leaked about 40 KiB a cycle grew 75-80 MiB.
"""

CHILD = """
import sys
import psutil
from fireflytx import (
    SagaEngine, TccEngine, cancel_method, compensation_step, confirm_method, saga, saga_step,
    tcc, tcc_participant, try_method,
)

@saga("memory-cycle")
class Cycle:
    @saga_step("a")
    def a(self) -> int:
        return 1

    @compensation_step("a")
    def undo(self, _: int) -> None: ...

    @saga_step("b", depends_on=["a"])
    async def b(self) -> int:
        return 2

@tcc("memory-cycle")
class Order:
    @tcc_participant("p", order=1)
    class P:
        @try_method
        def t(self) -> int:
            return 1

        @confirm_method
        async def c(self, _: int) -> None: ...

        @cancel_method
        def x(self, _: int) -> None: ...

def cycle() -> None:
    with SagaEngine() as engine:
        assert engine.execute_sync(Cycle).is_success
    with TccEngine() as engine:
        assert engine.execute_sync(Order).is_confirmed

warm_up, cycles = int(sys.argv[1]), int(sys.argv[2])
for _ in range(warm_up):
    cycle()
before = psutil.Process().memory_info().rss
for _ in range(cycles):
    cycle()
print((psutil.Process().memory_info().rss - before) / 2**20)
"""


@pytest.mark.timeout(600)
def test_rss_stays_flat_over_thousands_of_engine_start_stop_cycles() -> None:
    env = {
        **os.environ,
        "FIREFLYTX_JVM__INITIAL_HEAP": "24m",
        "FIREFLYTX_JVM__YOUNG_HEAP": "8m",
    }
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(WARM_UP), str(CYCLES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=580,
    )
    assert proc.returncode == 0, proc.stderr
    growth = float(proc.stdout.strip().splitlines()[-1])
    assert growth < BOUND_MIB, f"RSS grew {growth:.1f} MiB over {CYCLES} engine cycles after warm-up"
