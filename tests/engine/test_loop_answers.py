"""How answers reach the engine from the loop: at once when the loop is idle, batched when it is busy, and
with each failure the engine's next requests in the same call. Every path must end every run right."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fireflytx import (
    SagaContext,
    SagaEngine,
    SagaStatus,
    StepStatus,
    TccEngine,
    TccStatus,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)


def chain(length: int) -> type:
    """Steps s0 → s1 → …, each returning one more than the step before it."""

    def step_at(index: int) -> Any:
        async def step(self: object, ctx: SagaContext) -> int:
            return 0 if index == 0 else int(ctx.get_result(f"s{index - 1}")) + 1

        return saga_step(f"s{index}", depends_on=[f"s{index - 1}"] if index else [])(step)

    namespace = {f"s{index}": step_at(index) for index in range(length)}
    return saga("answers-chain")(type("AnswersChain", (), namespace))


async def test_a_long_chain_on_an_idle_loop_runs_each_step_after_the_one_before(engine: SagaEngine) -> None:
    result = await engine.execute(chain(40))
    assert result.is_success
    assert [result.steps[f"s{i}"].result for i in range(40)] == list(range(40))


def wide(width: int, *, bad: str | None, name: str = "answers-wide") -> type:
    """``width`` undoable steps in one layer after ``root``; ``bad`` (if any) fails at once."""
    namespace: dict[str, Any] = {}

    async def root(self: Any) -> str:
        return "root"

    async def undo_root(self: Any, _: str) -> None:
        self.undone.append("root")

    namespace["root"] = saga_step("root")(root)
    namespace["undo_root"] = compensation_step("root")(undo_root)

    def add(name: str) -> None:
        async def step(self: Any) -> str:
            if name == bad:
                raise ValueError(f"{name} fails")
            return name

        async def undo(self: Any, _: str) -> None:
            self.undone.append(name)

        namespace[name] = saga_step(name, depends_on=["root"])(step)
        namespace[f"undo_{name}"] = compensation_step(name)(undo)

    for index in range(width):
        add(f"w{index}")
    namespace["__init__"] = lambda self: setattr(self, "undone", [])
    return saga(name)(type("AnswersWide", (), namespace))


async def test_one_failing_step_among_many_answered_in_one_turn_undoes_exactly_those_that_succeeded(
    engine: SagaEngine,
) -> None:
    instance = wide(12, bad="w5")()
    result = await engine.execute(instance)
    assert result.status is SagaStatus.COMPENSATED
    assert result.failed_steps == ("w5",)
    succeeded = {s for s, o in result.steps.items() if s != "w5" and o.status is StepStatus.COMPENSATED}
    assert succeeded == set(instance.undone)
    assert "root" in succeeded and instance.undone[-1] == "root"
    assert result.steps["w5"].status is StepStatus.FAILED


async def test_many_runs_at_once_some_failing_each_end_with_their_own_outcome(engine: SagaEngine) -> None:
    good, bad = wide(6, bad=None, name="answers-good"), wide(6, bad="w2", name="answers-bad")
    instances = [(bad if i % 3 == 0 else good)() for i in range(60)]
    results = await asyncio.gather(*(engine.execute(instance) for instance in instances))
    for i, (instance, result) in enumerate(zip(instances, results, strict=True)):
        if i % 3 == 0:
            assert result.status is SagaStatus.COMPENSATED and result.failed_steps == ("w2",)
            assert instance.undone[-1] == "root"
            assert set(result.compensated_steps) == set(instance.undone)
        else:
            assert result.is_success and instance.undone == []


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "def"])
async def test_a_step_retried_without_a_pause_succeeds_on_its_last_attempt(
    engine: SagaEngine, is_async: bool
) -> None:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(len(calls) + 1)
        if len(calls) < 5:
            raise ConnectionError(f"attempt {len(calls)}")
        return "done"

    if is_async:

        async def flaky(self: object) -> str:
            return attempt()
    else:

        def flaky(self: object) -> str:  # type: ignore[misc]
            return attempt()

    @saga("answers-retry")
    class Retried:
        step = saga_step("flaky", retry=4, backoff_ms=0)(flaky)

    result = await engine.execute(Retried)
    assert result.is_success and result.steps["flaky"].result == "done"
    assert calls == [1, 2, 3, 4, 5] and result.steps["flaky"].attempts == 5


async def test_a_failed_tcc_try_cancels_every_participant_tried_before_it() -> None:
    cancelled: list[str] = []

    def participant(name: str, order: int, fails: bool) -> type:
        class Participant:
            @try_method
            async def reserve(self) -> str:
                if fails:
                    raise ValueError(f"{name} declined")
                return name

            @confirm_method
            async def commit(self, _: str) -> None:
                raise AssertionError("nothing is confirmed after a failed try")

            @cancel_method
            async def release(self, _: str | None) -> None:
                cancelled.append(name)

        return tcc_participant(name, order=order)(Participant)

    @tcc("answers-tcc")
    class Three:
        first = participant("first", 1, False)
        second = participant("second", 2, False)
        third = participant("third", 3, True)

    async with TccEngine() as engine:
        for _ in range(3):
            cancelled.clear()
            result = await engine.execute(Three)
            assert result.status is TccStatus.CANCELED
            assert sorted(cancelled) == ["first", "second", "third"]
