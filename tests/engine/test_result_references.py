"""A finished result outlives its run: it must not keep the run's instances, loop or executor alive."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from types import FrameType, FunctionType, ModuleType, TracebackType
from typing import Any

import pytest

from fireflytx import (
    SagaEngine,
    SagaStatus,
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


@pytest.fixture
async def tcc_engine() -> AsyncIterator[TccEngine]:
    async with TccEngine() as running:
        yield running


def reaches(root: object, targets: list[object]) -> list[str]:
    """Type names of the targets reachable from ``root`` through plain object references.

    Classes, modules and functions are not followed (they reach everything global), nor are a kept
    exception's traceback frames: those belong to the user's exception, not to the result.
    """
    wanted = {id(t): type(t).__name__ for t in targets}
    found: list[str] = []
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if id(obj) in wanted:
            found.append(wanted[id(obj)])
            continue
        if isinstance(obj, type | ModuleType | FunctionType | FrameType | TracebackType):
            continue
        stack.extend(gc.get_referents(obj))
    return found


async def test_a_saga_result_holds_no_reference_to_the_run(engine: SagaEngine) -> None:
    instances: list[Any] = []

    @saga("let-go")
    class LetGo:
        @saga_step("a")
        def a(self) -> dict[str, int]:
            instances.append(self)
            return {"n": 1}

        @compensation_step("a")
        async def undo(self, _: object) -> None: ...

        @saga_step("b", depends_on=["a"])
        async def b(self) -> None:
            raise KeyError("missing")

    result = await engine.execute(LetGo)
    assert result.status is SagaStatus.COMPENSATED
    targets = [instances[0], asyncio.get_running_loop(), engine._executor]
    assert reaches(result, targets) == []  # before the steps are built: the builder alone
    assert result.steps["a"].compensated and result.steps["b"].error is not None
    assert reaches(result, targets) == []


async def test_a_successful_saga_run_lets_its_instance_go(engine: SagaEngine) -> None:
    refs: list[weakref.ref[Any]] = []

    @saga("let-go-ok")
    class LetGoOk:
        @saga_step("a")
        async def a(self) -> int:
            refs.append(weakref.ref(self))
            return 1

    result = await engine.execute(LetGoOk)
    gc.collect()
    assert result.is_success and refs[0]() is None
    assert result.result_of("a") == 1


async def test_a_tcc_result_holds_no_reference_to_the_participants(tcc_engine: TccEngine) -> None:
    instances: list[Any] = []

    @tcc("let-go-tcc")
    class LetGoTcc:
        @tcc_participant("p", order=1)
        class P:
            @try_method
            def hold(self) -> str:
                instances.append(self)
                return "held"

            @confirm_method
            def commit(self, held: str) -> None: ...

            @cancel_method
            def release(self, held: str | None) -> None: ...

        @tcc_participant("q", order=2)
        class Q:
            @try_method
            async def hold(self) -> str:
                instances.append(self)
                raise LookupError("no stock")

            @confirm_method
            async def commit(self, held: str) -> None: ...

            @cancel_method
            async def release(self, held: str | None) -> None: ...

    result = await tcc_engine.execute(LetGoTcc)
    targets = [*instances, asyncio.get_running_loop(), tcc_engine._executor]
    assert result.status is TccStatus.CANCELED and result.failed_participant == "q"
    assert reaches(result, targets) == []  # before the participants are built: the builder alone
    assert result.error is not None and result.participants["p"].cancel_phase.attempts == 1
    assert reaches(result, targets) == []


async def test_a_failed_steps_exception_keeps_its_traceback_text_but_not_the_instance() -> None:
    @saga("fails-with-locals")
    class Fails:
        @saga_step("a")
        def a(self) -> None:
            raise ValueError("boom")

    instance = Fails()
    alive = weakref.ref(instance)
    async with SagaEngine() as engine:
        result = await engine.execute(instance)
    del instance
    # The worker thread that ran the step may still be handing its failure to Java for a moment.
    for _ in range(200):
        gc.collect()
        if alive() is None:
            break
        await asyncio.sleep(0.01)
    assert alive() is None
    error = result.steps["a"].error
    assert error is not None and isinstance(error.exception, ValueError)
    assert 'raise ValueError("boom")' in error.traceback
