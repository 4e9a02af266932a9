"""The kernel's hand-on (``RunBase.take_over`` / ``take_next``), without an engine: what an answer starts is
run by the answering task, or by a task of its own, and never left behind."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from fireflytx._core._listeners import Listeners
from fireflytx._core._run import RunBase, RunStart
from fireflytx.listeners import TransactionKind


class Run(RunBase):
    kind: ClassVar[TransactionKind] = TransactionKind.SAGA

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        super().__init__("hand-on", RunStart("c-1", {}, None, {}, loop, None, Listeners("test")))  # type: ignore[arg-type]
        self.carried: list[tuple[Any, asyncio.Task[Any] | None]] = []

    async def carry_on(self, work: Any) -> None:
        self.carried.append((work, asyncio.current_task()))


async def test_the_answering_task_gets_the_first_follow_up_only() -> None:
    run = Run()
    accepted: list[bool] = []

    def answer() -> None:
        accepted.append(run.take_over("first"))
        accepted.append(run.take_over("second"))

    assert run.take_next(asyncio.current_task(), answer) == "first"
    assert accepted == [True, False]
    assert not run.take_over("outside an answer")


async def test_a_cancelled_task_hands_the_follow_up_to_a_task_of_its_own() -> None:
    run = Run()
    seen: list[Any] = []

    async def answering() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # a cancellation is pending while it answers
        seen.extend([run.take_next(task, lambda: run.take_over("work")), task])

    await asyncio.gather(asyncio.create_task(answering()), return_exceptions=True)
    await asyncio.sleep(0)  # the follow-up's own task runs
    taken, cancelled = seen
    assert taken is None
    assert [work for work, _ in run.carried] == ["work"]
    assert run.carried[0][1] is not cancelled


async def test_an_answer_that_fails_leaves_nothing_it_started_behind() -> None:
    run = Run()

    def answer() -> None:
        run.take_over("work")
        raise RuntimeError("the answer failed after starting something")

    with pytest.raises(RuntimeError):
        run.take_next(asyncio.current_task(), answer)
    await asyncio.sleep(0)
    assert [work for work, _ in run.carried] == ["work"]
    # Nothing stale is left for the next answer to pick up.
    assert run.take_next(asyncio.current_task(), lambda: None) is None
