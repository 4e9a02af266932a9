"""The saga shapes every system under test runs: chains of no-op steps and a diamond."""

from __future__ import annotations

from typing import Any

from fireflytx import compensation_step, saga, saga_step


def chain_saga(length: int, use_async: bool) -> type:
    """A saga of ``length`` no-op steps, each depending on the previous one."""
    namespace: dict[str, Any] = {}
    for index in range(length):
        deps = [f"s{index - 1}"] if index else []
        if use_async:

            async def step(self: Any) -> None:
                return None
        else:

            def step(self: Any) -> None:  # type: ignore[misc]
                return None

        namespace[f"s{index}"] = saga_step(f"s{index}", depends_on=deps)(step)
    kind = "async" if use_async else "sync"
    return saga(f"chain-{length}-{kind}")(type(f"Chain{length}{kind}", (), namespace))


@saga("diamond")
class DiamondSaga:
    """A → (B ‖ C) → D, async no-op steps; D fails when the input says so."""

    @saga_step("a")
    async def a(self, fail: bool) -> int:
        return 1

    @compensation_step("a")
    async def undo_a(self, _: int) -> None:
        return None

    @saga_step("b", depends_on=["a"])
    async def b(self, fail: bool) -> int:
        return 2

    @compensation_step("b")
    async def undo_b(self, _: int) -> None:
        return None

    @saga_step("c", depends_on=["a"])
    async def c(self, fail: bool) -> int:
        return 3

    @compensation_step("c")
    async def undo_c(self, _: int) -> None:
        return None

    @saga_step("d", depends_on=["b", "c"])
    async def d(self, fail: bool) -> int:
        if fail:
            raise RuntimeError("d fails")
        return 4
