"""One TCC run: which attempts the engine asked for, what fireflytx runs itself, and the result.

The engine runs the tries one after another in ``order`` with their retries, decides, and runs
every confirm with its retries; the kernel (``_core._run``) carries out and times each attempt.
What the engine does not, or cannot, do is done here:

- after a try's last attempt fails, fireflytx runs the cancel phase itself before handing the
  failure on: that participant's cancel (with ``None``; the engine would never cancel it), then
  the cancel of every participant tried before it, in reverse order, each with its own retries,
  backoff and timeout. The engine's cancel phase cannot be used: it throws
  ``UnsupportedOperationException`` (``Collections.reverse`` on an immutable list) as soon as two
  participants need cancelling;
- for an ``optional`` participant whose try failed it runs only that participant's cancel and
  hands the engine a success, so the run goes on;
- it takes the decision visible to listeners: ``CONFIRM`` when the last try ended well (before the
  engine hears of it, since the engine starts the confirms inside that call), ``CANCEL`` before
  the cancel phase. A journal that refuses ``CONFIRM`` turns it into ``CANCEL``.

Participants fireflytx has cancelled are "settled": the engine's later confirm or cancel calls for
them are answered without running anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

from .._core._attempt import Attempt
from .._core._maker import positional_maker
from .._core._records import Clock, attempt_log, error_of, span
from .._core._run import RunBase, RunStart
from .._values import convert_to
from ..errors import JournalError
from ..listeners import Decision, DecisionMade, Phase, TransactionKind
from ._context import TccContext
from ._definition import CANCEL, CONFIRM, PHASES, TRY, ParticipantSpec, PhaseSpec, TccSpec
from ._results import (
    TccParticipantOutcome,
    TccParticipantStatus,
    TccPhaseOutcome,
    TccPhaseStatus,
    TccResult,
    TccStatus,
)

__all__ = ["TccRun"]

_PHASE = {TRY: Phase.TRY, CONFIRM: Phase.CONFIRM, CANCEL: Phase.CANCEL}
_NOT_RUN = TccPhaseOutcome()


@dataclass(slots=True)
class _Participant:
    spec: ParticipantSpec
    instance: Any
    attempts: dict[str, list[Attempt]] = field(default_factory=lambda: {p: [] for p in PHASES})
    try_result: Any = None
    tried: bool = False
    settled: bool = False


class TccRun(RunBase):
    """The Python side of one TCC run."""

    __slots__ = ("try_results", "participants", "_last_id", "decision")

    kind: ClassVar[TransactionKind] = TransactionKind.TCC

    def __init__(self, spec: TccSpec, start: RunStart) -> None:
        super().__init__(spec.name, start)
        self.spec = spec
        self.try_results: dict[str, Any] = {}
        # One instance per class: a nested participant's own, or the @tcc class shared by its
        # method-style participants.
        instances: dict[type, Any] = {}
        self.participants: dict[str, _Participant] = {}
        for p in spec.participants:
            if p.cls not in instances:
                instances[p.cls] = p.cls()
            self.participants[p.participant_id] = _Participant(p, instances[p.cls])
        self.context = TccContext(
            start.correlation_id, spec.name, start.headers, self.try_results, self.participants
        )
        self._last_id = spec.participants[-1].participant_id
        self.decision: Decision | None = None

    # -- engine-driven calls ---------------------------------------------------------------------

    def start_phase(self, participant_id: str, phase: str, key: str) -> None:
        """Start the next attempt of a phase the engine asked for (its request ``key``)."""
        part = self.participants[participant_id]
        if phase != TRY and part.settled:
            self.reply_at_once(key, None)  # fireflytx cancelled it already: the engine's call is void
            return
        if phase == CANCEL:
            # Only after an engine failure outside any try: cancel like fireflytx always does.
            self._spawn(self._engine_cancel, part, key)
            return
        spec = part.spec.try_phase if phase == TRY else part.spec.confirm_phase  # cancels returned above
        records = part.attempts[phase]
        number = len(records) + 1
        attempt = self.new_attempt(
            _PHASE[phase], participant_id, number, self._phase_call(part, spec), spec.is_async,
            spec.timeout_ms, number > spec.retry,
            self._try_done if phase == TRY else self._confirm_done, key,
        )
        records.append(attempt)
        self.launch(attempt)

    def _phase_call(self, part: _Participant, phase: PhaseSpec) -> Callable[[], Any]:
        """What an attempt of ``phase`` calls: its method bound, unless its value needs converting."""
        value, converts = self._phase_value(part, phase)
        call = None if converts else phase.params.bound(part.instance, phase.method_name, value)
        return call or partial(self._call, part, phase)

    def _phase_value(self, part: _Participant, phase: PhaseSpec) -> tuple[Any, bool]:
        """The value ``phase``'s method receives, and whether it is converted before each call.

        A try gets the input (converted once, when the run started); a confirm or cancel gets the
        try's result, converted when its method asks for a model and there is one.
        """
        if phase.phase == TRY:
            return self.converted_inputs.get(part.spec.participant_id, self.tx_input), False
        value = part.try_result
        return value, value is not None and phase.params.converted

    def _call(self, part: _Participant, phase: PhaseSpec) -> Any:
        value, converts = self._phase_value(part, phase)
        if converts:
            value = convert_to(phase.params.value_annotation, value)
        return phase.params.call(getattr(part.instance, phase.method_name), value, self.context, {})

    def _confirm_done(self, attempt: Attempt) -> None:
        key, attempt.sink = attempt.sink, None
        self.reply(key, attempt.error)

    def _try_done(self, attempt: Attempt) -> None:
        part = self.participants[attempt.unit_id]
        key, attempt.sink = attempt.sink, None
        if attempt.error is None:
            # Publish before answering: the engine starts the next try (or the confirms) as soon as it hears.
            self.try_results[attempt.unit_id] = attempt.value
            part.try_result = attempt.value
            part.tried = True
            if attempt.unit_id == self._last_id:
                self._decide_confirm(key)
            else:
                self.reply(key, None)
        elif not attempt.last:
            self.reply(key, attempt.error)  # the engine retries it
        else:
            self._spawn(self._after_last_try_failed, part, attempt.error, key)

    def _decide_confirm(self, key: str) -> None:
        if not self.listeners.journals:
            self.decision = Decision.CONFIRM
            if self.listeners.active:
                self.listeners.emit(self._decision_event(Decision.CONFIRM))
            self.reply(key, None)
            return
        self._spawn(self._journal_confirm, key)

    async def _journal_confirm(self, key: str) -> None:
        try:
            await self.listeners.checkpoint(self._decision_event(Decision.CONFIRM))
        except JournalError as exc:
            self.journal_failed(exc)
            # Nothing is confirmed yet: cancelling everyone tried is still possible, and safe.
            await self._cancel_all()
            self.reply(key, exc)
            return
        self.decision = Decision.CONFIRM
        self.reply(key, None)

    async def _after_last_try_failed(self, part: _Participant, error: BaseException | None, key: str) -> None:
        try:
            if part.spec.optional:
                await self._own_cancel(part)
            else:
                await self._cancel_all(first=part)
        finally:
            # An optional participant leaves the transaction: the engine sees a success and goes on.
            if part.spec.optional and part.spec.participant_id == self._last_id:
                self._decide_confirm(key)
            else:
                self.reply_at_once(key, None if part.spec.optional else error)

    async def _cancel_all(self, first: _Participant | None = None) -> None:
        """Decide CANCEL, cancel ``first`` (whose try failed), then everyone tried, in reverse order."""
        self.decision = Decision.CANCEL
        if self.listeners.active:
            try:
                await self.listeners.checkpoint(self._decision_event(Decision.CANCEL))
            except JournalError as exc:
                self.journal_failed(exc)  # cancelling goes on regardless: it is the safe way out
        if first is not None:
            await self._own_cancel(first)
        for earlier in reversed(self.participants.values()):
            if earlier.tried and not earlier.settled:
                await self._own_cancel(earlier)

    async def _engine_cancel(self, part: _Participant, key: str) -> None:
        error: BaseException | None = None
        try:
            if not part.settled:
                last = await self._own_cancel(part)
                error = None if last is None else last.error
        finally:
            self.reply_at_once(key, error)

    async def _own_cancel(self, part: _Participant) -> Attempt | None:
        """Cancel one participant with its try result (``None`` if its try failed) and its cancel policy."""
        if part.settled:
            return None
        part.settled = True
        phase = part.spec.cancel_phase
        return await self.attempt_with_retries(
            Phase.CANCEL, part.spec.participant_id, phase, self._phase_call(part, phase),
            phase.is_async, part.attempts[CANCEL],
        )

    def _spawn(self, make: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        """Run ``make(*args)`` in the answering task if it can (``take_over``), else in a task of its own."""
        work = partial(make, *args)
        if not self.take_over(work):
            self.spawn_follow_up(work)

    async def carry_on(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        await work()

    def _decision_event(self, decision: Decision) -> DecisionMade:
        return DecisionMade(
            kind=self.kind, name=self.name, correlation_id=self.correlation_id,
            at=self.clock.wall(time.perf_counter()), decision=decision,
        )

    # -- result ----------------------------------------------------------------------------------

    def result(self) -> TccResult:
        """The run's result; per-participant outcomes are built when first read, from a snapshot."""
        ended = time.perf_counter()
        parts = self.participants
        if self.decision is Decision.CONFIRM and all(map(_confirmed_cleanly, parts.values())):
            # Every try and then every confirm ended well and nothing was cancelled: what _judge
            # would find, known at once.
            statuses = dict.fromkeys(parts, TccParticipantStatus.CONFIRMED)
            status, failed = TccStatus.CONFIRMED, None
        else:
            statuses = {pid: _participant_status(part.attempts) for pid, part in parts.items()}
            status, failed = self._judge(statuses)
        # The lists are copied: an attempt still unwinding after the end must not change this result.
        records = tuple(
            (part.spec, {p: list(a) for p, a in part.attempts.items()}, part.try_result, statuses[pid])
            for pid, part in parts.items()
        )
        outcomes = _snapshot(records, self.clock, ended).outcomes
        return _tcc_result(None, outcomes, *self.result_facts(ended), status, failed)

    def _judge(self, statuses: dict[str, TccParticipantStatus]) -> tuple[TccStatus, str | None]:
        """The run's status and the participant to blame, from what became of each participant."""
        failed_tries = [
            pid
            for pid, part in self.participants.items()
            if not part.spec.optional and _phase_status(part.attempts[TRY]) is TccPhaseStatus.FAILED
        ]

        def having(*wanted: TccParticipantStatus) -> list[str]:
            return [pid for pid, status in statuses.items() if status in wanted]

        # A participant left TRIED was neither confirmed nor cancelled: never report that as clean.
        unconfirmed = having(TccParticipantStatus.CONFIRM_FAILED, TccParticipantStatus.TRIED)
        uncancelled = having(TccParticipantStatus.CANCEL_FAILED)
        if failed_tries or self.decision is Decision.CANCEL:
            unsettled = having(TccParticipantStatus.CANCEL_FAILED, TccParticipantStatus.TRIED)
            status = TccStatus.CANCEL_FAILED if unsettled else TccStatus.CANCELED
            return status, failed_tries[0] if failed_tries else None
        if unconfirmed:
            return TccStatus.CONFIRM_FAILED, unconfirmed[0]
        if uncancelled:  # an optional participant that left could not be cancelled
            return TccStatus.CANCEL_FAILED, uncancelled[0]
        return TccStatus.CONFIRMED, None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What a result needs to build its participant outcomes later: no instance, loop or workers."""

    records: tuple[tuple[ParticipantSpec, dict[str, list[Attempt]], Any, TccParticipantStatus], ...]
    clock: Clock
    ended: float

    def outcomes(self) -> dict[str, TccParticipantOutcome]:
        return {
            spec.participant_id: _outcome(spec, attempts, try_result, status, self.clock, self.ended)
            for spec, attempts, try_result, status in self.records
        }


def _confirmed_cleanly(part: _Participant) -> bool:
    """The participant's try and then its confirm succeeded, and it was never cancelled."""
    attempts = part.attempts
    tries, confirms = attempts[TRY], attempts[CONFIRM]
    return bool(
        tries and confirms and not attempts[CANCEL] and tries[-1].succeeded and confirms[-1].succeeded
    )


def _phase_status(attempts: list[Attempt]) -> TccPhaseStatus:
    if not attempts:
        return TccPhaseStatus.NOT_RUN
    return TccPhaseStatus.SUCCEEDED if attempts[-1].succeeded else TccPhaseStatus.FAILED


def _participant_status(attempts: dict[str, list[Attempt]]) -> TccParticipantStatus:
    """What became of a participant, from its attempts: the phase that ran last says."""
    if not attempts[TRY]:
        return TccParticipantStatus.SKIPPED
    if attempts[CANCEL]:
        ok = _phase_status(attempts[CANCEL]) is TccPhaseStatus.SUCCEEDED
        return TccParticipantStatus.CANCELED if ok else TccParticipantStatus.CANCEL_FAILED
    if attempts[CONFIRM]:
        ok = _phase_status(attempts[CONFIRM]) is TccPhaseStatus.SUCCEEDED
        return TccParticipantStatus.CONFIRMED if ok else TccParticipantStatus.CONFIRM_FAILED
    return TccParticipantStatus.TRIED


def _phase_outcome(attempts: list[Attempt], clock: Clock, now: float) -> TccPhaseOutcome:
    if not attempts:
        return _NOT_RUN
    status = _phase_status(attempts)
    started, completed, duration = span(attempts, clock, now)
    return TccPhaseOutcome(
        status=status,
        attempts=len(attempts),
        duration_ms=duration,
        started_at=started,
        completed_at=completed,
        error=None if status is TccPhaseStatus.SUCCEEDED else error_of(attempts[-1]),
        attempt_log=attempt_log(attempts, clock, now),
    )


def _outcome(
    spec: ParticipantSpec,
    attempts: dict[str, list[Attempt]],
    try_result: Any,
    status: TccParticipantStatus,
    clock: Clock,
    now: float,
) -> TccParticipantOutcome:
    phases = {p: _phase_outcome(attempts[p], clock, now) for p in PHASES}
    ran = [o for o in phases.values() if o.started_at is not None]
    return TccParticipantOutcome(
        participant_id=spec.participant_id,
        order=spec.order,
        optional=spec.optional,
        status=status,
        try_result=try_result,
        try_phase=phases[TRY],
        confirm_phase=phases[CONFIRM],
        cancel_phase=phases[CANCEL],
        started_at=min((o.started_at for o in ran if o.started_at), default=None),
        completed_at=max((o.completed_at for o in ran if o.completed_at), default=None),
    )


_snapshot = positional_maker(_Snapshot, "records clock ended")
_tcc_result = positional_maker(
    TccResult,
    "_units _build tcc_name correlation_id started_at completed_at duration_ms context status "
    "failed_participant",
)
