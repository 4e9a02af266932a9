"""The calls case: what one saga costs in calls, counted rather than timed.

Times move several-fold between days on a shared machine; call counts do not. For each shape this
runs sagas under ``cProfile`` on the event-loop thread and reports Python function calls per saga
(every call the loop thread makes: fireflytx's, asyncio's, the builtins'), and, for fireflytx, the
calls across the JNI boundary per saga (``fireflytx._bridge._pump.CROSSINGS``: Python calling the
adapter, and the adapter waking Python). Shapes use ``async def`` steps, so every call of a run is
on the loop thread.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
from collections.abc import Callable
from typing import Any

from ._drivers import Runner, run_many

SAGAS = 500
"""Sagas counted per shape (counts per saga are exact to a few calls; more only takes longer)."""


async def count(
    name: str, run: Runner, concurrency: int, crossings: Callable[[], tuple[int, int]] | None
) -> dict[str, Any]:
    """Calls per saga of ``run`` at ``concurrency``."""
    await run_many(run, 200, concurrency)  # counts, not times: the JIT need not settle
    budget = iter(range(SAGAS))

    async def worker() -> None:
        for _ in budget:
            await run()

    before = crossings() if crossings is not None else (0, 0)
    profile = cProfile.Profile()
    profile.enable()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        profile.disable()
    after = crossings() if crossings is not None else (0, 0)
    stats: dict[Any, tuple[Any, ...]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    python_calls = sum(entry[1] for entry in stats.values())
    row: dict[str, Any] = {
        "name": name,
        "concurrency": concurrency,
        "sagas": SAGAS,
        "python_calls_per_saga": python_calls / SAGAS,
    }
    if crossings is not None:
        row["into_java_per_saga"] = (after[0] - before[0]) / SAGAS
        row["from_java_per_saga"] = (after[1] - before[1]) / SAGAS
    return row


def shapes(system: Any) -> list[tuple[str, Runner, int]]:
    """(name, runner, concurrency) of every shape counted on ``system``.

    Names start with ``calls-``: rows of other cases are looked up by name, and the shapes repeat.
    """
    out: list[tuple[str, Runner, int]] = [
        ("calls-chain-1-async", system.chain(1, True), 1),
        ("calls-chain-50-async", system.chain(50, True), 1),
        ("calls-diamond-c1", system.diamond(False), 1),
        ("calls-diamond-c100", system.diamond(False), 100),
        ("calls-diamond-failing-c1", system.diamond(True), 1),
    ]
    for cancel in (False, True):
        tcc = system.tcc(cancel)
        if not isinstance(tcc, str):
            out.append((f"calls-tcc-{'canceled' if cancel else 'confirmed'}-c1", tcc, 1))
    return out
