"""What a journal writes for each checkpoint event: run events in, store records out.

Pure functions, no I/O, so the journal that calls a store with them stays a thin loop. A value that
cannot be stored raises ``UnstorableValueError`` naming the value and its type; raised from a
journal's ``record``, it fails that step (``JournalError`` with this as its cause).
"""

from __future__ import annotations

from typing import Any

from ..listeners import AttemptFinished, TransactionFinished, TransactionStarted
from ._codec import encode
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
    where = f"result of {_UNIT.get(phase, phase + ' of participant')} {event.unit_id!r}"
    return Checkpoint(
        phase=phase,
        unit_id=event.unit_id,
        attempts=event.attempt,
        idempotency_key=idempotency_key(event.correlation_id, phase, event.unit_id),
        result=None if event.error is not None else encode(event.result, where),
        error=None if event.error is None else ErrorInfo.of(event.error),
        at=event.at.timestamp(),
    )


def final_result_of(event: TransactionFinished) -> Any:
    """The stored summary of a finished run: its result's JSON view (the run view ``tx show`` draws)."""
    view = getattr(event.result, "to_json_dict", None)
    return view() if callable(view) else encode(event.result, f"result of {event.kind.value} {event.name!r}")
