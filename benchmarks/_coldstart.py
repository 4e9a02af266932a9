"""Cold start: a fresh interpreter (jars already cached) until the first saga result, per system.

The parent times from just before spawning the process until the child prints its result line
(the interpreter's exit is not counted); the child times its own phases with ``perf_counter``.
``python -c pass`` is measured the same way as the interpreter's own share.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ._drivers import log

ROOT = Path(__file__).resolve().parent.parent

_FIREFLYTX = """
import time
t0 = time.perf_counter()
import asyncio, json
from fireflytx import SagaEngine, compensation_step, saga, saga_step
t1 = time.perf_counter()

@saga("cold-diamond")
class Diamond:
    @saga_step("a")
    async def a(self) -> int:
        return 1

    @compensation_step("a")
    async def undo_a(self, _: int) -> None:
        return None

    @saga_step("b", depends_on=["a"])
    async def b(self) -> int:
        return 2

    @saga_step("c", depends_on=["a"])
    async def c(self) -> int:
        return 3

    @saga_step("d", depends_on=["b", "c"])
    async def d(self) -> int:
        return 4

async def main():
    t2 = time.perf_counter()
    try:  # the JVM alone, when the private helper is there; else it is part of the engine start
        from fireflytx._bridge import _jvm
        from fireflytx.config import FireflyTxSettings
        _jvm.ensure_started(FireflyTxSettings())
    except ImportError:
        pass
    t3 = time.perf_counter()
    engine = await SagaEngine().initialize()
    t4 = time.perf_counter()
    result = await engine.execute(Diamond)
    t5 = time.perf_counter()
    assert result.is_success, result
    ms = lambda a, b: round((b - a) * 1e3, 2)
    print("RESULT " + json.dumps({"import": ms(t0, t1), "jvm": ms(t2, t3), "engine": ms(t3, t4),
                                   "first_saga": ms(t4, t5), "in_process": ms(t0, t5)}), flush=True)
    await engine.shutdown()

asyncio.run(main())
"""

_FLOOR = """
import time
t0 = time.perf_counter()
import asyncio, json
from benchmarks.asyncio_floor import DIAMOND, Orchestrator
t1 = time.perf_counter()

async def main():
    t2 = time.perf_counter()
    outcome = await Orchestrator().run(DIAMOND, False)
    t3 = time.perf_counter()
    assert outcome.ok
    ms = lambda a, b: round((b - a) * 1e3, 2)
    print("RESULT " + json.dumps({"import": ms(t0, t1), "first_saga": ms(t2, t3), "in_process": ms(t0, t3)}),
          flush=True)

asyncio.run(main())
"""

_DBOS = """
import time
t0 = time.perf_counter()
import asyncio, json, tempfile, os
from dbos import DBOS
t1 = time.perf_counter()
tmp = tempfile.mkdtemp(prefix="fireflytx-bench-dbos-cold-")

async def main():
    t2 = time.perf_counter()
    url = f"sqlite:///{tmp}/dbos.sqlite"
    DBOS(config={"name": "cold", "system_database_url": url, "log_level": "WARNING",
                 "application_version": "1"})

    @DBOS.step()
    async def noop(value: int) -> int:
        return value

    @DBOS.workflow()
    async def diamond() -> int:
        await noop(1)
        await asyncio.gather(noop(2), noop(3))
        return await noop(4)

    DBOS.launch()
    t3 = time.perf_counter()
    assert await diamond() == 4
    t4 = time.perf_counter()
    ms = lambda a, b: round((b - a) * 1e3, 2)
    print("RESULT " + json.dumps({"import": ms(t0, t1), "engine": ms(t2, t3), "first_saga": ms(t3, t4),
                                   "in_process": ms(t0, t4)}), flush=True)
    DBOS.destroy()

asyncio.run(main())
import shutil
shutil.rmtree(tmp, ignore_errors=True)
"""

SCRIPTS = {"fireflytx": _FIREFLYTX, "asyncio-floor": _FLOOR, "dbos": _DBOS}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _once(code: str) -> tuple[float, dict[str, float]]:
    """Wall ms from spawn to the RESULT line, and the child's own phases."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(), stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    phases: dict[str, float] = {}
    wall = float("nan")
    for line in child.stdout:
        if line.startswith("RESULT "):
            wall = (time.perf_counter() - start) * 1e3
            phases = json.loads(line[len("RESULT ") :])
    if child.wait(timeout=120) != 0 or not phases:
        raise RuntimeError(f"the cold-start child exited with {child.returncode} and no result")
    return wall, phases


def interpreter_ms(runs: int) -> float:
    """Median wall time of ``python -c pass`` (spawn to exit)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=_env())
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure(system: str, runs: int) -> dict[str, Any]:
    """Median wall and phase times of ``runs`` fresh processes (one untimed run first, for the OS caches)."""
    code = SCRIPTS[system]
    try:
        _once(code)
        samples = [_once(code) for _ in range(runs)]
    except Exception as exc:
        return {"case": "coldstart", "name": "cold-start", "system": system, "error": f"{exc}"[:300]}
    walls = sorted(w for w, _ in samples)
    keys = samples[0][1].keys()
    row = {
        "case": "coldstart",
        "name": "cold-start",
        "system": system,
        "runs": runs,
        "wall_ms": {"median": statistics.median(walls), "min": walls[0], "max": walls[-1]},
        "phases_ms": {k: statistics.median(p[k] for _, p in samples) for k in keys},
    }
    log(f"  [{system}] cold start: {row['wall_ms']['median']:.0f} ms ({row['phases_ms']})")
    return row
