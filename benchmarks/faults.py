"""Random faults at volume: every run must end with outcomes that match what its methods really did.

``python -m benchmarks.faults --runs 100000`` runs that many sagas and TCCs (half each) with random
plans: each step or try succeeds, sleeps, fails, fails once then succeeds on its retry, or overruns
its timeout; some undo methods fail once; one run in twenty is cancelled by its caller after a
random pause. Every method writes what it did to a ledger, and each result is checked against it:

- a step or try reported done (``SUCCEEDED``/``COMPENSATED``, tried) returned exactly once, and one
  reported ``FAILED`` never returned; ``NOT_RUN`` ones were never called; attempts match calls;
- whatever returned is undone exactly once when the transaction did not succeed, and never when it
  did; a TCC confirms every participant once when all tries succeeded and cancels none;
- the chain's order holds (nothing after a failed step ran), and the status follows the plan;
- a run cancelled by its caller raises ``CancelledError`` only after undoing everything that ran, and
  its message names the status the ledger shows.

The test suite runs a few thousand (``tests/engine/test_random_faults.py``); this command runs the
100,000 the throughput work is checked with. It exits non-zero and prints the first violations.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from fireflytx import (
    SagaContext,
    SagaEngine,
    SagaStatus,
    StepStatus,
    TccContext,
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

FORWARD_PLANS = ("ok", "ok", "ok", "sleep", "flaky", "fail", "timeout")
"""What a step or try does (drawn uniformly, so most runs get far)."""
TIMEOUT_MS = 200
"""Each forward attempt's limit; a ``timeout`` plan sleeps far past it, a ``sleep`` plan far below it."""
STEPS = ("s0", "s1", "p", "s2")
"""s0 → (s1 ‖ p) → s2 after s1; p is a ``def`` step, the rest ``async def``."""
PARTICIPANTS = ("t1", "t2", "t3")
CANCEL_EVERY = 20


@dataclass
class Ledger:
    """What every method of every run did, by correlation id."""

    books: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def note(self, cid: str, what: str) -> int:
        book = self.books[cid]
        book[what] += 1
        return book[what]


async def _forward(ledger: Ledger, cid: str, unit: str, plan: dict[str, Any]) -> str:
    calls = ledger.note(cid, f"call:{unit}")
    what = plan[unit]
    if what == "sleep":
        await asyncio.sleep(plan["pause"])
    elif what == "fail":
        raise ValueError(f"{unit} fails")
    elif what == "flaky" and calls == 1:
        raise ConnectionError(f"{unit} fails once")
    elif what == "timeout":
        await asyncio.sleep(30)
    ledger.note(cid, f"ok:{unit}")
    return unit


async def _undo(ledger: Ledger, cid: str, unit: str, plan: dict[str, Any]) -> None:
    calls = ledger.note(cid, f"undo-call:{unit}")
    if plan.get(f"undo:{unit}") == "flaky" and calls == 1:
        raise ConnectionError(f"undoing {unit} fails once")
    ledger.note(cid, f"undone:{unit}")


def fault_saga(ledger: Ledger) -> type:
    """s0 → (s1 ‖ p) → s2, every step undoable; p is a ``def`` step, which never overruns."""

    def forward(unit: str) -> Any:
        async def run(self: object, plan: dict[str, Any], ctx: SagaContext) -> str:
            return await _forward(ledger, ctx.correlation_id, unit, plan)

        return run

    def undo(unit: str) -> Any:
        async def run(self: object, _: str, ctx: SagaContext) -> None:
            await _undo(ledger, ctx.correlation_id, unit, ctx.get_data("plan"))

        return run

    def sync_forward(self: object, plan: dict[str, Any], ctx: SagaContext) -> str:
        cid = ctx.correlation_id
        calls = ledger.note(cid, "call:p")
        if plan["p"] in ("fail", "timeout"):  # an overrunning def step would leave a thread behind
            raise ValueError("p fails")
        if plan["p"] == "flaky" and calls == 1:
            raise ConnectionError("p fails once")
        ledger.note(cid, "ok:p")
        return "p"

    async def first(self: object, plan: dict[str, Any], ctx: SagaContext) -> str:
        ctx.set_data("plan", plan)
        return await _forward(ledger, ctx.correlation_id, "s0", plan)

    namespace = {
        "s0": saga_step("s0", retry=1, timeout_ms=TIMEOUT_MS)(first),
        "s1": saga_step("s1", depends_on=["s0"], retry=1, timeout_ms=TIMEOUT_MS)(forward("s1")),
        "p": saga_step("p", depends_on=["s0"], retry=1)(sync_forward),
        "s2": saga_step("s2", depends_on=["s1"], retry=1, timeout_ms=TIMEOUT_MS)(forward("s2")),
    }
    for unit in STEPS:
        namespace[f"undo_{unit}"] = compensation_step(unit, retry=1)(undo(unit))
    return saga("random-faults")(type("RandomFaults", (), namespace))


def fault_tcc(ledger: Ledger) -> type:
    """t1, t2, t3 tried in order; each cancel may fail once and is retried."""

    def participant(unit: str, order: int) -> type:
        async def attempt(self: object, plan: dict[str, Any], ctx: TccContext) -> str:
            if order == 1:
                ctx.set_data("plan", plan)
            return await _forward(ledger, ctx.correlation_id, unit, plan)

        async def confirm(self: object, _: str, ctx: TccContext) -> None:
            ledger.note(ctx.correlation_id, f"confirmed:{unit}")

        async def cancel(self: object, _: str | None, ctx: TccContext) -> None:
            await _undo(ledger, ctx.correlation_id, unit, ctx.get_data("plan"))

        body = {
            "attempt": try_method(retry=1, timeout_ms=TIMEOUT_MS)(attempt),
            "confirm": confirm_method(confirm),
            "cancel": cancel_method(retry=1)(cancel),
        }
        return tcc_participant(unit, order=order)(type(unit.upper(), (), body))

    namespace = {unit: participant(unit, index + 1) for index, unit in enumerate(PARTICIPANTS)}
    return tcc("random-faults-tcc")(type("RandomFaultsTcc", (), namespace))


def plan_for(rng: random.Random, units: tuple[str, ...]) -> dict[str, Any]:
    plan: dict[str, Any] = {unit: rng.choice(FORWARD_PLANS) for unit in units}
    plan["pause"] = rng.uniform(0.0, 0.002)
    for unit in units:
        if rng.random() < 0.2:
            plan[f"undo:{unit}"] = "flaky"
    return plan


def _succeeds(what: str) -> bool:
    return what in ("ok", "sleep", "flaky")


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    checks: int = 0

    def expect(self, ok: bool, cid: str, what: str) -> None:
        self.checks += 1
        if not ok:
            self.violations.append(f"{cid}: {what}")


def check_saga(tally: Tally, cid: str, plan: dict[str, Any], book: Counter[str], result: Any) -> None:
    succeeded = result.status is SagaStatus.SUCCEEDED
    tally.statuses[f"saga {result.status}"] += 1
    for unit in STEPS:
        step = result.steps[unit]
        calls, returned, undone = book[f"call:{unit}"], book[f"ok:{unit}"], book[f"undone:{unit}"]
        done = step.status in (StepStatus.SUCCEEDED, StepStatus.COMPENSATED)
        tally.expect(returned == (1 if done else 0), cid, f"{unit} is {step.status} but returned {returned}x")
        tally.expect(
            (step.status is StepStatus.NOT_RUN) == (calls == 0), cid, f"{unit} {step.status}, {calls} calls"
        )
        tally.expect(step.attempts == calls, cid, f"{unit}: {step.attempts} attempts reported, {calls} calls")
        expected = 1 if returned and not succeeded else 0
        tally.expect(
            undone == expected, cid, f"{unit} returned {returned}x, undone {undone}x ({result.status})"
        )
        tally.expect(
            (step.status is StepStatus.COMPENSATED) == bool(undone),
            cid,
            f"{unit} {step.status}, undone {undone}x",
        )
    everything = all(_succeeds(plan[unit]) for unit in STEPS)
    tally.expect(succeeded == everything, cid, f"status {result.status} for plan {plan}")
    tally.expect(succeeded or result.status is SagaStatus.COMPENSATED, cid, f"status {result.status}")
    if not _succeeds(plan["s0"]):
        tally.expect(all(book[f"call:{u}"] == 0 for u in ("s1", "p", "s2")), cid, "ran after a failed s0")
    if not _succeeds(plan["s1"]):
        tally.expect(book["call:s2"] == 0, cid, "s2 ran after a failed s1")


def check_tcc(tally: Tally, cid: str, plan: dict[str, Any], book: Counter[str], result: Any) -> None:
    tally.statuses[f"tcc {result.status}"] += 1
    everything = all(_succeeds(plan[unit]) for unit in PARTICIPANTS)
    tally.expect(result.is_confirmed == everything, cid, f"status {result.status} for plan {plan}")
    tally.expect(result.is_confirmed or result.is_canceled, cid, f"status {result.status}")
    failed_at = next((i for i, unit in enumerate(PARTICIPANTS) if not _succeeds(plan[unit])), None)
    for index, unit in enumerate(PARTICIPANTS):
        part = result.participants[unit]
        calls, returned, undone = book[f"call:{unit}"], book[f"ok:{unit}"], book[f"undone:{unit}"]
        tally.expect(
            part.try_phase.attempts == calls, cid, f"{unit}: {part.try_phase.attempts} tries, {calls} calls"
        )
        if result.is_confirmed:
            tally.expect(returned == 1 and book[f"confirmed:{unit}"] == 1, cid, f"{unit} not confirmed once")
            tally.expect(book[f"undo-call:{unit}"] == 0, cid, f"{unit} cancelled in a confirmed TCC")
            continue
        tally.expect(book[f"confirmed:{unit}"] == 0, cid, f"{unit} confirmed in a canceled TCC")
        if failed_at is not None and index > failed_at:
            tally.expect(
                calls == 0 and book[f"undo-call:{unit}"] == 0, cid, f"{unit} touched after the failed try"
            )
        else:
            tally.expect(undone == 1, cid, f"{unit} tried ({calls} calls) but cancelled {undone}x")


def check_cancelled(
    tally: Tally, cid: str, units: tuple[str, ...], book: Counter[str], ended: str, *, is_saga: bool
) -> None:
    """The caller's cancellation: either it came after the decision (everything done, confirmed, nothing
    undone) or everything that must be undone was, once.

    A saga undoes the steps that returned. A TCC cancels every participant whose try was called (one
    cut short may have reserved something: it is cancelled with ``None``), and may also cancel the
    one whose try the cancellation stopped before it was called. ``ended`` is the status the
    ``CancelledError`` names, which must say which of the two happened.
    """
    if is_saga:
        finished = all(book[f"ok:{unit}"] for unit in units) and not any(book[f"undone:{u}"] for u in units)
    else:
        finished = all(book[f"confirmed:{unit}"] == 1 for unit in units)
    if finished:
        said = "SUCCEEDED" if is_saga else "CONFIRMED"
    else:
        said = "COMPENSATED" if is_saga else "CANCELED"
    tally.expect(ended == said, cid, f"cancelled: the error says {ended!r}, the ledger {said!r}")
    if finished:
        tally.statuses["cancelled by the caller after the end was decided"] += 1
        tally.expect(not any(book[f"undo-call:{u}"] for u in units), cid, "cancelled late, yet undone")
        return
    tally.statuses["cancelled by the caller"] += 1
    for unit in units:
        undone = book[f"undone:{unit}"]
        tally.expect(book[f"confirmed:{unit}"] == 0, cid, f"cancelled: {unit} confirmed, others not")
        if is_saga:
            returned = book[f"ok:{unit}"]
            tally.expect(
                undone == (1 if returned else 0),
                cid,
                f"cancelled: {unit} returned {returned}x, undone {undone}x",
            )
        elif book[f"call:{unit}"]:
            tally.expect(undone == 1, cid, f"cancelled: {unit} was tried, undone {undone}x")
        else:
            tally.expect(undone <= 1, cid, f"cancelled: {unit} never tried, undone {undone}x")


async def run_faults(runs: int, concurrency: int, seed: int) -> Tally:
    """Run ``runs`` transactions (sagas and TCCs alternating) and check each one."""
    rng = random.Random(seed)
    ledger = Ledger()
    tally = Tally()
    saga_cls, tcc_cls = fault_saga(ledger), fault_tcc(ledger)
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int, sagas: SagaEngine, tccs: TccEngine) -> None:
        is_saga = index % 2 == 0
        units = STEPS if is_saga else PARTICIPANTS
        plan = plan_for(rng, units)
        cid = f"{'saga' if is_saga else 'tcc'}-{index}"
        cancel_after = rng.uniform(0, 0.003) if index % CANCEL_EVERY == 1 else None
        async with limit:
            if is_saga:
                task = asyncio.ensure_future(sagas.execute(saga_cls, plan, correlation_id=cid))
            else:
                task = asyncio.ensure_future(tccs.execute(tcc_cls, plan, correlation_id=cid))
            if cancel_after is not None:
                await asyncio.sleep(cancel_after)
                task.cancel()
            try:
                result = await task
            except asyncio.CancelledError as exc:
                if cancel_after is None:
                    raise
                ended = str(exc).rsplit(" ", 1)[-1]
                check_cancelled(tally, cid, units, ledger.books.pop(cid, Counter()), ended, is_saga=is_saga)
                return
        book = ledger.books.pop(cid, Counter())
        (check_saga if is_saga else check_tcc)(tally, cid, plan, book, result)

    async with SagaEngine() as sagas, TccEngine() as tccs:
        await asyncio.gather(*(one(index, sagas, tccs) for index in range(runs)))
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Random faults at volume, each outcome checked.")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tally = asyncio.run(run_faults(args.runs, args.concurrency, args.seed))
    took = time.perf_counter() - started
    print(f"{args.runs:,} transactions in {took:.1f} s ({args.runs / took:,.0f}/s), {tally.checks:,} checks")
    for status, count in sorted(tally.statuses.items()):
        print(f"  {status}: {count:,}")
    if tally.violations:
        print(f"{len(tally.violations):,} violations; the first ones:")
        for line in tally.violations[:20]:
            print(f"  {line}")
        return 1
    print("every outcome matched what the methods did")
    return 0


if __name__ == "__main__":
    sys.exit(main())
