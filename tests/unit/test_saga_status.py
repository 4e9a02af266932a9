"""A saga's status read from its steps' records, without an engine: which failures and undos give which."""

from __future__ import annotations

import asyncio

import pytest

from fireflytx import SagaStatus, compensation_step, saga, saga_step
from fireflytx._core._attempt import Attempt
from fireflytx._core._listeners import Listeners
from fireflytx._core._run import RunStart
from fireflytx._saga._definition import definition_of
from fireflytx._saga._run import SagaRun
from fireflytx.listeners import Phase


@saga("statuses")
class Statuses:
    @saga_step("a")
    async def a(self) -> None: ...

    @compensation_step("a")
    async def undo_a(self) -> None: ...

    @saga_step("b", depends_on=["a"])
    async def b(self) -> None: ...

    @saga_step("c", depends_on=["b"])
    async def c(self) -> None: ...


def _ended(phase: Phase, unit: str, error: BaseException | None = None) -> Attempt:
    attempt = Attempt(phase, unit, 1, True, 0, True, None, None)
    attempt.done, attempt.error = True, error
    return attempt


def _run(succeeded: str, failed: str, undo: BaseException | None | str) -> SagaRun:
    """``succeeded``, ``failed``: steps; ``undo``: a's undo's error, None (undone) or "none" (no undo)."""
    loop = asyncio.get_running_loop()
    start = RunStart("c-1", {}, None, {}, loop, None, Listeners("test"))  # type: ignore[arg-type]
    run = SagaRun(definition_of(Statuses), Statuses(), start)
    for unit in succeeded:
        record = run.records[unit]
        record.attempts.append(_ended(Phase.STEP, unit))
        record.succeeded = True
    for unit in failed:
        run.records[unit].attempts.append(_ended(Phase.STEP, unit, ValueError(unit)))
    if undo != "none":
        run.records["a"].compensations.append(_ended(Phase.COMPENSATION, "a", undo))  # type: ignore[arg-type]
    return run


@pytest.mark.parametrize(
    ("succeeded", "failed", "undo", "status"),
    [
        ("abc", "", "none", SagaStatus.SUCCEEDED),
        ("ab", "c", None, SagaStatus.COMPENSATED),
        ("ab", "c", OSError("undo"), SagaStatus.COMPENSATION_FAILED),
        # a has a compensation, succeeded and was not undone: the policy skipped undoing it.
        ("ab", "c", "none", SagaStatus.FAILED),
        # b has no compensation: nothing was skipped.
        ("a", "b", None, SagaStatus.COMPENSATED),
        ("", "a", "none", SagaStatus.COMPENSATED),
    ],
)
async def test_status_from_the_records(
    succeeded: str, failed: str, undo: BaseException | None | str, status: SagaStatus
) -> None:
    result = _run(succeeded, failed, undo).result()
    assert result.status is status
    assert result.failed_steps == tuple(failed)
