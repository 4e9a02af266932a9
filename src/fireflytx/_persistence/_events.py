"""What a journal writes for each checkpoint event: run events in, store records out.

Pure functions, no I/O, so the journal that calls a store with them stays a thin loop. A value that
cannot be stored raises ``UnstorableValueError`` naming the value and its type; raised from a
journal's ``record``, it fails that step (``JournalError`` with this as its cause).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..listeners import AttemptFinished, TransactionFinished, TransactionStarted
from ._codec import STORED_AS_IS, encode
from ._model import Checkpoint, ErrorInfo, NewTransaction

__all__ = ["checkpoint_of", "final_result_of", "idempotency_key", "new_transaction_of"]

_UNIT = {"step": "step", "compensation": "compensation of step", "try": "try of participant"}


def idempotency_key(correlation_id: str, phase: str, unit_id: str) -> str:
    """The key a step passes to external systems: the same for every attempt and every re-run after a crash.

    ``<correlation id>:<phase>:<unit id>``: one transaction's step and its compensation get different
    keys, and so do a TCC participant's try, confirm and cancel.
    """
    return f"{correlation_id}:{phase}:{unit_id}"


def new_transaction_of(event: TransactionStarted, fingerprint: str) -> NewTransaction:
    """The record a run's start writes (input encoded)."""
    return NewTransaction(
        correlation_id=event.correlation_id,
        kind=event.kind.value,
        name=event.name,
        input=encode(event.input, f"input of {event.kind.value} {event.name!r}"),
        headers=dict(event.headers),
        fingerprint=fingerprint,
    )


def checkpoint_of(event: AttemptFinished) -> Checkpoint:
    """The checkpoint of an attempt that ended its step, compensation or phase for good.

    Raises:
        ValueError: the attempt is not final (another attempt follows: nothing to record yet).
        UnstorableValueError: its result cannot be stored.
    """
    if not event.final:
        raise ValueError(f"attempt {event.attempt} of {event.unit_id!r} is not final: it is not a checkpoint")
    phase = event.phase.value
    result = event.result
    if event.error is not None:
        result = None
    elif type(result) not in STORED_AS_IS:
        result = encode(result, f"result of {_UNIT.get(phase, phase + ' of participant')} {event.unit_id!r}")
    return Checkpoint(
        phase=phase,
        unit_id=event.unit_id,
        attempts=event.attempt,
        idempotency_key=idempotency_key(event.correlation_id, phase, event.unit_id),
        result=result,
        error=None if event.error is None else ErrorInfo.of(event.error),
        at=(at := event.at.timestamp()),
        started=at - event.duration_ms / 1000,
    )


def final_result_of(event: TransactionFinished) -> dict[str, Any]:
    """The stored summary of a finished run: status, times, what failed or was undone, and the context.

    Per-step outcomes are not repeated here: the checkpoints hold them, and building them from a
    ``SagaResult`` (which defers that work until asked) would cost more than the whole write.
    """
    result = event.result
    summary: dict[str, Any] = {"status": event.status, "duration_ms": float(event.duration_ms)}
    for name in ("started_at", "completed_at"):
        value = getattr(result, name, None)
        summary[name] = value.isoformat() if isinstance(value, datetime) else None
    for name in ("failed_steps", "compensated_steps"):
        if hasattr(result, name):
            summary[name] = list(getattr(result, name))
    if hasattr(result, "failed_participant"):
        summary["failed_participant"] = result.failed_participant
    context = getattr(result, "context", None)
    summary["context"] = encode(context or {}, f"context of {event.kind.value} {event.name!r}")
    return summary
