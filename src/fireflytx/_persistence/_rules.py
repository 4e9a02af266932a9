"""The store rules as pure functions of a record, shared by the stores that run them in Python.

The memory and SQLite stores read a record, apply one of these and write the outcome inside one
lock or SQL transaction; the Redis store runs the same rules as Lua scripts on the server.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ._errors import LeaseLostError, PersistenceError, TransactionEndedError
from ._model import DEAD, RUNNING, NewTransaction, TransactionRecord, is_finished

__all__ = ["check_writable", "claimed", "missing", "new_record", "released", "renewed", "with_status"]


def missing(correlation_id: str) -> PersistenceError:
    """The error for an operation on a transaction the store does not have."""
    return PersistenceError(
        f"no stored transaction {correlation_id!r}: it was never created, or was purged or expired"
    )


def new_record(new: NewTransaction, owner: str, lease_s: float, now: float) -> TransactionRecord:
    """The record ``create`` writes."""
    return TransactionRecord(
        correlation_id=new.correlation_id,
        kind=new.kind,
        name=new.name,
        status=RUNNING,
        input=new.input,
        headers=dict(new.headers),
        fingerprint=new.fingerprint,
        owner=owner,
        lease_expires_at=now + lease_s,
        recovery_attempts=0,
        created_at=now,
        updated_at=now,
    )


def check_writable(record: TransactionRecord | None, correlation_id: str, owner: str) -> TransactionRecord:
    """The record, if ``owner`` may write to it (append, decide).

    Raises:
        PersistenceError: no such record, or it is not running.
        LeaseLostError: another process owns it.
    """
    if record is None:
        raise TransactionEndedError(correlation_id, None)
    if record.status != RUNNING:
        raise TransactionEndedError(correlation_id, record.status)
    if record.owner != owner:
        raise LeaseLostError(correlation_id, owner, record.owner)
    return record


def with_status(
    record: TransactionRecord | None,
    correlation_id: str,
    status: str,
    owner: str | None,
    result: Any,
    now: float,
) -> TransactionRecord:
    """The record after ``set_status`` (see ``TransactionStore.set_status``)."""
    if record is None:
        raise missing(correlation_id)
    if owner is not None and record.owner != owner:
        raise LeaseLostError(correlation_id, owner, record.owner)
    if status == RUNNING:
        if record.status != DEAD:
            raise PersistenceError(
                f"transaction {correlation_id!r} is {record.status}: only a DEAD transaction can be "
                "set RUNNING again"
            )
        return replace(
            record, status=RUNNING, owner=None, lease_expires_at=0.0, recovery_attempts=0, updated_at=now
        )
    if is_finished(record.status):
        raise TransactionEndedError(correlation_id, record.status)
    if status == DEAD:
        return replace(record, status=DEAD, owner=None, lease_expires_at=0.0, updated_at=now)
    return replace(record, status=status, owner=None, lease_expires_at=0.0, result=result, updated_at=now)


def claimed(
    record: TransactionRecord | None, owner: str, lease_s: float, max_recoveries: int | None, now: float
) -> TransactionRecord | None:
    """The record after a successful ``claim``, or None when the claim fails."""
    if record is None or record.status != RUNNING:
        return None
    if record.owner not in (None, owner) and record.lease_expires_at > now:
        return None
    if record.owner == owner:
        return replace(record, lease_expires_at=now + lease_s, updated_at=now)
    attempts = record.recovery_attempts + 1
    if max_recoveries is not None and attempts > max_recoveries:
        return replace(
            record, status=DEAD, owner=None, lease_expires_at=0.0, recovery_attempts=attempts, updated_at=now
        )
    return replace(
        record, owner=owner, lease_expires_at=now + lease_s, recovery_attempts=attempts, updated_at=now
    )


def renewed(
    record: TransactionRecord | None, owner: str, lease_s: float, now: float
) -> TransactionRecord | None:
    """The record with its lease extended, or None when ``owner`` does not hold it."""
    if record is None or record.status != RUNNING or record.owner != owner:
        return None
    return replace(record, lease_expires_at=now + lease_s)


def released(record: TransactionRecord | None, owner: str, now: float) -> TransactionRecord | None:
    """The record with its lease given up, or None when ``owner`` does not hold it."""
    if record is None or record.status != RUNNING or record.owner != owner:
        return None
    return replace(record, owner=None, lease_expires_at=0.0, updated_at=now)
