"""DBOS Transact on SQLite: the durable peer, running the same shapes as workflows of steps.

Every step result and workflow status is checkpointed to a SQLite file in a temporary directory,
which is what makes DBOS durable and what dominates its cost. Async workflows and steps are used
(natural next to asyncio, and they let B and C of the diamond run concurrently with
``asyncio.gather``); the ``sync`` chains are plain ``def`` workflows and steps, called through
``asyncio.to_thread`` so the same async driver times them. Compensation of the failing diamond and
the TCC's cancels are written in the workflow, as DBOS has no saga primitive.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ._drivers import Gate, Runner

try:
    from dbos import DBOS
except ImportError as exc:  # pragma: no cover - depends on the environment
    UNAVAILABLE: str | None = f"not available: dbos is not installed ({exc}); pip install 'dbos>=3.4'"
else:
    UNAVAILABLE = None


class Dbos:
    """DBOS with a SQLite system database; workflows are registered before launch."""

    name = "dbos"

    def __init__(self) -> None:
        if UNAVAILABLE is not None:
            raise RuntimeError(UNAVAILABLE)
        self.tmp = Path(tempfile.mkdtemp(prefix="fireflytx-bench-dbos-"))
        self.gate = Gate()
        DBOS(
            config={
                "name": "fireflytx-bench",
                "system_database_url": f"sqlite:///{self.tmp / 'dbos.sqlite'}",
                "log_level": "WARNING",
                "application_version": "bench",
            }
        )
        self.fn = _define(self.gate)

    async def start(self) -> None:
        DBOS.launch()

    async def stop(self) -> None:
        DBOS.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def chain(self, length: int, use_async: bool) -> Runner:
        if use_async:
            workflow = self.fn["chain_async"]

            async def run() -> None:
                if await workflow(length) != length:
                    raise AssertionError("chain failed")

        else:
            workflow = self.fn["chain_sync"]

            async def run() -> None:
                if await asyncio.to_thread(workflow, length) != length:
                    raise AssertionError("chain failed")

        return run

    def diamond(self, fail: bool) -> Runner:
        workflow = self.fn["diamond"]

        async def run() -> None:
            outcome = await workflow(fail)
            if (outcome == "ok") == fail:
                raise AssertionError(f"diamond (fail={fail}) ended {outcome!r}")

        return run

    async def check_failing_diamond(self) -> None:
        outcome = await self.fn["diamond"](True)
        if sorted(outcome.removeprefix("compensated ").split(",")) != ["a", "b", "c"]:
            raise AssertionError(f"the failing diamond did not compensate a, b and c: {outcome!r}")

    def tcc(self, cancel: bool) -> Runner | str:
        workflow = self.fn["tcc"]

        async def run() -> None:
            if await workflow(cancel) != ("canceled" if cancel else "confirmed"):
                raise AssertionError(f"TCC (cancel={cancel}) ended wrong")

        return run

    def held_diamond(self) -> tuple[Runner, Gate]:
        workflow = self.fn["held_diamond"]

        async def run() -> None:
            if await workflow() != 4:
                raise AssertionError("held diamond failed")

        return run, self.gate


def _define(gate: Gate) -> dict[str, Any]:
    """Register the steps and workflows (DBOS wants them all before ``launch``)."""

    @DBOS.step()
    async def noop(value: int) -> int:
        return value

    @DBOS.step()
    def noop_sync(value: int) -> int:
        return value

    @DBOS.step()
    async def undo(name: str) -> str:
        return name

    @DBOS.step()
    async def d(fail: bool) -> int:
        if fail:
            raise RuntimeError("d fails")
        return 4

    @DBOS.step()
    async def p3_try(fail: bool) -> int:
        if fail:
            raise RuntimeError("p3 refuses")
        return 3

    @DBOS.step()
    async def held(value: int) -> int:
        await gate.hold()
        return value

    @DBOS.workflow()
    async def chain_async(length: int) -> int:
        for index in range(length):
            await noop(index)
        return length

    @DBOS.workflow()
    def chain_sync(length: int) -> int:
        for index in range(length):
            noop_sync(index)
        return length

    @DBOS.workflow()
    async def diamond(fail: bool) -> str:
        done: list[str] = []

        async def step(name: str, value: int) -> None:
            await noop(value)
            done.append(name)

        try:
            await step("a", 1)
            await asyncio.gather(step("b", 2), step("c", 3))
            await d(fail)
        except Exception:
            for name in reversed(done):  # reverse completion order
                await undo(name)
            return "compensated " + ",".join(done)
        return "ok"

    @DBOS.workflow()
    async def tcc(cancel: bool) -> str:
        tried: list[str] = []
        try:  # the tries, in order; a failed try is canceled too
            tried.append("p1")
            await noop(1)
            tried.append("p2")
            await noop(2)
            tried.append("p3")
            await p3_try(cancel)
        except Exception:
            for name in reversed(tried):
                await undo(name)
            return "canceled"
        for name in tried:
            await undo(name)  # the confirms: a no-op step each, like the cancels
        return "confirmed"

    @DBOS.workflow()
    async def held_diamond() -> int:
        await noop(1)
        await asyncio.gather(held(2), held(3))
        return await noop(4)

    return {
        "chain_async": chain_async,
        "chain_sync": chain_sync,
        "diamond": diamond,
        "tcc": tcc,
        "held_diamond": held_diamond,
    }


def create() -> Dbos:
    return Dbos()
