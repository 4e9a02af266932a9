"""One saga run as Python sees it: calling the steps, and recording what each attempt did.

The engine decides what runs when (layers, retries, backoff, timeouts, compensation order); this
module carries out each call it asks for and keeps the truth about it. Threads: ``async def``
callables run as tasks on the run's event loop; plain ``def`` callables run on the engine's worker
threads. ``complete`` hands an outcome back to the engine and returns whether the engine still
wanted it (False once the engine has timed the attempt out).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._context import SagaContext
from ._definition import CompensationSpec, SagaSpec, StepSpec
from ._results import SagaResult, SagaStatus, StepError, StepOutcome, StepStatus, fast_model
from ._values import convert_to, is_carriable
from .errors import StepTimeoutError, UnsupportedResultError

__all__ = ["Attempt", "SagaRun"]

Complete = Callable[[BaseException | None], bool]


def _released(_: BaseException | None) -> bool:
    """Stands in for an attempt's completion once used, so its Java future can be collected."""
    return False


_NOT_RUN: dict[str, Any] = {
    "status": StepStatus.NOT_RUN,
    "attempts": 0,
    "duration_ms": 0.0,
    "started_at": None,
    "completed_at": None,
    "result": None,
    "error": None,
    "compensated": False,
    "compensation_attempts": 0,
    "compensation_error": None,
    "compensation_started_at": None,
    "compensation_completed_at": None,
    "attempt_log": (),
}


@dataclass(slots=True)
class Attempt:
    """One call of a step, from start to the outcome the engine accepted (or dropped)."""

    step: StepSpec
    complete: Complete
    started: float = 0.0
    ended: float = 0.0
    error: BaseException | None = None
    task: asyncio.Task[Any] | None = None
    job: Any = None
    timed_out: bool = False
    done: bool = False


@dataclass(slots=True)
class _StepRecord:
    attempts: list[Attempt] = field(default_factory=list)
    succeeded: bool = False
    comp_started: float = 0.0
    comp_ended: float = 0.0
    comp_attempts: int = 0
    comp_error: BaseException | None = None
    compensated: bool = False


class SagaRun:
    """The Python side of one run: its instance, context, results and records."""

    def __init__(
        self,
        spec: SagaSpec,
        instance: Any,
        saga_input: Any,
        converted_inputs: dict[str, Any],
        correlation_id: str,
        headers: dict[str, str],
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
    ) -> None:
        self.spec = spec
        self.instance = instance
        self.saga_input = saga_input
        self.converted_inputs = converted_inputs
        self.results: dict[str, Any] = {}
        self.context = SagaContext(correlation_id, spec.name, headers, self.results)
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.executor = executor
        self.records: dict[str, _StepRecord] = {s.step_id: _StepRecord() for s in spec.steps}
        self.wall_start = datetime.now(UTC)
        self.clock_start = time.perf_counter()
        self._limit = spec.layer_concurrency
        self._active = 0
        self._waiting: deque[Attempt] = deque()
        self._gate = threading.Lock()

    # -- steps ---------------------------------------------------------------------------------

    def new_attempt(self, step: StepSpec, complete: Complete) -> Attempt:
        """Record a new attempt of ``step``; ``launch`` starts it."""
        attempt = Attempt(step, complete)
        self.records[step.step_id].attempts.append(attempt)
        return attempt

    def launch(self, attempt: Attempt) -> None:
        """Start an attempt now, or queue it behind the saga's ``layer_concurrency``; returns at once."""
        if self._limit:
            with self._gate:
                if self._active >= self._limit:
                    self._waiting.append(attempt)
                    return
                self._active += 1
        self._launch(attempt)

    def _launch(self, attempt: Attempt) -> None:
        attempt.started = time.perf_counter()
        step = attempt.step
        if step.is_async:
            if threading.get_ident() == self.loop_thread:
                self._start_task(attempt)
            else:
                self.loop.call_soon_threadsafe(self._start_task, attempt)
        else:
            attempt.job = self.executor.submit(self._run_sync, attempt)

    def _arguments(self, plan: Any, value: Any) -> tuple[list[Any], dict[str, Any]]:
        return plan.arguments(value, self.context, self.results, convert_to)  # type: ignore[no-any-return]

    def _step_value(self, step: StepSpec) -> Any:
        return self.converted_inputs.get(step.step_id, self.saga_input)

    def _start_task(self, attempt: Attempt) -> None:
        if attempt.timed_out:
            self._finish(attempt, None, StepTimeoutError(attempt.step.step_id, attempt.step.timeout_ms))
            return
        try:
            args, kwargs = self._arguments(attempt.step.params, self._step_value(attempt.step))
            coro = getattr(self.instance, attempt.step.method_name)(*args, **kwargs)
        except Exception as exc:
            self._finish(attempt, None, exc)
            return
        attempt.task = self.loop.create_task(self._drive(attempt, coro))

    async def _drive(self, attempt: Attempt, coro: Any) -> None:
        """Await the step and report in the same task step (a done-callback would cost a loop turn)."""
        try:
            value = await coro
        except asyncio.CancelledError:
            self._finish(attempt, None, StepTimeoutError(attempt.step.step_id, attempt.step.timeout_ms))
        except Exception as exc:
            self._finish(attempt, None, exc)
        else:
            self._finish(attempt, value, None)

    def _run_sync(self, attempt: Attempt) -> None:
        try:
            args, kwargs = self._arguments(attempt.step.params, self._step_value(attempt.step))
            value = getattr(self.instance, attempt.step.method_name)(*args, **kwargs)
        except BaseException as exc:
            self._finish(attempt, None, exc)
        else:
            self._finish(attempt, value, None)

    def _finish(self, attempt: Attempt, value: Any, error: BaseException | None) -> None:
        if attempt.done:
            return
        attempt.done = True
        if not attempt.timed_out:
            attempt.ended = time.perf_counter()
        step_id = attempt.step.step_id
        if error is None and not is_carriable(value):
            error = UnsupportedResultError(step_id, type(value).__name__)
        if attempt.timed_out:
            error = StepTimeoutError(step_id, attempt.step.timeout_ms)
        attempt.error = error
        record = self.records[step_id]
        if error is None:
            # Publish before completing: the engine may start dependent steps inside complete().
            self.results[step_id] = value
            record.succeeded = True
        complete, attempt.complete, attempt.task = attempt.complete, _released, None
        if not complete(error) and error is None:
            # The engine had already given up on this attempt (timeout): its late result is void.
            record.succeeded = False
            self.results.pop(step_id, None)
            attempt.error = StepTimeoutError(step_id, attempt.step.timeout_ms)
        self._release_slot()

    def _release_slot(self) -> None:
        if not self._limit:
            return
        with self._gate:
            if self._waiting:
                nxt = self._waiting.popleft()
            else:
                self._active -= 1
                return
        self._launch(nxt)

    def cancel_attempt(self, attempt: Attempt) -> None:
        """The engine timed ``attempt`` out: cancel it if it is a task; a thread runs on unseen."""
        attempt.timed_out = True
        if not attempt.done:
            # A thread cannot be stopped: the attempt is over for the engine now, whatever it does later.
            attempt.error = StepTimeoutError(attempt.step.step_id, attempt.step.timeout_ms)
            attempt.ended = time.perf_counter()
        task, job = attempt.task, attempt.job
        if task is not None:
            self.loop.call_soon_threadsafe(task.cancel)
        if job is not None:
            job.abandon()

    # -- compensations -------------------------------------------------------------------------

    def start_compensation(self, step: StepSpec, complete: Complete) -> None:
        """Run the compensation of ``step`` (it has one) with its own retries; returns at once."""
        comp = step.compensation
        assert comp is not None
        coro = self._compensate(step, comp, complete)
        if threading.get_ident() == self.loop_thread:
            self.loop.create_task(coro)
        else:
            asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def _compensate(self, step: StepSpec, comp: CompensationSpec, complete: Complete) -> None:
        record = self.records[step.step_id]
        record.comp_started = time.perf_counter()
        error: BaseException | None = None
        for attempt in range(comp.retry + 1):
            record.comp_attempts = attempt + 1
            try:
                await self._compensate_once(step, comp)
            except Exception as exc:
                error = (
                    StepTimeoutError(step.step_id, comp.timeout_ms) if isinstance(exc, TimeoutError) else exc
                )
            else:
                error = None
                break
            if attempt < comp.retry:
                await asyncio.sleep(comp.backoff_ms / 1000)
        record.comp_ended = time.perf_counter()
        record.comp_error = error
        record.compensated = error is None
        complete(error)

    async def _compensate_once(self, step: StepSpec, comp: CompensationSpec) -> None:
        value = self.results.get(step.step_id)
        if comp.params.value_annotation is not None:
            value = convert_to(comp.params.value_annotation, value)
        args, kwargs = self._arguments(comp.params, value)
        method = getattr(self.instance, comp.method_name)
        if comp.is_async:
            awaitable: Any = method(*args, **kwargs)
        else:
            awaitable = self.loop.run_in_executor(self.executor, lambda: method(*args, **kwargs))
        if comp.timeout_ms:
            await asyncio.wait_for(awaitable, comp.timeout_ms / 1000)
        else:
            await awaitable  # wait_for without a timeout would still cost an extra task

    # -- result --------------------------------------------------------------------------------

    def _wall(self, clock: float) -> datetime:
        return self.wall_start + timedelta(seconds=clock - self.clock_start)

    def _outcome(self, step: StepSpec) -> StepOutcome:
        record = self.records[step.step_id]
        attempts = record.attempts
        if not attempts:
            return fast_model(
                StepOutcome,
                {**_NOT_RUN, "step_id": step.step_id, "has_compensation": step.compensation is not None},
            )
        last = attempts[-1]
        if record.succeeded:
            status = StepStatus.SUCCEEDED
            if record.comp_error is not None:
                status = StepStatus.COMPENSATION_FAILED
            elif record.compensated:
                status = StepStatus.COMPENSATED
        else:
            status = StepStatus.FAILED
        ended = last.ended or time.perf_counter()
        return fast_model(
            StepOutcome,
            dict(
                step_id=step.step_id,
                status=status,
                attempts=len(attempts),
                duration_ms=(ended - attempts[0].started) * 1000,
                started_at=self._wall(attempts[0].started),
                completed_at=self._wall(ended),
                result=self.results.get(step.step_id),
                error=None
                if record.succeeded or last.error is None
                else StepError.from_exception(last.error),
                has_compensation=step.compensation is not None,
                compensated=record.compensated,
                compensation_attempts=record.comp_attempts,
                compensation_error=None
                if record.comp_error is None
                else StepError.from_exception(record.comp_error),
                compensation_started_at=self._wall(record.comp_started) if record.comp_started else None,
                compensation_completed_at=self._wall(record.comp_ended) if record.comp_ended else None,
                attempt_log=tuple(
                    (
                        self._wall(a.started),
                        self._wall(a.ended or ended),
                        None if a.error is None else str(a.error),
                    )
                    for a in attempts
                ),
            ),
        )

    def result(self) -> SagaResult:
        """The run's result; per-step outcomes are built when first read."""
        ended = time.perf_counter()
        failed: list[tuple[float, str]] = []
        compensated: list[tuple[float, str]] = []
        compensation_failed = skipped = False
        for step in self.spec.steps:
            record = self.records[step.step_id]
            if not record.attempts:
                continue
            if not record.succeeded:
                failed.append((record.attempts[-1].ended or ended, step.step_id))
            elif record.comp_error is not None:
                compensation_failed = True
            elif record.compensated:
                compensated.append((record.comp_ended, step.step_id))
            elif step.compensation is not None:
                skipped = True
        if not failed:
            status = SagaStatus.SUCCEEDED
        elif compensation_failed:
            status = SagaStatus.COMPENSATION_FAILED
        elif skipped:
            status = SagaStatus.FAILED
        else:
            status = SagaStatus.COMPENSATED
        failed.sort()
        compensated.sort()
        values = {
            "saga_name": self.spec.name,
            "correlation_id": self.context.correlation_id,
            "status": status,
            "started_at": self.wall_start,
            "completed_at": self._wall(ended),
            "duration_ms": (ended - self.clock_start) * 1000,
            "failed_steps": tuple(step_id for _, step_id in failed),
            "compensated_steps": tuple(step_id for _, step_id in compensated),
            "context": {"variables": self.context.get_all_data(), "headers": self.context.headers},
        }
        return SagaResult.deferred(values, self._outcomes)

    def _outcomes(self) -> dict[str, StepOutcome]:
        return {s.step_id: self._outcome(s) for s in self.spec.steps}
