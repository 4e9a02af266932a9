"""The sagas and the TCC of the crash matrix, and the effects ledger their steps write.

Every step, compensation and TCC phase appends one JSON line to the ledger when its work is done
(``O_APPEND``, one ``write`` per line, so lines of concurrent writers never mix and a SIGKILL right
after the call cannot lose it): what ran, in which phase, the how-manyth time, under which
idempotency key and in which process. The ledger is the external system the tests ask "what
happened, how often"; the store is asked only what fireflytx recorded.

A unit's behaviour comes from its *plan*, a JSON dict that travels as the transaction input (and
as each step's result, so compensations and TCC confirms and cancels see it too):

- ``fail``: the id of the step or TCC participant whose try fails for good (after its line);
- ``delay``: ``{unit: seconds}`` of work before the line is written (a slow step);
- ``linger``: ``{unit: seconds}`` of work after it (a kill then falls between effect and return);
- ``hang``: ``[phase, unit]`` where the first process blocks after the line, until it is killed.

Hanging is on only in processes that call ``configure(hang=True)``, so a recovery process that
re-runs the same plan goes through.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Annotated, Any

from fireflytx import (
    FanOutItem,
    SagaContext,
    TccContext,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    sub_saga,
    tcc,
    tcc_participant,
    try_method,
)

__all__ = ["Chain", "AsyncChain", "FanOut", "Nested", "ThreeParty", "Ten", "configure", "read_ledger"]

CHAIN = ("a", "b", "c", "d", "e")
TEN = tuple(f"s{i:02d}" for i in range(1, 11))
PARTICIPANTS = ("p1", "p2", "p3")


class StepFailure(RuntimeError):
    """The failure a plan's ``fail`` unit raises every time."""


class _Effects:
    ledger: Path | None = None
    hang = False


def configure(ledger: Path, *, hang: bool) -> None:
    """Point the units at a ledger; ``hang`` makes this process block at each plan's hang point."""
    _Effects.ledger = ledger
    _Effects.hang = hang


def read_ledger(ledger: Path) -> list[dict[str, Any]]:
    """Every line of a ledger, in the order written.

    Text after the last newline is a line another process is appending right now, seen in part (a
    write that crosses a page boundary is copied one page at a time, and a read in between gets the
    first part): it is left for the next read.
    """
    if not ledger.exists():
        return []
    text = ledger.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


_write_lock = threading.Lock()


def _record(ctx: SagaContext | TccContext, phase: str, unit: str) -> None:
    ledger = _Effects.ledger
    assert ledger is not None, "configure() the ledger before running anything"
    with _write_lock:
        earlier = sum(
            1
            for line in read_ledger(ledger)
            if (line["cid"], line["phase"], line["unit"]) == (ctx.correlation_id, phase, unit)
        )
        line = {
            "cid": ctx.correlation_id,
            "unit": unit,
            "phase": phase,
            "attempt": earlier + 1,
            "key": ctx.idempotency_key,
            "pid": os.getpid(),
        }
        fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode())
        finally:
            os.close(fd)


def _hangs_here(plan: Any, phase: str, unit: str) -> bool:
    return _Effects.hang and isinstance(plan, dict) and plan.get("hang") == [phase, unit]


def _seconds(plan: Any, what: str, unit: str) -> float:
    return float(plan.get(what, {}).get(unit, 0.0)) if isinstance(plan, dict) else 0.0


def _fails(plan: Any, phase: str, unit: str) -> bool:
    return phase in ("step", "try") and isinstance(plan, dict) and plan.get("fail") == unit


def work(plan: Any, ctx: SagaContext | TccContext, phase: str, unit: str) -> Any:
    """A ``def`` unit: work, write the ledger line, then hang or fail as the plan says."""
    time.sleep(_seconds(plan, "delay", unit))
    _record(ctx, phase, unit)
    if _hangs_here(plan, phase, unit):
        threading.Event().wait()
    time.sleep(_seconds(plan, "linger", unit))
    if _fails(plan, phase, unit):
        raise StepFailure(f"{phase} {unit} fails for good")
    return plan


async def awork(plan: Any, ctx: SagaContext | TccContext, phase: str, unit: str) -> Any:
    """An ``async def`` unit: the same as ``work`` without blocking the event loop."""
    await asyncio.sleep(_seconds(plan, "delay", unit))
    _record(ctx, phase, unit)
    if _hangs_here(plan, phase, unit):
        await asyncio.Event().wait()
    await asyncio.sleep(_seconds(plan, "linger", unit))
    if _fails(plan, phase, unit):
        raise StepFailure(f"{phase} {unit} fails for good")
    return plan


@saga("chain")
class Chain:
    """a -> b -> c -> d -> e with plain ``def`` steps, each with a compensation."""

    @saga_step("a")
    def a(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "a")

    @compensation_step("a")
    def undo_a(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        work(plan, ctx, "compensation", "a")

    @saga_step("b", depends_on=["a"])
    def b(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "b")

    @compensation_step("b")
    def undo_b(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        work(plan, ctx, "compensation", "b")

    @saga_step("c", depends_on=["b"])
    def c(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "c")

    @compensation_step("c")
    def undo_c(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        work(plan, ctx, "compensation", "c")

    @saga_step("d", depends_on=["c"])
    def d(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "d")

    @compensation_step("d")
    def undo_d(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        work(plan, ctx, "compensation", "d")

    @saga_step("e", depends_on=["d"])
    def e(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "e")

    @compensation_step("e")
    def undo_e(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        work(plan, ctx, "compensation", "e")


@saga("async-chain")
class AsyncChain:
    """The same chain with ``async def`` steps and compensations."""

    @saga_step("a")
    async def a(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "a")

    @compensation_step("a")
    async def undo_a(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        await awork(plan, ctx, "compensation", "a")

    @saga_step("b", depends_on=["a"])
    async def b(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "b")

    @compensation_step("b")
    async def undo_b(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        await awork(plan, ctx, "compensation", "b")

    @saga_step("c", depends_on=["b"])
    async def c(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "c")

    @compensation_step("c")
    async def undo_c(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        await awork(plan, ctx, "compensation", "c")

    @saga_step("d", depends_on=["c"])
    async def d(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "d")

    @compensation_step("d")
    async def undo_d(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        await awork(plan, ctx, "compensation", "d")

    @saga_step("e", depends_on=["d"])
    async def e(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "e")

    @compensation_step("e")
    async def undo_e(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        await awork(plan, ctx, "compensation", "e")


@saga("ten")
class Ten:
    """s01 -> ... -> s10, odd steps ``def``, even steps ``async def`` (the crash loop's saga)."""

    @saga_step("s01")
    def s01(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "s01")

    @saga_step("s02", depends_on=["s01"])
    async def s02(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "s02")

    @saga_step("s03", depends_on=["s02"])
    def s03(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "s03")

    @saga_step("s04", depends_on=["s03"])
    async def s04(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "s04")

    @saga_step("s05", depends_on=["s04"])
    def s05(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "s05")

    @saga_step("s06", depends_on=["s05"])
    async def s06(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "s06")

    @saga_step("s07", depends_on=["s06"])
    def s07(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "s07")

    @saga_step("s08", depends_on=["s07"])
    async def s08(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "s08")

    @saga_step("s09", depends_on=["s08"])
    def s09(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "s09")

    @saga_step("s10", depends_on=["s09"])
    async def s10(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "s10")


@tcc("three-party")
class ThreeParty:
    """Three participants tried in order p1, p2, p3; p1 and p3 plain ``def``, p2 ``async def``."""

    @tcc_participant("p1", order=1)
    class P1:
        @try_method
        def hold(self, plan: dict[str, Any], ctx: TccContext) -> Any:
            return work(plan, ctx, "try", "p1")

        @confirm_method
        def commit(self, plan: dict[str, Any], ctx: TccContext) -> None:
            work(plan, ctx, "confirm", "p1")

        @cancel_method
        def release(self, plan: dict[str, Any] | None, ctx: TccContext) -> None:
            work(plan, ctx, "cancel", "p1")

    @tcc_participant("p2", order=2)
    class P2:
        @try_method
        async def hold(self, plan: dict[str, Any], ctx: TccContext) -> Any:
            return await awork(plan, ctx, "try", "p2")

        @confirm_method
        async def commit(self, plan: dict[str, Any], ctx: TccContext) -> None:
            await awork(plan, ctx, "confirm", "p2")

        @cancel_method
        async def release(self, plan: dict[str, Any] | None, ctx: TccContext) -> None:
            await awork(plan, ctx, "cancel", "p2")

    @tcc_participant("p3", order=3)
    class P3:
        @try_method
        def hold(self, plan: dict[str, Any], ctx: TccContext) -> Any:
            return work(plan, ctx, "try", "p3")

        @confirm_method
        def commit(self, plan: dict[str, Any], ctx: TccContext) -> None:
            work(plan, ctx, "confirm", "p3")

        @cancel_method
        def release(self, plan: dict[str, Any] | None, ctx: TccContext) -> None:
            work(plan, ctx, "cancel", "p3")


@saga("nested")
class Nested:
    """before -> child (the ``Chain`` saga as a sub-saga, the plan as its input) -> after."""

    @saga_step("before")
    def before(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return work(plan, ctx, "step", "before")

    @compensation_step("before")
    def undo_before(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        work(plan, ctx, "compensation", "before")

    @sub_saga("child", Chain, depends_on=["before"])
    def child(self, plan: dict[str, Any]) -> Any:
        return plan

    @saga_step("after", depends_on=["child"])
    async def after(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "after")


def _clones(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"i": i, "plan": plan} for i in range(int(plan.get("clones", 4)))]


@saga("fan-out")
class FanOut:
    """prep -> each (one ``def`` clone per item, one at a time, ledger unit ``each#<i>``) -> after."""

    @saga_step("prep")
    async def prep(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "prep")

    @compensation_step("prep")
    async def undo_prep(self, plan: dict[str, Any], ctx: SagaContext) -> None:
        await awork(plan, ctx, "compensation", "prep")

    @saga_step("each", depends_on=["prep"], fan_out=_clones, max_parallel=1)
    def each(self, item: dict[str, Any], ctx: SagaContext) -> Any:
        return work(item["plan"], ctx, "step", f"each#{item['i']}")

    @compensation_step("each")
    def undo_each(
        self, plan: dict[str, Any], item: Annotated[dict[str, Any], FanOutItem()], ctx: SagaContext
    ) -> None:
        work(plan, ctx, "compensation", f"each#{item['i']}")

    @saga_step("after", depends_on=["each"])
    async def after(self, plan: dict[str, Any], ctx: SagaContext) -> Any:
        return await awork(plan, ctx, "step", "after")


SAGAS = {"chain": Chain, "async-chain": AsyncChain, "ten": Ten, "nested": Nested, "fan-out": FanOut}
TCCS = {"three-party": ThreeParty}
