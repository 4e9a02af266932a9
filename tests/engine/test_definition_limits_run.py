"""The largest values a definition accepts really run on the engine: the maxima are honest."""

from __future__ import annotations

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
from fireflytx._limits import MAX_INT, MAX_MS, MAX_RETRY


@saga("at-the-limit", layer_concurrency=MAX_INT)
class AtTheLimit:
    @saga_step("a", retry=MAX_RETRY, timeout_ms=MAX_MS, backoff_ms=MAX_MS, jitter=True, jitter_factor=1.0)
    def a(self) -> int:
        return 1

    @compensation_step("a", retry=MAX_RETRY, timeout_ms=MAX_MS, backoff_ms=MAX_MS)
    def undo_a(self) -> None: ...

    @saga_step("b", depends_on=["a"], timeout_ms=MAX_MS)
    async def b(self) -> None:
        raise ValueError("fails once a is done")


@tcc("tcc-at-the-limit", timeout_ms=MAX_MS)
class TccAtTheLimit:
    @tcc_participant("p", order=-MAX_INT - 1)
    class P:
        @try_method(retry=MAX_RETRY, backoff_ms=MAX_MS, timeout_ms=MAX_MS)
        def t(self) -> int:
            return 1

        @confirm_method(retry=MAX_RETRY, backoff_ms=MAX_MS, timeout_ms=MAX_MS)
        def c(self) -> None: ...

        @cancel_method(retry=MAX_RETRY, backoff_ms=MAX_MS, timeout_ms=MAX_MS)
        def x(self) -> None: ...


async def test_a_saga_at_every_maximum_runs_and_compensates() -> None:
    async with SagaEngine() as engine:
        result = await engine.execute(AtTheLimit)
    assert result.status is SagaStatus.COMPENSATED, result
    assert result.steps["a"].compensated


async def test_a_tcc_at_every_maximum_confirms() -> None:
    async with TccEngine() as engine:
        result = await engine.execute(TccAtTheLimit)
    assert result.status is TccStatus.CONFIRMED, result
