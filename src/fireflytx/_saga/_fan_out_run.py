"""Running a fan-out step: one clone per item, each through the attempt kernel, undone clone by clone.

The engine sees a fan-out step as one step whose handler is an ``async`` attempt (``ship``) with no
retry of its own; that attempt lists the items and runs the clones (``ship#0``, ``ship#1``...),
at most ``max_parallel`` at a time. Each clone is an ordinary attempt chain of the run: it is timed,
retried with the step's backoff and jitter, told to listeners, checkpointed and replayed after a
crash by its own id, so a recovered run re-runs only the clones that had not finished. The step's
own attempt is never replayed as a whole (``Attempt.replayable``): it runs again, lists the items
again (a selector must therefore give the same list for the same input and earlier results) and its
clones answer from their checkpoints.

When a clone fails for good, no further clone starts, the running ones are awaited, the completed
ones are compensated in reverse order of completion, and the step fails with ``FanOutError``;
the engine then compensates the earlier steps as after any failure. When a later step fails, the
engine asks to compensate the fan-out step, and its completed clones are compensated the same way.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from .._core._attempt import Attempt, safe_text
from .._core._intercept import paced
from .._core._records import Clock
from .._values import convert_to
from ..errors import CompensationError, FanOutError
from ..listeners import Phase
from ._definition import StepSpec
from ._fan_out import clone_id
from ._results import StepOutcome
from ._step_outcomes import outcome_of

if TYPE_CHECKING:
    from ._run import SagaRun

__all__ = ["CloneRecord", "clone_outcomes", "compensate_fan_out", "fan_out_step"]


@dataclass(slots=True, eq=False)
class CloneRecord:
    """One clone of a fan-out step: its item, attempts, compensations and result."""

    unit_id: str
    item: Any
    attempts: list[Attempt] = field(default_factory=list)
    compensations: list[Attempt] = field(default_factory=list)
    succeeded: bool = False
    value: Any = None
    completed: float = 0.0
    """When it succeeded (``perf_counter``): clones are undone in reverse order of completion."""


# -- forward ---------------------------------------------------------------------------------------


def items_of(run: SagaRun, step: StepSpec) -> list[Any]:
    """The items ``step`` fans out over in this run.

    Raises:
        FanOutError: the selector raised, or gave something other than a list or tuple.
    """
    spec = step.fan_out
    assert spec is not None
    try:
        if spec.source is not None:
            items = run.results.get(spec.source)
        elif spec.takes_context:
            assert spec.selector is not None
            items = spec.selector(run.tx_input, run.context)
        else:
            assert spec.selector is not None
            items = spec.selector(run.tx_input)
    except Exception as exc:
        raise FanOutError(
            step.step_id, f"its fan_out ({spec.describe}) raised {type(exc).__name__}: {safe_text(exc)}"
        ) from exc
    if not isinstance(items, list | tuple):
        raise FanOutError(
            step.step_id,
            f"its fan_out ({spec.describe}) must give a list or tuple of items, got {type(items).__name__}",
        )
    return list(items)


async def fan_out_step(run: SagaRun, step: StepSpec) -> list[Any]:
    """The method of a fan-out step's attempt: run every clone; the list of their results.

    Raises:
        FanOutError: the items could not be listed, or a clone failed for good (its completed
            siblings have been compensated by then).
    """
    record = run.records[step.step_id]
    items = items_of(run, step)
    clones = [CloneRecord(clone_id(step.step_id, i), item) for i, item in enumerate(items)]
    record.clones = clones  # one assignment: a progress reader sees none or all of them
    spec = step.fan_out
    assert spec is not None
    failed = await _run_all(run, step, clones, spec.max_parallel or len(clones))
    if failed is None:
        return [clone.value for clone in clones]
    await _undo(run, step, clones)
    last = failed.attempts[-1]
    error = last.error
    assert error is not None
    reason = f"clone {failed.unit_id!r} failed: {type(error).__name__}: {safe_text(error)}"
    raise FanOutError(step.step_id, reason, failed.unit_id) from error


async def _run_all(
    run: SagaRun, step: StepSpec, clones: Sequence[CloneRecord], limit: int
) -> CloneRecord | None:
    """Run the clones, ``limit`` at a time, until all succeeded or one failed; the first that failed."""
    if not clones:
        return None
    pending = iter(clones)
    failures: list[CloneRecord] = []

    async def lane() -> None:
        for clone in pending:
            if failures:
                return
            await _run_clone(run, step, clone)
            if not clone.succeeded:
                failures.append(clone)

    lanes = asyncio.gather(*(lane() for _ in range(min(limit, len(clones)))))
    while not lanes.done():
        try:
            # The caller cancelling the run cancels this attempt's task too; the clones are stopped
            # by that same cancellation, and the ones that completed must still be undone here.
            await asyncio.shield(lanes)
        except asyncio.CancelledError:
            if not run.cancelled:
                lanes.cancel()
                raise
    lanes.result()
    if failures and run.replay is not None:
        # Recovery: a clone the crashed run had finished took effect even if this run stopped
        # before reaching it; replaying its checkpoint (no user code runs) lets it be undone too.
        # A clone the crashed run may have been running may have taken effect too: it runs again,
        # with its key, so that it can be undone as well. Clones start in index order; each ending
        # is checkpointed before its lane goes on, and a lane whose clone failed for good stops, so
        # at most one clone per other lane was in flight beyond those recorded.
        replay = run.replay
        keys = {c.unit_id: f"{Phase.STEP.value}/{c.unit_id}" for c in clones}
        recorded = {unit for unit, key in keys.items() if key in replay}
        failed_lanes = sum(1 for unit in recorded if replay[keys[unit]][1] is not None)
        may_have_started = len(recorded) + max(limit - failed_lanes, 0)
        for index, clone in enumerate(clones):
            if not clone.attempts and (clone.unit_id in recorded or index < may_have_started):
                await _run_clone(run, step, clone)
    return failures[0] if failures else None


async def _run_clone(run: SagaRun, step: StepSpec, clone: CloneRecord) -> None:
    """Attempt one clone until it succeeds, its retries are spent or the run stops going forward."""
    number = 0
    while True:
        number += 1
        done: asyncio.Future[None] = run.loop.create_future()
        attempt = run.new_attempt(
            Phase.STEP, clone.unit_id, number, partial(_call_clone, run, step, clone), step.is_async,
            step.timeout_ms, number > step.retry, run._resolve, done,
        )
        clone.attempts.append(attempt)
        run.launch(attempt)
        await done
        if attempt.error is None:
            clone.value = attempt.value
            clone.completed = attempt.ended
            clone.succeeded = True
            return
        if attempt.last or run.cancelled or run.disowned is not None:
            return
        await asyncio.sleep(_pause(run, step, attempt))


def _pause(run: SagaRun, step: StepSpec, attempt: Attempt) -> float:
    """The step's backoff before the next attempt of a clone, with its jitter, as the engine pauses."""
    pause = step.backoff_ms / 1000
    if step.jitter and step.jitter_factor:
        pause *= 1 + random.uniform(-step.jitter_factor, step.jitter_factor)
    if run.interceptors:
        pause = paced(run, attempt, pause)
    return max(pause, 0.0)


def _item_for(step: StepSpec, clone: CloneRecord) -> Any:
    """The clone's item, converted to the step's annotated item type (a model or dataclass)."""
    params = step.params
    return convert_to(params.value_annotation, clone.item) if params.converted else clone.item


def _call_clone(run: SagaRun, step: StepSpec, clone: CloneRecord) -> Any:
    item = _item_for(step, clone)
    return step.params.call(getattr(run.instance, step.method_name), item, run.context, run.results, item)


# -- undoing ---------------------------------------------------------------------------------------


async def compensate_fan_out(run: SagaRun, step: StepSpec, key: str) -> None:
    """Undo a completed fan-out step (a later step failed), the engine's request ``key``."""
    error: BaseException | None = None
    try:
        done: asyncio.Future[None] = run.loop.create_future()
        clones = run.records[step.step_id].clones
        attempt = run.new_attempt(
            Phase.COMPENSATION, step.step_id, 1, partial(_undo_or_raise, run, step, clones), True, 0, True,
            run._resolve, done,
        )
        attempt.replayable = False
        run.records[step.step_id].compensations.append(attempt)
        run.launch(attempt)
        await done
        error = attempt.error
    except BaseException as exc:  # noqa: BLE001 - the engine must always hear back
        error = exc
        raise
    finally:
        run.reply_at_once(key, error)


async def _undo_or_raise(run: SagaRun, step: StepSpec, clones: Sequence[CloneRecord]) -> None:
    failures = await _undo(run, step, clones)
    if failures:
        raise CompensationError(run.spec.name, run.correlation_id, failures)


async def _undo(run: SagaRun, step: StepSpec, clones: Sequence[CloneRecord]) -> dict[str, str]:
    """Compensate the completed clones, last completed first, one at a time; the failures by clone id."""
    comp = step.compensation
    if comp is None:
        return {}
    failures: dict[str, str] = {}
    for clone in sorted((c for c in clones if c.succeeded), key=lambda c: c.completed, reverse=True):
        last = await run.attempt_with_retries(
            Phase.COMPENSATION, clone.unit_id, comp, partial(_call_compensation, run, step, clone),
            comp.is_async, clone.compensations,
        )
        if last.error is not None:
            failures[clone.unit_id] = f"{type(last.error).__name__}: {safe_text(last.error)}"
    return failures


def _call_compensation(run: SagaRun, step: StepSpec, clone: CloneRecord) -> Any:
    comp = step.compensation
    assert comp is not None
    value = clone.value
    if comp.params.converted:
        value = convert_to(comp.params.value_annotation, value)
    item = _item_for(step, clone) if comp.params.takes_item else clone.item
    return comp.params.call(getattr(run.instance, comp.method_name), value, run.context, run.results, item)


# -- reading the records ---------------------------------------------------------------------------


def clone_outcomes(
    step: StepSpec, clones: Sequence[CloneRecord], clock: Clock, ended: float
) -> dict[str, StepOutcome]:
    """Each clone's outcome, by clone id, in item order."""
    has = step.compensation is not None
    return {
        clone.unit_id: outcome_of(
            clone.unit_id, clone, has_compensation=has, result=clone.value, clock=clock, ended=ended
        )
        for clone in clones
    }
