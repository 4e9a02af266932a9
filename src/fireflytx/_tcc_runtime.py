"""One TCC run as Python sees it: calling the phase methods, and recording what each attempt did.

The engine decides what runs when (tries in order with their retries and backoff, then every
confirm with its retries, backoff and timeout); this module carries out each call it asks for and
keeps the truth about it. It also does what the engine does not, or cannot:

- it times try attempts itself, so that it learns about a try's final failure before the engine;
- after a try's last attempt fails, it runs the cancel phase itself before handing the failure on:
  that participant's cancel (with ``None``; the engine would never cancel it), then the cancel of
  every participant tried before it, in reverse order, each with its own retries, backoff and
  timeout. The engine's cancel phase cannot be used: it throws ``UnsupportedOperationException``
  (``Collections.reverse`` on an immutable list) as soon as two participants need cancelling;
- for an ``optional`` participant whose try failed it runs only that participant's cancel and
  hands the engine a success, so the run goes on.

Participants fireflytx has cancelled are "settled": the engine's later confirm or cancel calls for
them are answered without running anything.

Threads: ``async def`` methods run as tasks on the run's event loop, plain ``def`` methods on the
engine's worker threads; ``complete`` hands an outcome back to the engine and returns whether the
engine still wanted it (False once the engine has timed the attempt out).
"""

from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._results import StepError, fast_model
from ._tcc_context import TccContext
from ._tcc_definition import CANCEL, CONFIRM, PHASES, TRY, ParticipantSpec, PhaseSpec, TccSpec
from ._tcc_results import (
    TccParticipantOutcome,
    TccParticipantStatus,
    TccPhaseOutcome,
    TccPhaseStatus,
    TccResult,
    TccStatus,
)
from ._values import convert_to, is_carriable
from .errors import StepTimeoutError, UnsupportedResultError

_NOT_RUN = TccPhaseOutcome()


__all__ = ["PhaseAttempt", "TccRun"]

Complete = Callable[[BaseException | None], bool]


@dataclass(slots=True)
class PhaseAttempt:
    """One call of a phase method, from start to the outcome the engine accepted (or dropped)."""

    participant: ParticipantSpec
    phase: PhaseSpec
    complete: Complete | None
    started: float = 0.0
    ended: float = 0.0
    error: BaseException | None = None
    task: asyncio.Task[Any] | None = None
    timer: asyncio.TimerHandle | None = None
    job: Any = None
    timed_out: bool = False
    done: bool = False


@dataclass(slots=True)
class _Participant:
    spec: ParticipantSpec
    instance: Any
    attempts: dict[str, list[PhaseAttempt]] = field(default_factory=lambda: {p: [] for p in PHASES})
    try_result: Any = None
    tried: bool = False
    settled: bool = False


def _jittered(backoff_ms: int) -> float:
    """The engine's pause between attempts: constant with ±20 % jitter, in seconds."""
    return backoff_ms * random.uniform(0.8, 1.2) / 1000


class TccRun:
    """The Python side of one run: participant instances, context, try results and records."""

    def __init__(
        self,
        spec: TccSpec,
        tcc_input: Any,
        converted_inputs: dict[str, Any],
        correlation_id: str,
        headers: dict[str, str],
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
    ) -> None:
        self.spec = spec
        self.tcc_input = tcc_input
        self.converted_inputs = converted_inputs
        self.try_results: dict[str, Any] = {}
        self.context = TccContext(correlation_id, spec.name, headers, self.try_results)
        self.participants = {p.participant_id: _Participant(p, p.cls()) for p in spec.participants}
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.executor = executor
        self.wall_start = datetime.now(UTC)
        self.clock_start = time.perf_counter()
        self._lock = threading.Lock()
        self._background: set[Any] = set()
        self.cancelled_by_fireflytx = False

    # -- engine-driven calls -------------------------------------------------------------------

    def is_settled(self, participant_id: str) -> bool:
        """Whether fireflytx already cancelled this participant itself (the engine's calls are void)."""
        return self.participants[participant_id].settled

    def new_attempt(self, participant_id: str, phase: str, complete: Complete) -> PhaseAttempt:
        """Record a new attempt of a phase the engine asked for; ``launch`` starts it."""
        part = self.participants[participant_id]
        attempt = PhaseAttempt(part.spec, part.spec.phase(phase), complete)
        part.attempts[phase].append(attempt)
        return attempt

    def launch(self, attempt: PhaseAttempt) -> None:
        """Start an attempt; returns at once."""
        attempt.started = time.perf_counter()
        on_loop = threading.get_ident() == self.loop_thread
        if attempt.phase.is_async:
            if on_loop:
                self._start_task(attempt)
            else:
                self.loop.call_soon_threadsafe(self._start_task, attempt)
            return
        if attempt.phase.phase == TRY and attempt.phase.timeout_ms:
            if on_loop:
                self._arm(attempt)
            else:
                self.loop.call_soon_threadsafe(self._arm, attempt)
        attempt.job = self.executor.submit(self._run_sync, attempt)

    def _value(self, attempt: PhaseAttempt) -> Any:
        pid = attempt.participant.participant_id
        if attempt.phase.phase == TRY:
            return self.converted_inputs.get(pid, self.tcc_input)
        return self.participants[pid].try_result

    def _arguments(self, phase: PhaseSpec, value: Any) -> tuple[list[Any], dict[str, Any]]:
        if phase.phase != TRY and value is not None and phase.params.value_annotation is not None:
            value = convert_to(phase.params.value_annotation, value)
        return phase.params.arguments(value, self.context, {}, convert_to)

    def _method(self, attempt: PhaseAttempt) -> Callable[..., Any]:
        instance = self.participants[attempt.participant.participant_id].instance
        return getattr(instance, attempt.phase.method_name)  # type: ignore[no-any-return]

    def _arm(self, attempt: PhaseAttempt) -> None:
        # fireflytx times tries itself (the engine's limit is set out of reach): it must learn of a
        # try's last failure before the engine does, to cancel that participant first.
        if not attempt.done:
            attempt.timer = self.loop.call_later(attempt.phase.timeout_ms / 1000, self._expire, attempt)

    def _expire(self, attempt: PhaseAttempt) -> None:
        if attempt.done:
            return
        attempt.timed_out = True
        if attempt.task is not None:
            attempt.task.cancel()  # _drive reports the timeout once the method has unwound
        else:
            # A thread cannot be stopped: it runs on unseen and its late result is dropped.
            self._finish(attempt, None, None)
            if attempt.job is not None:
                attempt.job.abandon()

    def _start_task(self, attempt: PhaseAttempt) -> None:
        if attempt.timed_out:
            self._finish(attempt, None, None)
            return
        try:
            args, kwargs = self._arguments(attempt.phase, self._value(attempt))
            coro = self._method(attempt)(*args, **kwargs)
        except Exception as exc:
            self._finish(attempt, None, exc)
            return
        attempt.task = self.loop.create_task(self._drive(attempt, coro))
        if attempt.phase.phase == TRY and attempt.phase.timeout_ms:
            self._arm(attempt)

    async def _drive(self, attempt: PhaseAttempt, coro: Any) -> None:
        """Await the method and report in the same task step (a done callback would cost a loop turn)."""
        try:
            value = await coro
        except asyncio.CancelledError as exc:
            self._finish(attempt, None, None if attempt.timed_out else exc)
        except Exception as exc:
            self._finish(attempt, None, exc)
        else:
            self._finish(attempt, value, None)

    def _run_sync(self, attempt: PhaseAttempt) -> None:
        try:
            args, kwargs = self._arguments(attempt.phase, self._value(attempt))
            value = self._method(attempt)(*args, **kwargs)
        except BaseException as exc:
            self._finish(attempt, None, exc)
        else:
            self._finish(attempt, value, None)

    def _finish(self, attempt: PhaseAttempt, value: Any, error: BaseException | None) -> None:
        with self._lock:
            if attempt.done:
                return
            attempt.done = True
        if attempt.timer is not None and threading.get_ident() == self.loop_thread:
            attempt.timer.cancel()
        pid = attempt.participant.participant_id
        attempt.ended = attempt.ended or time.perf_counter()
        if attempt.timed_out:
            value, error = None, StepTimeoutError(pid, attempt.phase.timeout_ms)
        if attempt.phase.phase == TRY:
            if error is None and not is_carriable(value):
                error = UnsupportedResultError(pid, type(value).__name__)
            attempt.error = error
            self._try_finished(attempt, value)
            return
        attempt.error = error
        assert attempt.complete is not None
        if not attempt.complete(error) and error is None:
            # The engine had already given up on this attempt (timeout): its late success is void.
            attempt.error = StepTimeoutError(pid, attempt.phase.timeout_ms)

    def _try_finished(self, attempt: PhaseAttempt, value: Any) -> None:
        part = self.participants[attempt.participant.participant_id]
        assert attempt.complete is not None
        if attempt.error is None:
            # Publish before completing: the engine starts the next participant's try inside complete().
            self.try_results[part.spec.participant_id] = value
            part.try_result = value
            part.tried = True
            attempt.complete(None)
        elif len(part.attempts[TRY]) <= attempt.phase.retry:
            attempt.complete(attempt.error)  # the engine retries it
        else:
            self._spawn(self._after_last_try_failed(part, attempt))

    async def _after_last_try_failed(self, part: _Participant, attempt: PhaseAttempt) -> None:
        try:
            await self._own_cancel(part)
            if not part.spec.optional:
                # Reverse order: everyone tried before it; an optional one that left is settled already.
                for earlier in reversed(self.participants.values()):
                    if earlier.tried and not earlier.settled:
                        await self._own_cancel(earlier)
                self.cancelled_by_fireflytx = True
        finally:
            assert attempt.complete is not None
            # An optional participant leaves the transaction: the engine sees a success and goes on.
            attempt.complete(None if part.spec.optional else attempt.error)

    def cancel_attempt(self, attempt: PhaseAttempt) -> None:
        """The engine timed ``attempt`` out: cancel it if it is a task; a thread runs on unseen."""
        attempt.timed_out = True
        if not attempt.done:
            attempt.error = StepTimeoutError(attempt.participant.participant_id, attempt.phase.timeout_ms)
            attempt.ended = time.perf_counter()
        task, job = attempt.task, attempt.job
        if task is not None:
            self.loop.call_soon_threadsafe(task.cancel)
        if job is not None:
            job.abandon()

    # -- the cancel fireflytx runs itself --------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if threading.get_ident() == self.loop_thread:
            task: Any = self.loop.create_task(coro)
        else:
            task = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _own_cancel(self, part: _Participant) -> None:
        """Cancel one participant with its try result (``None`` if its try failed) and its cancel policy."""
        part.settled = True
        phase = part.spec.cancel_phase
        for number in range(phase.retry + 1):
            attempt = PhaseAttempt(part.spec, phase, None, started=time.perf_counter())
            part.attempts[CANCEL].append(attempt)
            try:
                await self._call_once(part, phase)
            except Exception as exc:
                attempt.error = exc
            attempt.ended = time.perf_counter()
            attempt.done = True
            if attempt.error is None:
                return
            if number < phase.retry:
                await asyncio.sleep(_jittered(phase.backoff_ms))

    async def _call_once(self, part: _Participant, phase: PhaseSpec) -> None:
        args, kwargs = self._arguments(phase, part.try_result)
        method = getattr(part.instance, phase.method_name)
        if phase.is_async:
            awaitable: Any = method(*args, **kwargs)
        else:
            awaitable = self.loop.run_in_executor(self.executor, functools.partial(method, *args, **kwargs))
        if not phase.timeout_ms:
            await awaitable
            return
        try:
            async with asyncio.timeout(phase.timeout_ms / 1000) as limit:
                await awaitable
        except TimeoutError:
            if limit.expired():
                raise StepTimeoutError(part.spec.participant_id, phase.timeout_ms) from None
            raise

    # -- result --------------------------------------------------------------------------------

    def _wall(self, clock: float) -> datetime:
        return self.wall_start + timedelta(seconds=clock - self.clock_start)

    def _phase_outcome(self, attempts: list[PhaseAttempt], now: float) -> TccPhaseOutcome:
        if not attempts:
            return _NOT_RUN
        last = attempts[-1]
        succeeded = last.done and last.error is None
        ended = last.ended or now
        # Built from values this module produced itself: validation would only cost time.
        return fast_model(
            TccPhaseOutcome,
            dict(
                status=TccPhaseStatus.SUCCEEDED if succeeded else TccPhaseStatus.FAILED,
                attempts=len(attempts),
                duration_ms=(ended - attempts[0].started) * 1000,
                started_at=self._wall(attempts[0].started),
                completed_at=self._wall(ended),
                error=None if succeeded or last.error is None else StepError.from_exception(last.error),
                attempt_log=tuple(
                    (
                        self._wall(a.started),
                        self._wall(a.ended or now),
                        None if a.error is None else str(a.error),
                    )
                    for a in attempts
                ),
            ),
        )

    def _outcome(self, part: _Participant, now: float) -> TccParticipantOutcome:
        phases = {p: self._phase_outcome(part.attempts[p], now) for p in PHASES}
        if phases[TRY].status is TccPhaseStatus.NOT_RUN:
            status = TccParticipantStatus.SKIPPED
        elif phases[CANCEL].status is not TccPhaseStatus.NOT_RUN:
            ok = phases[CANCEL].status is TccPhaseStatus.SUCCEEDED
            status = TccParticipantStatus.CANCELED if ok else TccParticipantStatus.CANCEL_FAILED
        elif phases[CONFIRM].status is not TccPhaseStatus.NOT_RUN:
            ok = phases[CONFIRM].status is TccPhaseStatus.SUCCEEDED
            status = TccParticipantStatus.CONFIRMED if ok else TccParticipantStatus.CONFIRM_FAILED
        else:
            status = TccParticipantStatus.TRIED
        ran = [o for o in phases.values() if o.started_at is not None]
        return fast_model(
            TccParticipantOutcome,
            dict(
                participant_id=part.spec.participant_id,
                order=part.spec.order,
                optional=part.spec.optional,
                status=status,
                try_result=part.try_result,
                try_phase=phases[TRY],
                confirm_phase=phases[CONFIRM],
                cancel_phase=phases[CANCEL],
                started_at=min((o.started_at for o in ran if o.started_at), default=None),
                completed_at=max((o.completed_at for o in ran if o.completed_at), default=None),
            ),
        )

    def result(self) -> TccResult:
        """Build the run's result from the records."""
        ended = time.perf_counter()
        outcomes = {pid: self._outcome(part, ended) for pid, part in self.participants.items()}
        failed_tries = [
            o.participant_id
            for o in outcomes.values()
            if not o.optional and o.try_phase.status is TccPhaseStatus.FAILED
        ]

        def having(*statuses: TccParticipantStatus) -> list[str]:
            return [pid for pid, o in outcomes.items() if o.status in statuses]

        # A participant left TRIED was neither confirmed nor cancelled: never report that as clean.
        unconfirmed = having(TccParticipantStatus.CONFIRM_FAILED, TccParticipantStatus.TRIED)
        uncancelled = having(TccParticipantStatus.CANCEL_FAILED)
        failed: str | None
        if failed_tries:
            failed = failed_tries[0]
            unsettled = having(TccParticipantStatus.CANCEL_FAILED, TccParticipantStatus.TRIED)
            status = TccStatus.CANCEL_FAILED if unsettled else TccStatus.CANCELED
        elif unconfirmed:
            status, failed = TccStatus.CONFIRM_FAILED, unconfirmed[0]
        elif uncancelled:  # an optional participant that left could not be cancelled
            status, failed = TccStatus.CANCEL_FAILED, uncancelled[0]
        else:
            status, failed = TccStatus.CONFIRMED, None
        return fast_model(
            TccResult,
            dict(
                tcc_name=self.spec.name,
                correlation_id=self.context.correlation_id,
                status=status,
                started_at=self.wall_start,
                completed_at=self._wall(ended),
                duration_ms=(ended - self.clock_start) * 1000,
                participants=outcomes,
                failed_participant=failed,
                context={"variables": self.context.get_all_data(), "headers": self.context.headers},
            ),
        )
