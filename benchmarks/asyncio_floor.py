"""The floor: a minimal, honest saga/TCC orchestrator in plain asyncio, with no engine at all.

What a careful team would write by hand in an afternoon: a saga is a DAG of steps, run layer by
layer (each layer with ``asyncio.gather``); each step has a retry loop with backoff; ``def`` steps
run on a thread pool so they never block the loop (as fireflytx runs them); after a failure the
completed steps are compensated one at a time in reverse completion order. A TCC tries its
participants in order, then confirms all, or cancels the tried ones (and the failed one) in
reverse. No persistence, no events, no timeouts: the cost of orchestration and nothing else.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ._drivers import Gate, Runner


@dataclass(frozen=True)
class Step:
    name: str
    action: Callable[[Any], Any]
    depends_on: tuple[str, ...] = ()
    compensation: Callable[[Any], Any] | None = None
    retry: int = 0
    backoff_s: float = 0.1


@dataclass
class Outcome:
    ok: bool
    results: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None
    error: BaseException | None = None
    compensated: list[str] = field(default_factory=list)


class Saga:
    """A DAG of steps, split into layers once."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = {s.name: s for s in steps}
        self.layers: list[list[Step]] = []
        placed: set[str] = set()
        while len(placed) < len(steps):
            layer = [s for s in steps if s.name not in placed and set(s.depends_on) <= placed]
            if not layer:
                raise ValueError("cycle or unknown dependency")
            self.layers.append(layer)
            placed.update(s.name for s in layer)


class Orchestrator:
    """Runs ``Saga``s and TCCs on the running loop; ``def`` callables go to a thread pool."""

    def __init__(self, threads: int = 32) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="floor-step")

    async def call(self, func: Callable[[Any], Any], arg: Any) -> Any:
        if inspect.iscoroutinefunction(func):
            return await func(arg)
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, arg)

    async def _step(self, step: Step, arg: Any, outcome: Outcome, done: list[str]) -> None:
        attempt = 0
        while True:
            try:
                outcome.results[step.name] = await self.call(step.action, arg)
            except Exception:
                if attempt >= step.retry:
                    raise
                attempt += 1
                await asyncio.sleep(step.backoff_s)
            else:
                done.append(step.name)
                return

    async def run(self, saga: Saga, arg: Any = None) -> Outcome:
        outcome = Outcome(ok=True)
        done: list[str] = []  # completion order
        for layer in saga.layers:
            if len(layer) == 1:
                errors: list[Any] = []
                try:
                    await self._step(layer[0], arg, outcome, done)
                except Exception as exc:
                    errors = [exc]
                    outcome.failed = layer[0].name
            else:
                gathered = await asyncio.gather(
                    *(self._step(s, arg, outcome, done) for s in layer), return_exceptions=True
                )
                errors = [e for e in gathered if isinstance(e, BaseException)]
                if errors:
                    failed = (s.name for s, e in zip(layer, gathered, strict=True) if e is not None)
                    outcome.failed = next(failed)
            if errors:
                outcome.ok = False
                outcome.error = errors[0]
                for name in reversed(done):
                    compensation = saga.steps[name].compensation
                    if compensation is not None:
                        await self.call(compensation, outcome.results[name])
                        outcome.compensated.append(name)
                return outcome
        return outcome

    async def run_tcc(self, participants: list[tuple[Any, Any, Any]], arg: Any, retries: int = 3) -> bool:
        """Try each (try, confirm, cancel) in order; True when confirmed, False when canceled."""
        held: list[tuple[Any, Any]] = []
        for try_, _confirm, cancel in participants:
            try:
                held.append((cancel, await self.call(try_, arg)))
            except Exception:
                held.append((cancel, None))
                for cancel_, value in reversed(held):
                    await self._with_retries(cancel_, value, retries)
                return False
        for (_try, confirm, _cancel), (_, value) in zip(participants, held, strict=True):
            await self._with_retries(confirm, value, retries)
        return True

    async def _with_retries(self, func: Callable[[Any], Any], arg: Any, retries: int) -> Any:
        for attempt in range(retries + 1):
            try:
                return await self.call(func, arg)
            except Exception:
                if attempt == retries:
                    raise
                await asyncio.sleep(0.1)


# -- the shapes ------------------------------------------------------------------------------------


async def _noop(_: Any) -> int:
    return 1


def _noop_sync(_: Any) -> int:
    return 1


async def _undo(_: Any) -> None:
    return None


async def _d(fail: Any) -> int:
    if fail:
        raise RuntimeError("d fails")
    return 4


def chain(length: int, use_async: bool) -> Saga:
    action = _noop if use_async else _noop_sync
    return Saga([Step(f"s{i}", action, (f"s{i - 1}",) if i else ()) for i in range(length)])


DIAMOND = Saga(
    [
        Step("a", _noop, (), _undo),
        Step("b", _noop, ("a",), _undo),
        Step("c", _noop, ("a",), _undo),
        Step("d", _d, ("b", "c"), _undo),
    ]
)


async def _p3_try(fail: Any) -> int:
    if fail:
        raise RuntimeError("p3 refuses")
    return 3


TCC = [(_noop, _undo, _undo), (_noop, _undo, _undo), (_p3_try, _undo, _undo)]


class Floor:
    """The asyncio floor as a system under test."""

    name = "asyncio-floor"

    def __init__(self) -> None:
        self.orchestrator = Orchestrator()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.orchestrator.pool.shutdown(wait=True)

    def chain(self, length: int, use_async: bool) -> Runner:
        saga = chain(length, use_async)
        run_saga = self.orchestrator.run

        async def run() -> None:
            if not (await run_saga(saga)).ok:
                raise AssertionError("chain failed")

        return run

    def diamond(self, fail: bool) -> Runner:
        run_saga = self.orchestrator.run

        async def run() -> None:
            if (await run_saga(DIAMOND, fail)).ok == fail:
                raise AssertionError(f"diamond (fail={fail}) ended wrong")

        return run

    async def check_failing_diamond(self) -> None:
        outcome = await self.orchestrator.run(DIAMOND, True)
        if outcome.ok or outcome.failed != "d" or set(outcome.compensated) != {"a", "b", "c"}:
            raise AssertionError(f"the failing diamond did not compensate a, b and c: {outcome}")

    def tcc(self, cancel: bool) -> Runner | str:
        run_tcc = self.orchestrator.run_tcc

        async def run() -> None:
            if (await run_tcc(TCC, cancel)) == cancel:
                raise AssertionError(f"TCC (cancel={cancel}) ended wrong")

        return run

    def held_diamond(self) -> tuple[Runner, Gate]:
        gate = Gate()

        async def held(_: Any) -> int:
            await gate.hold()
            return 2

        saga = Saga(
            [Step("a", _noop), Step("b", held, ("a",)), Step("c", held, ("a",)), Step("d", _noop, ("b", "c"))]
        )
        run_saga = self.orchestrator.run

        async def run() -> None:
            if not (await run_saga(saga)).ok:
                raise AssertionError("held diamond failed")

        return run, gate


def create() -> Floor:
    return Floor()
