"""The split case: how much of a saga's time is spent inside fireflytx's calls into Java.

A throughput ratio says how far fireflytx is from the asyncio floor, not what stands in the way.
This case runs shapes one saga at a time with every call fireflytx makes into the adapter on the
run path timed from Python (the system's ``timed_java``), and splits each saga's wall time into:

- *inside Java calls*: the engine's own work (its continuation after each answer, its per-run
  setup) plus what JPype costs per call;
- *JPype's fixed cost*: the calls made times what one ``exchange("")`` costs when it finds nothing
  to do, timed the same way (same method, same wrapper, no engine work);
- *Python and the loop*: the rest (fireflytx's Python, asyncio's, the step methods).

Only the middle part shrinks with fewer crossings; the engine's own work sets a bound no Python
change can pass. The timer adds two clock reads and a frame per call, which land in the Java column
and, being in the empty call too, leave the engine's own work unbiased.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ._drivers import Runner, run_many, warm

ROUNDS = 3
EMPTY_CALLS = 20_000


class JavaClock:
    """Time and calls spent inside wrapped callables (one thread: the loop's)."""

    def __init__(self) -> None:
        self.ns = 0
        self.calls = 0

    def wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.perf_counter_ns

        def timed(*args: Any) -> Any:
            started = clock()
            try:
                return call(*args)
            finally:
                self.ns += clock() - started
                self.calls += 1

        return timed


class Timed(Protocol):
    """What a system offers this case (``fireflytx_cases.FireflyTx``)."""

    def timed_java(self, clock: JavaClock) -> AbstractContextManager[Callable[[str], Any]]:
        """Route the run path's calls into Java through ``clock``; yields the idle pump's exchange."""
        ...

    def crossings(self) -> tuple[int, int]: ...


def shapes(system: Any) -> Iterator[tuple[str, Runner, int]]:
    """(name, runner, sagas per round), one saga at a time; names start with ``split-``."""
    yield "split-chain-1-async", system.chain(1, True), 3000
    yield "split-chain-50-async", system.chain(50, True), 200
    yield "split-diamond-c1", system.diamond(False), 3000
    yield "split-diamond-failing-c1", system.diamond(True), 3000
    tcc = system.tcc(False)
    if not isinstance(tcc, str):
        yield "split-tcc-confirmed-c1", tcc, 3000


async def measure(name: str, run: Runner, sagas: int, system: Timed, settle: bool = True) -> dict[str, Any]:
    """Wall time per saga and its split, from the median round of ``ROUNDS``.

    ``settle``: warm up until the JIT has settled (``warm``), as timings need; without it, only a
    fifth of ``sagas`` first (enough for the call counts, which is what a test checks).
    """
    await (warm if settle else run_many)(run, sagas // 5, 1)
    clock = JavaClock()
    rounds: list[dict[str, int]] = []
    with system.timed_java(clock) as empty_exchange:
        for _ in range(ROUNDS):
            clock.ns = clock.calls = 0
            into_before = system.crossings()[0]
            started = time.perf_counter_ns()
            for _ in range(sagas):
                await run()
            wall = time.perf_counter_ns() - started
            untimed = system.crossings()[0] - into_before - clock.calls
            # A definition's first start on a busy loop registers a launcher (two calls, untimed) and
            # may retire the one of a definition it replaced (one more); anything beyond that, or
            # beyond 1% of the calls, means a call path that is not wrapped.
            if untimed > max(3, clock.calls // 100):
                raise AssertionError(f"{untimed} of {untimed + clock.calls} calls into Java were not timed")
            rounds.append({"wall_ns": wall, "java_ns": clock.ns, "calls": clock.calls, "untimed": untimed})
        empty = _empty_call_us(clock, empty_exchange)
    middle = sorted(rounds, key=lambda r: r["wall_ns"])[len(rounds) // 2]
    per_saga = lambda ns: ns / sagas / 1000  # noqa: E731
    calls = middle["calls"] / sagas
    in_java = per_saga(middle["java_ns"])
    return {
        "name": name,
        "sagas": sagas,
        "rounds": ROUNDS,
        "us_per_saga": per_saga(middle["wall_ns"]),
        "java_us_per_saga": in_java,
        "calls_per_saga": calls,
        "untimed_calls": middle["untimed"],
        "empty_call_us": empty,
        "engine_us_per_saga": max(in_java - calls * empty, 0.0),
        "python_us_per_saga": per_saga(middle["wall_ns"] - middle["java_ns"]),
    }


def _empty_call_us(clock: JavaClock, exchange: Callable[[str], Any]) -> float:
    """µs of one timed ``exchange("")`` on a pump with nothing pending: JPype's cost of a call."""
    timed = clock.wrap(exchange)
    samples = []
    for _ in range(ROUNDS):
        clock.ns = clock.calls = 0
        for _ in range(EMPTY_CALLS):
            if timed(""):
                raise AssertionError("the idle pump's exchange returned requests: a run was still going")
        samples.append(clock.ns / clock.calls / 1000)
    return statistics.median(samples)
