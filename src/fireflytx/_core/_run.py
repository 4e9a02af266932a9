"""What every run does, SAGA or TCC: start attempts, time them, finish them once, tell listeners.

Threads: ``async def`` methods run as tasks on the run's event loop, plain ``def`` methods on the
engine's worker threads. A task that finishes an attempt drives the next attempt of its run that
this finish starts (the following step of a chain, one of a layer's steps, or the undoing after a
failure: a saga's first compensation, a TCC's cancelling), as a method awaiting them in turn would:
a chain of steps pays no task and no loop turn per step, and neither does a chain of compensations.

An attempt's timeout is measured from the moment it starts running (not from when it was asked
for, so a busy loop or busy workers do not eat into it), by a timer on the run's loop. When it
fires, a task is cancelled and the attempt is reported as timed out once the task has unwound (or
a few loop turns later if it ignores the cancellation), and that task drives no further attempt;
a worker thread is abandoned at once (Python cannot stop a thread: it runs on unseen and its
result is dropped).
Finishing takes a lock, because a worker, the loop and a timer can race to finish one attempt; the
first one wins.

Cancellation: when the caller cancels the run, running ``async def`` steps and tries are
cancelled, and new ones fail at once with ``TransactionCancelledError`` without calling user code;
running ``def`` steps and tries are abandoned like timed-out ones (their thread runs on unseen and
whatever they return is dropped, so waiting for a hung call can never block the cancellation);
compensations, confirms and cancels are never stopped. The engine then compensates (saga) or
cancels (TCC) what completed, as it would after any failure.

Interceptors (for testing; ``fireflytx.testing`` is their public face, ``_core._intercept`` their
contract): when an engine has any, each attempt consults them after it has started running (its
timer armed, ``AttemptStarted`` told) and before the user's method is called. One may raise (the
attempt fails with that error and user code is not called) or ask for a delay first (so an
injected delay counts against the attempt's own timeout). They may also shorten fireflytx's own
pauses between compensation and cancel retries. With none registered the kernel pays one test
of an empty tuple per attempt.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .._values import PLAIN, carriable_problem
from ..errors import StepTimeoutError, TransactionCancelledError, UnsupportedResultError
from ..listeners import (
    AttemptFinished,
    AttemptStarted,
    Phase,
    TransactionFinished,
    TransactionKind,
    TransactionStarted,
)
from ._attempt import FORWARD, Attempt
from ._intercept import Interceptor, after, before_async, before_sync, paced
from ._listeners import Listeners
from ._logctx import CURRENT
from ._maker import positional_maker
from ._records import Clock

if TYPE_CHECKING:
    from .._context_base import ContextBase

__all__ = ["Policy", "RunBase", "RunStart", "Workers"]

_log = logging.getLogger("fireflytx.run")


class Policy(Protocol):
    """What fireflytx's own retry loop reads of a compensation or cancel spec."""

    @property
    def retry(self) -> int: ...
    @property
    def backoff_ms(self) -> int: ...
    @property
    def timeout_ms(self) -> int: ...


class Workers(Protocol):
    """The engine's worker threads, as the kernel uses them."""

    def start(self, call: Callable[[], None]) -> Any: ...


@dataclass(frozen=True, slots=True)
class RunStart:
    """What an engine gives every run it starts, SAGA or TCC alike."""

    correlation_id: str
    headers: dict[str, str]
    tx_input: Any
    converted_inputs: dict[str, Any]
    """Per step or participant id: its own input (a TCC participant's part), converted when its
    parameter asks for a model or dataclass, or the converted transaction input. Ids absent take
    ``tx_input`` as it is."""
    loop: asyncio.AbstractEventLoop
    workers: Workers
    listeners: Listeners
    interceptors: tuple[Interceptor, ...] = ()
    """Testing hooks consulted before each user call; empty outside tests."""
    replay: Mapping[str, tuple[Any, BaseException | None]] | None = None
    """Recovery only: outcomes a crashed run recorded, by ``phase/unit id``; those units are not run again."""


class RunBase:
    """The kernel of one run; ``SagaRun`` and ``TccRun`` add what to attempt and how to report it.

    Slotted, as its kinds are: a run has more attributes than CPython keeps inline in an instance,
    and every step reads several of them.
    """

    __slots__ = (
        "name", "correlation_id", "headers", "tx_input", "converted_inputs", "loop", "workers", "listeners",
        "interceptors", "replay", "loop_thread", "clock", "cancelled", "process_exit", "attempts", "disowned",
        "_lock", "ended", "engine_error", "_waiter", "reply", "reply_at_once", "_taking", "_taken",
        "_follow_ups", "_plain_tasks", "spec", "context", "units_by_key",
    )

    kind: ClassVar[TransactionKind]
    spec: Any
    """The definition being run (``SagaSpec`` or ``TccSpec``)."""
    context: ContextBase
    """The context its methods are given (``SagaContext`` or ``TccContext``)."""

    def __init__(self, name: str, start: RunStart) -> None:
        self.name = name
        self.correlation_id = start.correlation_id
        self.headers = start.headers
        self.tx_input = start.tx_input
        self.converted_inputs = start.converted_inputs
        self.loop = start.loop
        self.workers = start.workers
        self.listeners = start.listeners
        self.interceptors = start.interceptors
        self.replay = start.replay
        self.loop_thread = threading.get_ident()
        self.clock = _new_clock(datetime.now(UTC), time.perf_counter())
        self.cancelled = False
        """The caller cancelled the run: forward attempts stop, undoing goes on."""
        self.process_exit: BaseException | None = None
        """The first KeyboardInterrupt or SystemExit a method raised; re-raised to the caller at the end."""
        self.attempts: list[Attempt] = []
        self.disowned: BaseException | None = None
        """A journal said another process now owns this transaction: nothing more of it runs here."""
        self._lock = threading.Lock()
        self.ended = False
        """The engine's run has ended (``engine_error`` then says how)."""
        self.engine_error: Any = None
        self._waiter: asyncio.Future[None] | None = None
        self.reply: Callable[[str, BaseException | None], None] = _unanswerable
        self.reply_at_once: Callable[[str, BaseException | None], None] = _unanswerable
        """Answers the engine's request ``key`` with an outcome (set by the bridge that starts the run)."""
        self.units_by_key: Mapping[str, Any] = _NO_UNITS
        """What the engine's requests name this run's steps or participants by (set by its bridge)."""
        self._taking = False
        """A task of this run is answering the engine and will run the first thing that answer starts."""
        self._taken: Any = None
        """What that task takes on next: an attempt (see ``launch``) or a kind's own follow-up
        (see ``take_over``)."""
        self._follow_ups: set[asyncio.Task[Any]] = set()
        """Tasks running this run's own follow-up work: held here, as asyncio holds tasks only weakly."""
        self._plain_tasks = start.loop.get_task_factory() is None
        """The loop makes tasks the standard way, so the kernel may make them itself (two calls fewer)."""

    # -- starting --------------------------------------------------------------------------------

    def new_attempt(
        self,
        phase: Phase,
        unit_id: str,
        number: int,
        method: Callable[[], Any],
        is_async: bool,
        timeout_ms: int,
        last: bool,
        on_done: Callable[[Attempt], None],
        sink: Any = None,
    ) -> Attempt:
        """Record an attempt; ``launch`` starts it."""
        attempt = Attempt(phase, unit_id, number, is_async, timeout_ms, last, method, on_done, sink)
        self.attempts.append(attempt)
        return attempt

    def launch(self, attempt: Attempt) -> None:
        """Start ``attempt`` on the loop or a worker; returns at once, from any thread."""
        if (self.disowned is not None or self.replay is not None) and self._settled_here(attempt):
            return  # the guard keeps a method call off the hot path of every ordinary attempt
        if self.cancelled and attempt.phase in FORWARD:
            self.finish(attempt, None, TransactionCancelledError(attempt.unit_id))
        elif attempt.is_async:
            if threading.get_ident() != self.loop_thread:
                self.on_loop(self._start_task, attempt)
            elif self._taking:
                # The task whose attempt is finishing right now (its answer made the engine ask for
                # this one) drives it next, in the same task step: a chain of steps pays no task and
                # no loop turn per step. Later ones started by the same answer (a layer's siblings)
                # get tasks.
                self._taking = False
                self._taken = attempt
            else:
                self._start_task(attempt)
        else:
            try:
                attempt.job = self.workers.start(functools.partial(self._run_sync, attempt))
            except Exception as exc:  # workers stopped: the attempt cannot run
                self.finish(attempt, None, exc)

    def _settled_here(self, attempt: Attempt) -> bool:
        """Finish ``attempt`` without calling user code when it must not run; whether it did.

        It must not when another process owns the run now (``disowned``), or when a crashed run
        recorded its outcome (recovery replays that).
        """
        if self.disowned is not None:
            self.finish(attempt, None, self.disowned)
            return True
        replay = self.replay
        if replay is None or not attempt.replayable:
            return False
        recorded = replay.get(f"{attempt.phase.value}/{attempt.unit_id}")
        if recorded is None:
            return False
        attempt.replayed = True
        attempt.started = time.perf_counter()
        self.finish(attempt, recorded[0], recorded[1])
        return True

    def _start_task(self, attempt: Attempt) -> None:
        """Give ``attempt`` a task of its own (on the loop thread, outside any answer: see ``launch``)."""
        if attempt.done:
            return
        # spawn(), inline: this is every task a run's steps get.
        if self._plain_tasks:
            attempt.task = asyncio.Task(self._drive(attempt, True), loop=self.loop)
        else:
            attempt.task = self.loop.create_task(self._drive(attempt, True))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task on the run's loop (call on its thread), made as ``loop.create_task`` would make it."""
        if self._plain_tasks:
            return asyncio.Task(coro, loop=self.loop)
        return self.loop.create_task(coro)

    def spawn_follow_up(self, make: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Run ``make(*args)`` in a task of its own that the run holds; from any thread.

        For a run's follow-up work: an undo, a TCC's cancelling, a journal's checkpoint. The coroutine
        is made on the loop, so none is left unawaited when the loop has closed.
        """
        self.on_loop(self._hold_follow_up, make, *args)

    def _hold_follow_up(self, make: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        task = self.spawn(make(*args))
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_ups.discard)

    def take_over(self, work: Any) -> bool:
        """Have the task answering the engine run ``work`` next, in that task; whether it will.

        Only the first follow-up of that answer, and only on the loop thread: the task runs it once
        the answer returns (``carry_on``), as a method awaiting it would.
        """
        if not self._taking or threading.get_ident() != self.loop_thread:
            return False
        self._taking = False
        self._taken = work
        return True

    def take_next(self, task: asyncio.Task[Any] | None, answer: Callable[..., Any], *args: Any) -> Any:
        """Call ``answer(*args)``, which answers the engine; what it started for ``task`` to run next.

        ``task`` is the task calling (its caller knows it, which spares a lookup per step). None when
        the answer started nothing, or when ``task`` is being cancelled: then the follow-up gets a
        task of its own, uncancelled. An attempt returned is already ``task``'s.
        """
        self._taking = True
        try:
            answer(*args)
        except BaseException:
            # Whatever the answer started before it failed still runs, in a task of its own.
            self._taking = False
            taken, self._taken = self._taken, None
            if taken is not None:
                self._own_task(taken)
            raise
        self._taking = False
        taken = self._taken
        if taken is None:
            return None
        self._taken = None
        if task is None or task.cancelling():
            self._own_task(taken)
            return None
        if type(taken) is Attempt:
            taken.task = task
        return taken

    def _own_task(self, work: Any) -> None:
        if type(work) is Attempt:
            self._start_task(work)
        else:
            self.spawn_follow_up(self.carry_on, work)

    async def carry_on(self, work: Any) -> None:
        """Run a follow-up that ``take_over`` accepted (a kind's own, such as a saga's compensation)."""
        raise NotImplementedError(f"{type(self).__name__} hands on no work of its own")

    async def _drive(self, attempt: Attempt, hand_on: bool = False) -> None:
        """Run an ``async def`` method and finish its attempt in the same task step.

        ``hand_on``: then drive, in this task, each attempt of the run that finishing the one before
        started first (see ``launch``). Those attempts share the task one after another, as the
        task of a method awaiting them in turn would: ``asyncio.current_task()`` is the task running
        the method, and context variables a step sets are seen by the step it leads to (as when each
        had a task copied from the context of the one that started it).
        """
        task = attempt.task  # this task, set when it was made (or by take_next for a taken attempt)
        while True:
            if attempt.done:
                return
            if self.cancelled and attempt.phase in FORWARD:
                # The run was cancelled before this attempt began (``cancel`` leaves a task that has
                # not started alone: cancelling it then would skip this coroutine and its finish).
                self.finish(attempt, None, TransactionCancelledError(attempt.unit_id))
                return
            attempt.started = time.perf_counter()
            if attempt.timeout_ms:
                attempt.timer = self.loop.call_later(attempt.timeout_ms / 1000, self._expire, attempt)
            if self.listeners.observers:  # journals record no starts: only observers hear of them
                self._tell_started(attempt)
            # This task's own context: no reset needed, and tasks the method starts inherit it.
            CURRENT.set((self.correlation_id, self.name, attempt.unit_id, attempt.phase))
            error: BaseException | None = None
            value: Any = None
            try:
                if self.interceptors:
                    await before_async(self, attempt)
                method = attempt.method
                assert method is not None
                value = await method()
            except asyncio.CancelledError as exc:
                # Ours (its timeout, or the caller cancelled the run) or the method's own.
                if attempt.timed_out:
                    error = StepTimeoutError(attempt.unit_id, attempt.timeout_ms)
                elif self.cancelled and attempt.phase in FORWARD:
                    error = TransactionCancelledError(attempt.unit_id)
                else:
                    error = exc
            except BaseException as exc:  # noqa: BLE001 - every error ends the attempt, none escapes the loop
                error = exc
            if not hand_on:
                self.finish(attempt, value, error)
                return
            # A task that was cancelled (that attempt's timeout, the run's cancellation, or somebody
            # else, such as the loop shutting down) drives nothing more: take_next then gives what
            # it would have driven a task of its own.
            taken = self.take_next(task, self.finish, attempt, value, error)
            if taken is None:
                return
            if type(taken) is not Attempt:
                await self.carry_on(taken)
                return
            attempt = taken

    def _run_sync(self, attempt: Attempt) -> None:
        """Run a ``def`` method on a worker thread."""
        attempt.started = time.perf_counter()
        if attempt.done:
            return
        if attempt.timeout_ms:
            self.on_loop(self._arm, attempt)
        if self.listeners.observers:  # journals record no starts: only observers hear of them
            self._tell_started(attempt)
        scope = CURRENT.set((self.correlation_id, self.name, attempt.unit_id, attempt.phase))
        try:
            if self.interceptors and not before_sync(self, attempt):
                return  # finished while an injected delay held it (its timeout): user code never runs
            method = attempt.method
            assert method is not None
            value = method()
        except BaseException as exc:  # noqa: BLE001 - every error ends the attempt
            self.finish(attempt, None, exc)
        else:
            self.finish(attempt, value, None)
        finally:
            CURRENT.reset(scope)
        # An error's traceback reaches this frame through its callee's f_back, and a frame still
        # running when the run ends cannot be cleared: empty it, so it keeps no run alive.
        del self, attempt, method

    def _arm(self, attempt: Attempt) -> None:
        """Start the timer of a worker attempt, counting from when the worker started it."""
        if not attempt.done:
            left = attempt.timeout_ms / 1000 - (time.perf_counter() - attempt.started)
            attempt.timer = self.loop.call_later(max(left, 0.0), self._expire, attempt)

    def _expire(self, attempt: Attempt) -> None:
        attempt.timer = None
        if attempt.done:
            return
        task, job = attempt.task, attempt.job
        if task is not None:
            # Cancel the task, and let it unwind (its own cleanup runs first) before the timeout is
            # reported; a task that ignores the cancellation is timed out all the same, a few loop
            # turns later.
            attempt.timed_out = True
            task.cancel()
            self.loop.call_soon(self._time_out, attempt, task, 3)
        elif self.finish(attempt, None, StepTimeoutError(attempt.unit_id, attempt.timeout_ms)):
            if job is not None:
                job.abandon()

    def _time_out(self, attempt: Attempt, task: asyncio.Task[Any], turns: int) -> None:
        if not attempt.done and not task.done() and turns > 0:
            self.loop.call_soon(self._time_out, attempt, task, turns - 1)
            return
        self.finish(attempt, None, StepTimeoutError(attempt.unit_id, attempt.timeout_ms))

    def stop_attempt(self, attempt: Attempt, error: BaseException) -> None:
        """Finish ``attempt`` with ``error`` now; from any thread. A worker running it is abandoned."""
        task, job = attempt.task, attempt.job
        if self.finish(attempt, None, error):
            if task is not None:
                self.on_loop(task.cancel)
            elif job is not None:
                job.abandon()

    def on_loop(self, callback: Callable[..., Any], *args: Any) -> None:
        """Call ``callback(*args)`` on the run's loop: now if this is its thread, else soon."""
        if threading.get_ident() == self.loop_thread:
            callback(*args)
            return
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nothing is left to tell
            pass

    # -- finishing -------------------------------------------------------------------------------

    def finish(self, attempt: Attempt, value: Any, error: BaseException | None) -> bool:
        """End ``attempt`` with a value or an error, unless it already ended; from any thread.

        Returns whether this call ended it. Cannot fail: every error it meets is recorded instead.
        """
        with self._lock:
            if attempt.done:
                return False
            attempt.done = True
        attempt.ended = time.perf_counter()
        timer = attempt.timer
        if timer is not None:
            self.on_loop(timer.cancel)
        if error is None:
            if type(value) not in PLAIN:  # most results are: no call needed for them
                problem = carriable_problem(value)
                if problem is not None:
                    value, error = None, UnsupportedResultError(attempt.unit_id, problem)
        else:
            tb = error.__traceback__
            if tb is not None and tb.tb_frame.f_code in _KERNEL_CODE:
                # Drop the kernel's own frame, where the error was caught: it is still running, so
                # it could not be cleared later (see release_frames), and it holds the run.
                error.__traceback__ = tb.tb_next
            if isinstance(error, KeyboardInterrupt | SystemExit) and self.process_exit is None:
                self.process_exit = error
        attempt.value = value
        attempt.error = error
        attempt.method = attempt.task = attempt.job = attempt.timer = None
        if self.interceptors and not attempt.replayed:
            try:
                after(self, attempt)
            except Exception:  # a testing hook must not strand the run
                _log.exception("an interceptor failed after %s attempt %d", attempt.unit_id, attempt.number)
        listeners = self.listeners
        if listeners.journals and attempt.final and not attempt.replayed:
            self.spawn_follow_up(self._journal_then_done, attempt, self._finished_event(attempt))
            return True
        if listeners.observers:
            listeners.emit(self._finished_event(attempt))
        self._done(attempt)
        return True

    async def _journal_then_done(self, attempt: Attempt, event: AttemptFinished) -> None:
        try:
            await self.listeners.checkpoint(event)
        except Exception as exc:  # the journal's failure fails what it did not record
            self.journal_failed(exc)
            if attempt.error is None:
                attempt.value, attempt.error = None, exc
        finally:
            self._done(attempt)

    def journal_failed(self, error: BaseException) -> None:
        """Note a journal's failure; some mean the run must go no further in this process.

        Another process took the transaction over, it has ended, or the store cannot record what
        would happen next: running anything more here (compensations included) would act on it a
        second time or leave effects nobody recorded. Every later attempt of this run ends at once
        with this error, without calling user code, and the run's end is not recorded: recovery
        finishes it from its checkpoints.
        """
        from .._persistence._errors import RUN_STOPPING

        if isinstance(error.__cause__, RUN_STOPPING) and self.disowned is None:
            self.disowned = error
            _log.error(
                "%s %r (%s): %s; this process stops running it", self.kind.value, self.name,
                self.correlation_id, error.__cause__,
            )

    def _done(self, attempt: Attempt) -> None:
        on_done, attempt.on_done = attempt.on_done, None
        if on_done is None:
            return
        try:
            on_done(attempt)
        except BaseException:  # noqa: BLE001 - logged: a broken hand-off must not kill a thread
            _log.exception(
                "fireflytx could not hand on the end of %s attempt %d", attempt.unit_id, attempt.number
            )

    # -- fireflytx's own retries (compensations, TCC cancels) --------------------------------------

    async def attempt_with_retries(
        self,
        phase: Phase,
        unit_id: str,
        policy: Policy,
        method: Callable[[], Any],
        is_async: bool,
        records: list[Attempt],
        task: asyncio.Task[Any] | None = None,
    ) -> Attempt:
        """Attempt ``method`` until it succeeds or its retries are spent; the last attempt.

        Pauses between attempts are ``policy.backoff_ms`` exactly (no jitter), for compensations and
        TCC cancels alike. ``task`` is the calling task, if the caller knows it (spares a lookup).
        """
        if is_async and task is None:
            task = asyncio.current_task()
        number = 0
        while True:
            number += 1
            done: asyncio.Future[None] | None = None if is_async else self.loop.create_future()
            attempt = self.new_attempt(
                phase, unit_id, number, method, is_async, policy.timeout_ms,
                number > policy.retry, self._resolve, done,
            )
            records.append(attempt)
            if (self.disowned is not None or self.replay is not None) and self._settled_here(attempt):
                pass
            elif is_async:
                # Run it inside this task: no task and no loop turn of its own. Its timeout cancels
                # this task, which _drive absorbs; the cancellation is taken back below.
                attempt.task = task
                await self._drive(attempt)
                if task is not None and attempt.timed_out and task.cancelling():
                    task.uncancel()
            else:
                self.launch(attempt)
            if done is None:
                # An attempt run here finished on this thread, and is done with unless a journal is
                # still recording its end (``_journal_then_done``, a task on this loop): only then is
                # there anything to wait for.
                if attempt.on_done is not None:
                    done = attempt.sink = self.loop.create_future()
                    await done
            else:
                await done
            if attempt.error is None or attempt.last:
                return attempt
            if policy.backoff_ms:
                pause = policy.backoff_ms / 1000
                if self.interceptors:
                    pause = paced(self, attempt, pause)
                await asyncio.sleep(pause)

    def _resolve(self, attempt: Attempt) -> None:
        sink, attempt.sink = attempt.sink, None
        if sink is not None:  # None: the attempt ran in its caller's task, which is not waiting
            self.on_loop(_set_done, sink)

    def result(self) -> Any:
        """The run's result, built from its records (``SagaResult`` or ``TccResult``)."""
        raise NotImplementedError

    def result_facts(self, ended: float) -> tuple[str, str, datetime, datetime, float, dict[str, Any]]:
        """The fields every result has: name, correlation id, start, end, duration (ms) and context.

        ``ended`` is the ``perf_counter`` reading the run ended at. A tuple, in that order, for the
        results' positional makers (``_core._maker``): a result is built once per run.
        """
        clock = self.clock
        context = self.context
        return (
            self.name,
            self.correlation_id,
            clock.wall_start,
            clock.wall(ended),
            clock.ms_since_start(ended),
            {"variables": context.get_all_data(), "headers": context.headers},
        )

    def release_frames(self) -> None:
        """Clear the local variables of the frames in the run's recorded errors (the run has ended).

        Those frames (the user's method, fireflytx's own) would keep the saga instance and this
        run alive for as long as a result holds the exception; code and line numbers, all a
        traceback prints, stay.
        """
        for attempt in self.attempts:
            error = attempt.error
            while error is not None:
                if error.__traceback__ is not None:
                    traceback.clear_frames(error.__traceback__)
                error = error.__cause__ or error.__context__

    # -- the engine's end of the run -------------------------------------------------------------

    def until_ended(self) -> asyncio.Future[None]:
        """A future resolved when the engine's run ends.

        A new one each call, so that a cancelled waiter (its caller was cancelled) can wait again
        for the undoing to finish.
        """
        waiter = self._waiter = self.loop.create_future()
        if self.ended:
            waiter.set_result(None)
        return waiter

    def engine_ended(self, error: Any) -> None:
        """The engine's run ended, with its own error or None; on the run's loop."""
        self.ended = True
        self.engine_error = error
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- cancellation ----------------------------------------------------------------------------

    def cancel(self) -> None:
        """The caller cancelled: stop forward attempts (on the loop); the engine undoes the rest."""
        self.cancelled = True
        for attempt in self.attempts:
            if attempt.done or attempt.phase not in FORWARD:
                continue
            if attempt.task is not None:
                if attempt.started:  # one not yet begun finishes itself, seeing the run cancelled
                    attempt.task.cancel()
            elif not attempt.is_async:
                # A thread cannot be stopped, and waiting for it could take forever: like a timed-out
                # attempt, it is abandoned and runs on unseen, its outcome dropped.
                self.stop_attempt(attempt, TransactionCancelledError(attempt.unit_id))

    # -- events ----------------------------------------------------------------------------------

    def started_event(self) -> TransactionStarted:
        """The event that opens this run."""
        return _transaction_started(
            self.kind, self.name, self.correlation_id, self.clock.wall_start, self.tx_input,
            dict(self.headers), self.spec,
        )

    def finished_event(self, result: Any) -> TransactionFinished:
        """The event that closes this run, ``result`` being its ``SagaResult`` or ``TccResult``."""
        return _transaction_finished(
            self.kind, self.name, self.correlation_id, result.completed_at, str(result.status),
            result.duration_ms, result,
        )

    def _tell_started(self, attempt: Attempt) -> None:
        self.listeners.emit(
            _attempt_started(
                self.kind, self.name, self.correlation_id, self.clock.wall(attempt.started),
                attempt.phase, attempt.unit_id, attempt.number,
            )
        )

    def _finished_event(self, attempt: Attempt) -> AttemptFinished:
        ended = attempt.ended
        return _attempt_finished(
            self.kind, self.name, self.correlation_id, self.clock.wall(ended), attempt.phase,
            attempt.unit_id, attempt.number, (ended - (attempt.started or ended)) * 1000,
            attempt.error, attempt.value, attempt.final, attempt.replayed,
        )


_NO_UNITS: Mapping[str, Any] = MappingProxyType({})
"""A run's units before its bridge starts it: one shared empty mapping, not a dict made per run."""
_new_clock = positional_maker(Clock, "wall_start clock_start")
_transaction_started = positional_maker(
    TransactionStarted, "kind name correlation_id at input headers definition"
)
_transaction_finished = positional_maker(
    TransactionFinished, "kind name correlation_id at status duration_ms result"
)
_attempt_started = positional_maker(AttemptStarted, "kind name correlation_id at phase unit_id attempt")
_attempt_finished = positional_maker(
    AttemptFinished,
    "kind name correlation_id at phase unit_id attempt duration_ms error result final replayed",
)


_KERNEL_CODE = frozenset({RunBase._drive.__code__, RunBase._run_sync.__code__})


def _unanswerable(key: str, error: BaseException | None) -> None:
    raise RuntimeError("this run was not started on an engine: nothing waits for its answers")


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
