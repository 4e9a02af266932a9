"""A finished transaction read back from its store as the result its run returned.

The record keeps the run's final status and summary (``_events.final_result_of``), each checkpoint
the outcome of one step, compensation or TCC phase, and the fingerprint the units in definition
order. Together they give back a ``SagaResult`` or ``TccResult`` of the same types the engines
return, with results decoded to their own classes and errors as ``StepError`` (type and message;
the exception object and its traceback were never stored).

What was never stored cannot come back: a checkpoint records when its unit's final attempt
started and ended and how many attempts it took, not how each earlier attempt went. A rebuilt
outcome therefore spans its final attempt, and its attempt log holds that attempt only.
Checkpoints written before start times were recorded start and end at the same moment (0 ms).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .._outcomes import AttemptRecord, StepError
from .._saga._fan_out import split_clone_id
from .._saga._results import SagaResult, SagaStatus, StepOutcome, StepStatus
from .._tcc._results import (
    TccParticipantOutcome,
    TccParticipantStatus,
    TccPhaseOutcome,
    TccPhaseStatus,
    TccResult,
    TccStatus,
)
from ._codec import TypeRegistry, decode
from ._errors import PersistenceError, TransactionNotFinishedError
from ._fingerprint import unit_rows
from ._model import Checkpoint, ErrorInfo, StoredTransaction

__all__ = ["moment", "result_of", "step_error"]

_SAGA_PHASES = ("step", "compensation")
_TCC_PHASES = ("try", "confirm", "cancel")


def result_of(stored: StoredTransaction, registry: TypeRegistry | None = None) -> SagaResult | TccResult:
    """The result a finished transaction's run returned, rebuilt from its record and checkpoints.

    Steps or participants the fingerprint lists but no checkpoint mentions did not run
    (``NOT_RUN`` steps, ``SKIPPED`` participants). ``registry`` finds classes of stored values that
    are not importable by name (defined inside a function, say).

    Raises:
        TransactionNotFinishedError: the transaction is still running, or DEAD.
        UnrestorableValueError: a stored value's class cannot be found, or no longer fits.
        PersistenceError: the record is of an unknown kind, or its status is not one of its kind.
    """
    record = stored.record
    if not record.finished:
        raise TransactionNotFinishedError(record.correlation_id, record.status)
    if record.kind == "saga":
        return _saga_result(stored, registry)
    if record.kind == "tcc":
        return _tcc_result(stored, registry)
    raise PersistenceError(
        f"transaction {record.correlation_id!r} is of unknown kind {record.kind!r} (expected saga or tcc)"
    )


def moment(at: float) -> datetime | None:
    """A stored time (seconds since the epoch, 0 when unknown) as a UTC datetime."""
    return datetime.fromtimestamp(at, UTC) if at else None


def step_error(error: ErrorInfo | None) -> StepError | None:
    """A stored error as the results show errors: type and message, no exception object."""
    return None if error is None else StepError(error.type, error.message)


def _status(stored: StoredTransaction, kind: type[SagaStatus] | type[TccStatus]) -> Any:
    record = stored.record
    try:
        return kind(record.status)
    except ValueError:
        raise PersistenceError(
            f"transaction {record.correlation_id!r} is a {record.kind} with status {record.status!r}, "
            f"which is none of {[s.value for s in kind]}"
        ) from None


def _summary(stored: StoredTransaction) -> dict[str, Any]:
    result = stored.record.result
    return result if isinstance(result, dict) else {}


def _times(stored: StoredTransaction, summary: dict[str, Any]) -> dict[str, Any]:
    record = stored.record
    created = datetime.fromtimestamp(record.created_at, UTC)
    started = _iso(summary.get("started_at")) or created
    completed = _iso(summary.get("completed_at")) or datetime.fromtimestamp(record.updated_at, UTC)
    duration = summary.get("duration_ms")
    if record.recovery_attempts or not isinstance(duration, int | float):
        # A recovered run's summary counts from its recovery; the transaction, and the checkpoints
        # written before the crash, began when its record was created.
        started = min(started, created)
        duration = (completed - started).total_seconds() * 1000
    return {"started_at": started, "completed_at": completed, "duration_ms": float(duration)}


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _units(stored: StoredTransaction, phases: tuple[str, ...]) -> list[list[Any]]:
    """The fingerprint's units, then any unit only a checkpoint names (in the order it was written).

    A fan-out step's clones follow their step in item order, with its compensation flag.
    """
    rows = unit_rows(stored.record.fingerprint)
    fan_outs = {row[0]: row for row in rows if row[3:4] == ["fan-out"]}
    known = {row[0] for row in rows}
    clones: dict[str, list[tuple[int, list[Any]]]] = {}
    for checkpoint in stored.checkpoints:
        unit = checkpoint.unit_id
        if checkpoint.phase not in phases or unit in known:
            continue
        known.add(unit)
        split = split_clone_id(unit)
        parent = None if split is None else fan_outs.get(split[0])
        if parent is None or split is None:
            rows.append([unit])
        else:
            clones.setdefault(parent[0], []).append((split[1], [unit, [parent[0]], *parent[2:3]]))
    if not clones:
        return rows
    ordered: list[list[Any]] = []
    for row in rows:
        ordered.append(row)
        ordered.extend(clone for _, clone in sorted(clones.get(row[0], ()), key=lambda c: c[0]))
    return ordered


def _final_attempt(checkpoint: Checkpoint) -> tuple[AttemptRecord, ...]:
    at = moment(checkpoint.at)
    if at is None:
        return ()
    return (AttemptRecord(checkpoint.attempts, _started(checkpoint) or at, at, step_error(checkpoint.error)),)


def _duration_ms(checkpoint: Checkpoint) -> float:
    """How long the unit's final attempt ran (0 when the checkpoint does not say when it started)."""
    return max(0.0, (checkpoint.at - checkpoint.started) * 1000) if checkpoint.started else 0.0


def _started(checkpoint: Checkpoint | None) -> datetime | None:
    """When the unit's final attempt started (None when the checkpoint does not say)."""
    if checkpoint is None or not checkpoint.started:
        return None
    return moment(checkpoint.started)


def _decoded(checkpoint: Checkpoint | None, registry: TypeRegistry | None) -> Any:
    if checkpoint is None or checkpoint.error is not None:
        return None
    return decode(checkpoint.result, registry)


def _context(summary: dict[str, Any], registry: TypeRegistry | None) -> dict[str, Any]:
    context = decode(summary.get("context") or {}, registry)
    return context if isinstance(context, dict) else {}


# -- saga ----------------------------------------------------------------------------------------


def _saga_result(stored: StoredTransaction, registry: TypeRegistry | None) -> SagaResult:
    status: SagaStatus = _status(stored, SagaStatus)
    summary = _summary(stored)
    steps = {row[0]: _step_outcome(stored, row, registry) for row in _units(stored, _SAGA_PHASES)}
    failed = summary.get("failed_steps")
    if not isinstance(failed, list):
        failed = [c.unit_id for c in stored.checkpoints if c.phase == "step" and c.error is not None]
    compensated = summary.get("compensated_steps")
    if not isinstance(compensated, list):
        compensated = [
            c.unit_id for c in stored.checkpoints if c.phase == "compensation" and c.error is None
        ]
    values = {
        "saga_name": stored.record.name,
        "correlation_id": stored.record.correlation_id,
        "status": status,
        **_times(stored, summary),
        "failed_steps": tuple(str(s) for s in failed),
        "compensated_steps": tuple(str(s) for s in compensated),
        "context": _context(summary, registry),
    }
    return SagaResult.deferred(values, lambda: steps)


def _step_outcome(stored: StoredTransaction, row: list[Any], registry: TypeRegistry | None) -> StepOutcome:
    step_id = row[0]
    step = stored.checkpoint("step", step_id)
    comp = stored.checkpoint("compensation", step_id)
    has_compensation = (len(row) > 2 and bool(row[2])) or comp is not None
    if step is None:
        return StepOutcome(step_id=step_id, status=StepStatus.NOT_RUN, has_compensation=has_compensation)
    if step.error is not None:
        status = StepStatus.FAILED
    elif comp is None:
        status = StepStatus.SUCCEEDED
    else:
        status = StepStatus.COMPENSATED if comp.error is None else StepStatus.COMPENSATION_FAILED
    ended = moment(step.at)
    comp_ended = None if comp is None else moment(comp.at)
    result = _decoded(step, registry)
    undone = _decoded(comp, registry)
    if isinstance(undone, SagaResult):  # a sub-saga step: its child as the undo left it
        result = undone
    return StepOutcome(
        step_id=step_id,
        status=status,
        attempts=step.attempts,
        started_at=_started(step) or ended,
        completed_at=ended,
        duration_ms=_duration_ms(step),
        result=result,
        error=step_error(step.error),
        has_compensation=has_compensation,
        compensated=comp is not None and comp.error is None,
        compensation_attempts=0 if comp is None else comp.attempts,
        compensation_error=None if comp is None else step_error(comp.error),
        compensation_started_at=_started(comp) or comp_ended,
        compensation_completed_at=comp_ended,
        attempt_log=_final_attempt(step),
    )


# -- TCC -----------------------------------------------------------------------------------------


def _tcc_result(stored: StoredTransaction, registry: TypeRegistry | None) -> TccResult:
    status: TccStatus = _status(stored, TccStatus)
    summary = _summary(stored)
    participants = {
        row[0]: _participant_outcome(stored, row, position, registry)
        for position, row in enumerate(_units(stored, _TCC_PHASES), 1)
    }
    failed = summary.get("failed_participant", _failed(participants, status, stored.record.decision))
    values = {
        "tcc_name": stored.record.name,
        "correlation_id": stored.record.correlation_id,
        "status": status,
        **_times(stored, summary),
        "failed_participant": None if failed is None else str(failed),
        "context": _context(summary, registry),
    }
    return TccResult.deferred(values, lambda: participants)


def _failed(
    participants: dict[str, TccParticipantOutcome], status: TccStatus, decision: str | None
) -> str | None:
    """The participant the run reported as failed, for a record written without its summary."""
    tried_and_failed = [
        pid
        for pid, o in participants.items()
        if not o.optional and o.try_phase.status is TccPhaseStatus.FAILED
    ]
    if tried_and_failed or decision == "CANCEL":
        return tried_and_failed[0] if tried_and_failed else None
    behind = {
        TccStatus.CONFIRM_FAILED: (TccParticipantStatus.CONFIRM_FAILED, TccParticipantStatus.TRIED),
        TccStatus.CANCEL_FAILED: (TccParticipantStatus.CANCEL_FAILED,),
    }.get(status, ())
    return next((pid for pid, o in participants.items() if o.status in behind), None)


def _phase_outcome(checkpoint: Checkpoint | None) -> TccPhaseOutcome:
    if checkpoint is None:
        return TccPhaseOutcome()
    ended = moment(checkpoint.at)
    return TccPhaseOutcome(
        status=TccPhaseStatus.SUCCEEDED if checkpoint.error is None else TccPhaseStatus.FAILED,
        attempts=checkpoint.attempts,
        started_at=_started(checkpoint) or ended,
        completed_at=ended,
        duration_ms=_duration_ms(checkpoint),
        error=step_error(checkpoint.error),
        attempt_log=_final_attempt(checkpoint),
    )


def _participant_outcome(
    stored: StoredTransaction, row: list[Any], position: int, registry: TypeRegistry | None
) -> TccParticipantOutcome:
    pid = row[0]
    checkpoints = {phase: stored.checkpoint(phase, pid) for phase in _TCC_PHASES}
    phases = {phase: _phase_outcome(c) for phase, c in checkpoints.items()}
    if phases["try"].status is TccPhaseStatus.NOT_RUN:
        status = TccParticipantStatus.SKIPPED
    elif phases["cancel"].status is not TccPhaseStatus.NOT_RUN:
        ok = phases["cancel"].status is TccPhaseStatus.SUCCEEDED
        status = TccParticipantStatus.CANCELED if ok else TccParticipantStatus.CANCEL_FAILED
    elif phases["confirm"].status is not TccPhaseStatus.NOT_RUN:
        ok = phases["confirm"].status is TccPhaseStatus.SUCCEEDED
        status = TccParticipantStatus.CONFIRMED if ok else TccParticipantStatus.CONFIRM_FAILED
    else:
        status = TccParticipantStatus.TRIED
    ran = [p for p in phases.values() if p.completed_at is not None]
    order = row[1] if len(row) > 1 and isinstance(row[1], int) else position
    return TccParticipantOutcome(
        participant_id=pid,
        order=order,
        optional=len(row) > 2 and bool(row[2]),
        status=status,
        try_result=_decoded(checkpoints["try"], registry),
        try_phase=phases["try"],
        confirm_phase=phases["confirm"],
        cancel_phase=phases["cancel"],
        started_at=min((p.completed_at for p in ran if p.completed_at), default=None),
        completed_at=max((p.completed_at for p in ran if p.completed_at), default=None),
    )
