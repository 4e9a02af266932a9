"""The fireflytx shapes every case runs: chains of no-op steps, the diamond, a held diamond, a 3-party TCC.

The asyncio floor (``asyncio_floor.py``) and DBOS (``dbos_peer.py``) define the same shapes with
their own means; all steps are no-ops that return a small int, so what is measured is orchestration.
"""

from __future__ import annotations

from typing import Any

from fireflytx import compensation_step, saga, saga_step

from ._drivers import Gate

try:  # TCC lands separately; the suite reports "not available" without it.
    from fireflytx import cancel_method, confirm_method, tcc, tcc_participant, try_method
except ImportError as exc:  # pragma: no cover - depends on the checkout
    TCC_UNAVAILABLE: str | None = f"not available: {exc}"
else:
    TCC_UNAVAILABLE = None


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
    """A → (B ‖ C) → D, async no-op steps each with a compensation; D fails when the input says so."""

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


def held_diamond_saga(gate: Gate) -> type:
    """The diamond whose B and C wait at ``gate`` (for the in-flight memory case)."""

    @saga("held-diamond")
    class HeldDiamond:
        @saga_step("a")
        async def a(self) -> int:
            return 1

        @saga_step("b", depends_on=["a"])
        async def b(self) -> int:
            await gate.hold()
            return 2

        @saga_step("c", depends_on=["a"])
        async def c(self) -> int:
            await gate.hold()
            return 3

        @saga_step("d", depends_on=["b", "c"])
        async def d(self) -> int:
            return 4

    return HeldDiamond


def tcc_three() -> type:
    """Three participants tried in order 1, 2, 3; the third's try fails when the input says so."""
    if TCC_UNAVAILABLE is not None:
        raise RuntimeError(TCC_UNAVAILABLE)

    @tcc("three-party")
    class ThreeParty:
        @tcc_participant("p1", order=1)
        class P1:
            @try_method
            async def reserve(self, fail: bool) -> int:
                return 1

            @confirm_method
            async def commit(self, held: int) -> None:
                return None

            @cancel_method
            async def release(self, held: int | None) -> None:
                return None

        @tcc_participant("p2", order=2)
        class P2:
            @try_method
            async def reserve(self, fail: bool) -> int:
                return 2

            @confirm_method
            async def commit(self, held: int) -> None:
                return None

            @cancel_method
            async def release(self, held: int | None) -> None:
                return None

        @tcc_participant("p3", order=3)
        class P3:
            @try_method
            async def reserve(self, fail: bool) -> int:
                if fail:
                    raise RuntimeError("p3 refuses")
                return 3

            @confirm_method
            async def commit(self, held: int) -> None:
                return None

            @cancel_method
            async def release(self, held: int | None) -> None:
                return None

    return ThreeParty
