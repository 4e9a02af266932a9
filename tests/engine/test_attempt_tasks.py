"""Which task runs an ``async def`` attempt: the task that finished the attempt before it drives the next one
its answer started, for SAGA and TCC alike, and the undoing after a failure (a saga's compensations, a
TCC's cancels). What user code can see of that must stay what a method awaiting the attempts in turn would
see: an uncancelled task after a sibling attempt timed out, working ``asyncio.timeout``, context variables
that flow down the chain and never back to the caller, and a task cancelled from outside that drives
nothing more.
"""

from __future__ import annotations

import asyncio
import contextvars
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from fireflytx import (
    SagaEngine,
    SagaStatus,
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

KINDS = ["saga", "tcc"]
Unit = Callable[[], Awaitable[Any]]

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("fireflytx_test_var", default="unset")


@pytest.fixture
def engines(saga_engine: SagaEngine, tcc_engine: TccEngine) -> dict[str, Any]:
    return {"saga": saga_engine, "tcc": tcc_engine}


def sequence(kind: str, units: Mapping[str, Unit], *, timeout_ms: int = 0, retry: int = 0) -> type:
    """Units run one after another, in the order given; each forward method awaits its ``Unit``."""

    def forward(unit: Unit) -> Callable[..., Awaitable[Any]]:
        async def run(self: object) -> Any:
            return await unit()

        return run

    names = list(units)
    if kind == "saga":
        namespace = {
            name: saga_step(
                name, depends_on=[names[index - 1]] if index else [], timeout_ms=timeout_ms, retry=retry
            )(forward(unit))
            for index, (name, unit) in enumerate(units.items())
        }
        return saga("attempt-tasks")(type("Sequence", (), namespace))

    def nothing() -> Callable[..., Awaitable[None]]:
        async def method(self: object, _: object) -> None:
            return None

        return method

    participants = {}
    for index, (name, unit) in enumerate(units.items()):
        participant = type(
            name.upper(),
            (),
            {
                "t": try_method(timeout_ms=timeout_ms, retry=retry)(forward(unit)),
                "c": confirm_method(nothing()),
                "x": cancel_method(nothing()),
            },
        )
        participants[name] = tcc_participant(name, order=index + 1)(participant)
    return tcc("attempt-tasks")(type("Sequence", (), participants))


async def held_until_cancelled(held: dict[str, asyncio.Task[Any]], started: asyncio.Event) -> bool:
    """Put the current task in ``held`` for the test to cancel from outside; whether it was cancelled."""
    task = asyncio.current_task()
    assert task is not None
    held["task"] = task
    started.set()
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        return True
    return False


def ended_well(kind: str, result: Any) -> bool:
    return bool(result.is_success if kind == "saga" else result.is_confirmed)


def attempts_of(kind: str, result: Any, unit: str) -> int:
    if kind == "saga":
        return int(result.steps[unit].attempts)
    return int(result.participants[unit].try_phase.attempts)


@pytest.mark.parametrize("kind", KINDS)
async def test_after_a_timed_out_attempt_the_next_unit_runs_uncancelled_and_its_own_timeout_works(
    engines: dict[str, Any], kind: str
) -> None:
    seen: dict[str, Any] = {}
    tries = 0

    async def first() -> str:
        return "first"

    async def slow_once() -> str:
        nonlocal tries
        tries += 1
        if tries == 1:
            await asyncio.sleep(5)  # fireflytx's 200 ms limit cancels this: a timeout, then a retry
        return "second try"

    async def swallows() -> str:
        try:
            await asyncio.sleep(5)  # the limit cancels this too, but the method returns all the same
        except asyncio.CancelledError:
            return "swallowed"
        return "slept"

    async def after() -> str:
        task = asyncio.current_task()
        assert task is not None
        seen["cancelling"] = task.cancelling()
        try:
            async with asyncio.timeout(0.02):
                await asyncio.sleep(2)
        except TimeoutError:
            seen["own timeout"] = "raised TimeoutError"
        await asyncio.sleep(0.01)  # an ordinary await after it is not cancelled either
        return "after"

    units = {"a": first, "b": slow_once, "s": swallows, "c": after}
    result = await engines[kind].execute(sequence(kind, units, timeout_ms=200, retry=1))

    assert ended_well(kind, result), result
    assert attempts_of(kind, result, "b") == 2
    assert seen == {"cancelling": 0, "own timeout": "raised TimeoutError"}


@pytest.mark.parametrize("kind", KINDS)
async def test_context_variables_flow_down_the_chain_and_never_back_to_the_caller(
    engines: dict[str, Any], kind: str
) -> None:
    seen: list[str] = []

    def setter(value: str) -> Unit:
        async def unit() -> str:
            seen.append(VAR.get())
            VAR.set(value)
            return value

        return unit

    token = VAR.set("caller")
    try:
        units = {"a": setter("a"), "b": setter("b"), "c": setter("c")}
        result = await engines[kind].execute(sequence(kind, units))
        assert ended_well(kind, result), result
        assert VAR.get() == "caller"
    finally:
        VAR.reset(token)
    # Each unit sees what the one before it set, as awaiting them in turn would show.
    assert seen == ["caller", "a", "b"]


async def test_a_task_cancelled_from_outside_drives_no_further_unit(saga_engine: SagaEngine) -> None:
    held: dict[str, asyncio.Task[Any]] = {}
    ran_in: list[asyncio.Task[Any] | None] = []
    started = asyncio.Event()

    async def first() -> str:
        return "first"

    async def cancelled_once() -> str:
        ran_in.append(asyncio.current_task())
        # Cancelled from outside, the method carries on regardless.
        return "went on" if await held_until_cancelled(held, started) else "slept"

    async def last() -> str:
        ran_in.append(asyncio.current_task())
        return "last"

    run = asyncio.ensure_future(
        saga_engine.execute(sequence("saga", {"a": first, "b": cancelled_once, "c": last}))
    )
    await asyncio.wait_for(started.wait(), 5)
    held["task"].cancel()
    result = await asyncio.wait_for(run, 10)

    assert result.is_success, result
    assert result.steps["b"].result == "went on"
    assert held["task"].done()
    # The unit after it ran, but not in the task that was cancelled.
    assert len(ran_in) == 2
    assert ran_in[1] is not held["task"]


def failing_chain(units: dict[str, Unit], undo: Callable[[str], Awaitable[None]], fails: str) -> type:
    """Steps in a chain, each with a compensation that awaits ``undo(step id)``; ``fails`` raises."""

    def forward(name: str, unit: Unit) -> Callable[..., Awaitable[Any]]:
        async def run(self: object) -> Any:
            value = await unit()
            if name == fails:
                raise RuntimeError(f"{name} fails")
            return value

        return run

    def backward(name: str) -> Callable[..., Awaitable[None]]:
        async def run(self: object) -> None:
            await undo(name)

        return run

    names = list(units)
    namespace: dict[str, Any] = {}
    for index, (name, unit) in enumerate(units.items()):
        namespace[name] = saga_step(name, depends_on=[names[index - 1]] if index else [])(forward(name, unit))
        namespace[f"undo_{name}"] = compensation_step(name)(backward(name))
    return saga("undo-tasks")(type("FailingChain", (), namespace))


async def test_compensations_run_in_the_failed_step_task_one_after_another_without_nesting(
    saga_engine: SagaEngine,
) -> None:
    tasks: dict[str, asyncio.Task[Any] | None] = {}
    depths: dict[str, int] = {}

    def unit(name: str) -> Unit:
        async def run() -> str:
            tasks[name] = asyncio.current_task()
            return name

        return run

    async def undo(name: str) -> None:
        tasks[f"undo {name}"] = asyncio.current_task()
        depths[name] = len(traceback.extract_stack())

    names = [f"s{index}" for index in range(12)]
    result = await saga_engine.execute(failing_chain({name: unit(name) for name in names}, undo, fails="s11"))

    assert result.status is SagaStatus.COMPENSATED, result
    assert result.compensated_steps == tuple(reversed(names[:-1]))
    # As a method awaiting the compensations in turn: the failed step's task runs each of them...
    assert {tasks[f"undo {name}"] for name in names[:-1]} == {tasks["s11"]}
    # ... one after another, not each inside the one before (a long saga would run out of stack).
    assert len(set(depths.values())) == 1, depths


async def test_a_task_cancelled_from_outside_runs_no_further_compensation(saga_engine: SagaEngine) -> None:
    held: dict[str, asyncio.Task[Any]] = {}
    undone_in: dict[str, asyncio.Task[Any] | None] = {}
    started = asyncio.Event()

    async def nothing() -> str:
        return "done"

    async def undo(name: str) -> None:
        undone_in[name] = asyncio.current_task()
        if name == "b":
            await held_until_cancelled(held, started)  # and the compensation finishes regardless

    run = asyncio.ensure_future(
        saga_engine.execute(failing_chain({"a": nothing, "b": nothing, "c": nothing}, undo, fails="c"))
    )
    await asyncio.wait_for(started.wait(), 5)
    held["task"].cancel()
    result = await asyncio.wait_for(run, 10)

    assert result.status is SagaStatus.COMPENSATED, result
    assert held["task"].done()
    # The compensation after it ran, but not in the task that was cancelled.
    assert undone_in["a"] is not None
    assert undone_in["a"] is not held["task"]


async def test_a_failed_last_try_task_cancels_the_participants(tcc_engine: TccEngine) -> None:
    tasks: dict[str, asyncio.Task[Any] | None] = {}

    def participant(name: str, order: int, fails: bool) -> type:
        async def attempt(self: object, _: object) -> str:
            tasks[f"try {name}"] = asyncio.current_task()
            if fails:
                raise RuntimeError(f"{name} fails")
            return name

        async def confirm(self: object, _: object) -> None:
            return None

        async def cancel(self: object, _: object) -> None:
            tasks[f"cancel {name}"] = asyncio.current_task()

        body = {"t": try_method()(attempt), "c": confirm_method(confirm), "x": cancel_method(cancel)}
        return tcc_participant(name, order=order)(type(name.upper(), (), body))

    names = ["p1", "p2", "p3"]
    parts = {name: participant(name, index + 1, name == "p3") for index, name in enumerate(names)}
    result = await tcc_engine.execute(tcc("cancel-tasks")(type("Three", (), parts)), None)

    assert result.is_canceled, result
    # As a method awaiting the cancels in turn: the task of the try that failed runs every cancel.
    assert {tasks[f"cancel {name}"] for name in names} == {tasks["try p3"]}
