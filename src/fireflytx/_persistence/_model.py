"""The stored form of a transaction: one record plus its checkpoints, all plain JSON.

The record says what the transaction is (kind, name, input, headers, the definition's
fingerprint), where it stands (status, TCC decision) and who runs it (owner and lease expiry,
recovery attempts). A checkpoint is one step, compensation or TCC phase that ended for good. Values
(input, results) are already encoded by ``_codec`` when they get here, so every store keeps only
JSON and never imports user classes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

__all__ = [
    "compact_json",
    "DEAD",
    "RUNNING",
    "Checkpoint",
    "ErrorInfo",
    "NewTransaction",
    "StoredTransaction",
    "TransactionRecord",
    "checkpoint_key",
    "is_finished",
]

RUNNING = "RUNNING"
"""Started and not finished: recoverable once its owner's lease has expired."""
DEAD = "DEAD"
"""Recovery crashed too often; only a manual retry (``set_status(..., RUNNING)``) runs it again."""


def is_finished(status: str) -> bool:
    """Whether a status is final (``SUCCEEDED``, ``COMPENSATED``, ``CONFIRMED``...): not running, not dead."""
    return status not in (RUNNING, DEAD)


def checkpoint_key(phase: str, unit_id: str) -> str:
    """The identity of a checkpoint within its transaction: one per phase and unit."""
    return f"{phase}/{unit_id}"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A failure as stored: the exception's type name and message (the object itself is not kept)."""

    type: str
    message: str

    @classmethod
    def of(cls, error: BaseException) -> ErrorInfo:
        """The stored form of an exception."""
        return cls(type(error).__name__, str(error))


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """One step, compensation or TCC phase that ended for good (succeeded, or failed after retries).

    ``result`` is the encoded value (see ``_codec``) and ``seq`` the order in which the store
    accepted checkpoints of this transaction (assigned by the store, 0 before). ``at`` is when the
    unit ended and ``started`` when its final attempt started (seconds since the epoch; 0 when not
    known, as in checkpoints written before it was recorded).
    """

    phase: str
    unit_id: str
    attempts: int
    idempotency_key: str
    result: Any = None
    error: ErrorInfo | None = None
    at: float = 0.0
    seq: int = 0
    started: float = 0.0

    @property
    def key(self) -> str:
        """The checkpoint's identity in its transaction (``phase/unit_id``)."""
        return checkpoint_key(self.phase, self.unit_id)

    def with_seq(self, seq: int) -> Checkpoint:
        """The same checkpoint numbered by the store."""
        return replace(self, seq=seq)

    def to_json(self, *, seq: int | None = None, at: float | None = None) -> str:
        """The checkpoint as one JSON document, numbered ``seq`` and timed ``at`` when given."""
        error = None if self.error is None else [self.error.type, self.error.message]
        return compact_json(
            {
                "phase": self.phase,
                "unit_id": self.unit_id,
                "attempts": self.attempts,
                "key": self.idempotency_key,
                "result": self.result,
                "error": error,
                "at": self.at if at is None else at,
                "seq": self.seq if seq is None else seq,
                "started": self.started,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes, *, seq: int | None = None, at: float | None = None) -> Checkpoint:
        """Read a checkpoint from ``to_json``; ``seq`` replaces its number, ``at`` fills in a missing time."""
        d = json.loads(text)
        error = None if d["error"] is None else ErrorInfo(d["error"][0], d["error"][1])
        return cls(
            phase=d["phase"],
            unit_id=d["unit_id"],
            attempts=d["attempts"],
            idempotency_key=d["key"],
            result=d["result"],
            error=error,
            at=d["at"] or at or 0.0,
            seq=d["seq"] if seq is None else seq,
            started=d.get("started") or 0.0,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTransaction:
    """What a run writes when it starts: everything needed to run it again from the beginning."""

    correlation_id: str
    kind: str
    name: str
    input: Any
    headers: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""


_READ: Any = object()


def compact_json(value: Any) -> str:
    """Plain JSON values (already encoded: finite floats, str keys) as compact JSON text.

    pydantic-core's encoder: every checkpoint of every durable run passes here, and it costs a
    fraction of ``json.dumps``. It cannot write a lone surrogate (valid in a Python str, not in
    UTF-8); such text goes through ``json.dumps``, which escapes it.
    """
    try:
        return to_json(value).decode()
    except PydanticSerializationError:
        return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionRecord:
    """A transaction as stored, without its checkpoints. Times are seconds since the epoch (UTC).

    ``owner`` and ``lease_expires_at`` say which process runs it and until when, unless it renews;
    ``recovery_attempts`` counts the times another process took it over after a lost lease.
    ``result`` is the encoded final result summary written at the end, ``decision`` a TCC's global
    decision once taken.
    """

    correlation_id: str
    kind: str
    name: str
    status: str
    input: Any
    headers: dict[str, str]
    fingerprint: str
    owner: str | None
    lease_expires_at: float
    recovery_attempts: int
    created_at: float
    updated_at: float
    decision: str | None = None
    result: Any = None

    @property
    def finished(self) -> bool:
        """Whether the transaction reached a final status."""
        return is_finished(self.status)

    @classmethod
    def from_fields(cls, f: dict[str, str], *, result: Any = _READ) -> TransactionRecord:
        """Read a record kept as flat string fields (a Redis hash): ``static`` plus the changing ones.

        ``result``: the decoded ``result`` field when the caller already holds it (it just wrote it).
        """
        kind, name, input_, headers, fingerprint = json.loads(f["static"])
        return cls(
            correlation_id=f["id"],
            kind=kind,
            name=name,
            status=f["status"],
            input=input_,
            headers=headers,
            fingerprint=fingerprint,
            owner=f["owner"] or None,
            lease_expires_at=float(f["lease"]),
            recovery_attempts=int(f["recoveries"]),
            created_at=float(f["created"]),
            updated_at=float(f["updated"]),
            decision=f["decision"] or None,
            result=json.loads(f["result"]) if result is _READ else result,
        )


@dataclass(frozen=True, slots=True)
class StoredTransaction:
    """A record with its checkpoints, in the order the store accepted them."""

    record: TransactionRecord
    checkpoints: tuple[Checkpoint, ...]

    def checkpoint(self, phase: str, unit_id: str) -> Checkpoint | None:
        """The checkpoint of one unit in one phase, if it was written."""
        key = checkpoint_key(phase, unit_id)
        return next((c for c in self.checkpoints if c.key == key), None)
