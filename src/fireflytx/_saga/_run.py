"""One saga run: which attempts the engine asked for, and the result read from their records.

The engine decides what runs when (layers, retries, backoff, compensation order); the kernel
(``_core._run``) carries out each attempt. What is saga-specific lives here: a step's arguments
(the saga input, the context, other steps' results), the results published before the engine
hears of a success (it may start dependent steps inside that call), ``layer_concurrency``, and
compensations, which fireflytx retries and times itself under every policy.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from .._core._attempt import Attempt
from .._core._maker import positional_maker
from .._core._records import Clock
from .._core._run import RunBase, RunStart
from .._signature import BARE
from .._values import convert_to
from ..listeners import Phase, TransactionKind
from ._context import SagaContext
from ._definition import SagaSpec, StepSpec
from ._fan_out_run import CloneRecord, clone_outcomes, compensate_fan_out, fan_out_step
from ._results import SagaResult, SagaStatus, StepOutcome
from ._step_outcomes import UnitRecord, outcome_of, summarize

__all__ = ["SagaRun"]


class _StepRecord:
    """What happened to one step in a run.

    A plain slotted class: every run makes one per step, and list literals cost a fraction of a
    dataclass's ``default_factory`` calls.
    """

    __slots__ = ("attempts", "compensations", "succeeded", "clones")

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.compensations: list[Attempt] = []
        self.succeeded = False
        self.clones: Sequence[CloneRecord] = ()
        """A fan-out step's clones, in item order (see ``_fan_out_run``, which sets them once)."""

    def __repr__(self) -> str:
        return (
            f"_StepRecord(attempts={self.attempts!r}, compensations={self.compensations!r}, "
            f"succeeded={self.succeeded!r}, clones={self.clones!r})"
        )


class SagaRun(RunBase):
    """The Python side of one saga run."""

    __slots__ = ("instance", "results", "records", "_limit", "_active", "_waiting", "_gate", "children")

    kind: ClassVar[TransactionKind] = TransactionKind.SAGA

    def __init__(self, spec: SagaSpec, instance: Any, start: RunStart) -> None:
        super().__init__(spec.name, start)
        self.children: Any = None
        """The engine's ``Children``, which runs and undoes ``@sub_saga`` steps (set by the engine)."""
        self.spec = spec
        self.instance = instance
        self.results: dict[str, Any] = {}
        self.records: dict[str, _StepRecord] = {s.step_id: _StepRecord() for s in spec.steps}
        self.context = SagaContext(start.correlation_id, spec.name, start.headers, self.results, self.records)
        self._limit = spec.layer_concurrency
        self._active = 0
        self._waiting: deque[Attempt] = deque()
        self._gate = threading.Lock()

    # -- steps (the engine retries them) ---------------------------------------------------------

    def start_step(self, step: StepSpec, key: str) -> None:
        """Start the next attempt of ``step``, the engine's request ``key``."""
        record = self.records[step.step_id]
        number = len(record.attempts) + 1
        if step.fan_out is None:
            # The commonest methods (taking nothing, or only the input) are called bound, with no
            # frame of ours between: two Python calls fewer per attempt than through _call_step.
            call: Callable[[], Any] | None = None
            if step.child is None:
                params = step.params
                value = None
                if params.shape != BARE:  # a dictionary lookup fewer for the commonest steps
                    value = self.converted_inputs.get(step.step_id, self.tx_input)
                call = params.bound(self.instance, step.method_name, value)
            attempt = self.new_attempt(
                Phase.STEP, step.step_id, number, call or partial(self._call_step, step), step.is_async,
                step.timeout_ms, number > step.retry, self._step_done, key,
            )
        else:
            # One attempt runs every clone; the clones time and retry themselves (_fan_out_run).
            attempt = self.new_attempt(
                Phase.STEP, step.step_id, number, partial(fan_out_step, self, step), True, 0, True,
                self._step_done, key,
            )
            attempt.replayable = False
        record.attempts.append(attempt)
        if not self._limit:
            self.launch(attempt)
            return
        with self._gate:
            if self._active >= self._limit:
                self._waiting.append(attempt)
                return
            self._active += 1
        self.launch(attempt)

    def _call_step(self, step: StepSpec) -> Any:
        if step.child is not None:
            return self.children.run(self, step)
        value = self.converted_inputs.get(step.step_id, self.tx_input)
        return step.params.call(getattr(self.instance, step.method_name), value, self.context, self.results)

    def _step_done(self, attempt: Attempt) -> None:
        record = self.records[attempt.unit_id]
        key, attempt.sink = attempt.sink, None
        if attempt.error is None:
            # Publish before answering: the engine may start dependent steps as soon as it hears.
            self.results[attempt.unit_id] = attempt.value
            record.succeeded = True
        self.reply(key, attempt.error)
        if self._limit:
            self._release_slot()

    def _release_slot(self) -> None:
        with self._gate:
            if not self._waiting:
                self._active -= 1
                return
            nxt = self._waiting.popleft()
        self.launch(nxt)

    # -- compensations (fireflytx retries and times them) ----------------------------------------

    def start_compensation(self, step: StepSpec, key: str) -> None:
        """Undo ``step`` (it has a compensation) with its own retries, the engine's request ``key``.

        The task whose answer made the engine ask (the failed step's, or the compensation before)
        runs it next when it can (``take_over``); otherwise it gets a task of its own.
        """
        if step.fan_out is not None:
            self.spawn_follow_up(compensate_fan_out, self, step, key)
        elif not self.take_over((step, key)):
            self.spawn_follow_up(self._compensate, step, key)

    async def carry_on(self, work: tuple[StepSpec, str]) -> None:
        await self._compensate(*work)

    async def _compensate(self, step: StepSpec, key: str) -> None:
        """Undo ``step``, then the first compensation each answer starts, in this task: a loop, no nesting."""
        task = asyncio.current_task()
        while True:
            comp = step.compensation
            assert comp is not None
            error: BaseException | None = None
            try:
                last = await self.attempt_with_retries(
                    Phase.COMPENSATION, step.step_id, comp, self._compensation_call(step),
                    comp.is_async, self.records[step.step_id].compensations, task,
                )
                error = last.error
                if step.child is not None and isinstance(last.value, SagaResult):
                    self.results[step.step_id] = last.value  # the child after its undo (replayed too)
            except BaseException as exc:  # the engine must always hear back
                self.reply_at_once(key, exc)
                raise
            taken = self.take_next(task, self.reply_at_once, key, error)
            if taken is None:
                return
            if type(taken) is not tuple:  # a step: the engine does not ask for one while undoing
                self._own_task(taken)
                return
            step, key = taken

    def _compensation_call(self, step: StepSpec) -> Callable[[], Any]:
        """What each attempt of ``step``'s compensation calls: its method bound, when it can be.

        Bound only when the value needs no conversion (a conversion that fails must fail the
        attempt, not this call) and the step is no sub-saga.
        """
        comp = step.compensation
        assert comp is not None
        call = None
        if step.child is None and not comp.params.converted:
            call = comp.params.bound(self.instance, comp.method_name, self.results.get(step.step_id))
        return call or partial(self._call_compensation, step)

    def _call_compensation(self, step: StepSpec) -> Any:
        comp = step.compensation
        assert comp is not None
        if step.child is not None:
            return self.children.undo(self, step)
        value = self.results.get(step.step_id)
        if comp.params.converted:
            value = convert_to(comp.params.value_annotation, value)
        return comp.params.call(getattr(self.instance, comp.method_name), value, self.context, self.results)

    # -- result ----------------------------------------------------------------------------------

    def _units(self) -> Iterator[tuple[str, UnitRecord]]:
        """Every step's record, each followed by its clones' (a fan-out step's)."""
        for step in self.spec.steps:
            record = self.records[step.step_id]
            yield step.step_id, record
            for clone in record.clones:
                yield clone.unit_id, clone

    def _undo_skipped(self) -> bool:
        """A step that has a compensation succeeded and was not undone (the policy skipped undoing)."""
        records = self.records
        for step in self.spec.steps:
            if step.compensation is not None:
                record = records[step.step_id]
                # Standing.DONE (see standing_of), read without building the standing.
                if record.succeeded and not record.compensations:
                    return True
        return False

    def result(self) -> SagaResult:
        """The run's result; per-step outcomes are built when first read, from a snapshot."""
        ended = time.perf_counter()
        snapshot = _snapshot(self.spec, self.records, dict(self.results), self.clock, ended)
        for r in self.records.values():
            if not r.succeeded or r.compensations or r.clones:
                break
        else:  # every step succeeded and nothing was undone: what summarize would find, read at once
            return _saga_result(
                None, snapshot.outcomes, *self.result_facts(ended), SagaStatus.SUCCEEDED, (), ()
            )
        failed, compensated, compensation_failed = summarize(self._units(), ended)
        if not failed:
            status = SagaStatus.SUCCEEDED
        elif compensation_failed:
            status = SagaStatus.COMPENSATION_FAILED
        elif self._undo_skipped():
            status = SagaStatus.FAILED
        else:
            status = SagaStatus.COMPENSATED
        failed.sort()
        compensated.sort()
        return _saga_result(
            None, snapshot.outcomes, *self.result_facts(ended), status,
            tuple(step_id for _, step_id in failed), tuple(step_id for _, step_id in compensated),
        )


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What a result needs to build its step outcomes later: no instance, loop or workers."""

    spec: SagaSpec
    records: dict[str, _StepRecord]
    results: dict[str, Any]
    clock: Clock
    ended: float

    def outcomes(self) -> dict[str, StepOutcome]:
        outcomes = {}
        for step in self.spec.steps:
            outcomes[step.step_id] = self._outcome(step)
            clones = self.records[step.step_id].clones
            if clones:
                outcomes.update(clone_outcomes(step, clones, self.clock, self.ended))
        return outcomes

    def _outcome(self, step: StepSpec) -> StepOutcome:
        return outcome_of(
            step.step_id,
            self.records[step.step_id],
            has_compensation=step.compensation is not None,
            result=self.results.get(step.step_id),
            clock=self.clock,
            ended=self.ended,
        )


_snapshot = positional_maker(_Snapshot, "spec records results clock ended")
_saga_result = positional_maker(
    SagaResult,
    "_units _build saga_name correlation_id started_at completed_at duration_ms context status "
    "failed_steps compensated_steps",
)
