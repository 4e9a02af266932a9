"""The in-process store (``memory://``): the rules of every store, kept only as long as the process.

Values are copied through JSON on the way in, so that what it keeps is what a durable store would
keep, and a test against it catches a value no durable store could hold.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ._model import (
    RUNNING,
    Checkpoint,
    NewTransaction,
    StoredTransaction,
    TransactionRecord,
)
from ._rules import check_writable, claimed, new_record, released, renewed, with_status

__all__ = ["MemoryStore"]


def _copy(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, allow_nan=False))


class MemoryStore:
    """Records in a dict behind a lock (atomic for any number of event loops and threads)."""

    loop_bound = False
    """Usable from any event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, TransactionRecord] = {}
        self._checkpoints: dict[str, dict[str, Checkpoint]] = {}
        self._touched: dict[str, float] = {}

    def _current(self, correlation_id: str) -> TransactionRecord | None:
        """The record with any pending update time applied (call with the lock held)."""
        record = self._records.get(correlation_id)
        touched = self._touched.pop(correlation_id, None)
        if record is not None and touched is not None and touched > record.updated_at:
            record = replace(record, updated_at=touched)
            self._records[correlation_id] = record
        return record

    def _settle(self) -> None:
        """Apply every pending update time (call with the lock held)."""
        for cid in list(self._touched):
            self._current(cid)

    @property
    def description(self) -> str:
        """The store's URL."""
        return "memory://"

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._records)} transactions)"

    async def create(
        self, new: NewTransaction, *, owner: str, lease_s: float
    ) -> tuple[TransactionRecord, bool]:
        """See ``TransactionStore.create``."""
        new = replace(new, input=_copy(new.input), headers=_copy(new.headers))
        with self._lock:
            existing = self._current(new.correlation_id)
            if existing is not None:
                return existing, False
            record = new_record(new, owner, lease_s, time.time())
            self._records[new.correlation_id] = record
            self._checkpoints[new.correlation_id] = {}
            return record, True

    async def append(self, correlation_id: str, checkpoint: Checkpoint, *, owner: str) -> bool:
        """See ``TransactionStore.append``."""
        result = _copy(checkpoint.result)
        key = checkpoint.key
        with self._lock:
            check_writable(self._records.get(correlation_id), correlation_id, owner)
            done = self._checkpoints[correlation_id]
            if key in done:
                return False
            now = time.time()
            done[key] = replace(checkpoint, result=result, at=checkpoint.at or now, seq=len(done) + 1)
            # The record's update time is applied when the record is next read or changed: copying
            # a frozen record on every checkpoint would cost more than the checkpoint itself.
            self._touched[correlation_id] = now
            return True

    async def decide(self, correlation_id: str, decision: str, *, owner: str) -> str:
        """See ``TransactionStore.decide``."""
        with self._lock:
            record = check_writable(self._current(correlation_id), correlation_id, owner)
            if record.decision is not None:
                return record.decision
            self._records[correlation_id] = replace(record, decision=decision, updated_at=time.time())
            return decision

    async def set_status(
        self, correlation_id: str, status: str, *, owner: str | None, result: Any = None
    ) -> TransactionRecord:
        """See ``TransactionStore.set_status``."""
        result = _copy(result)
        with self._lock:
            record = with_status(
                self._current(correlation_id), correlation_id, status, owner, result, time.time()
            )
            self._records[correlation_id] = record
            return record

    async def get(self, correlation_id: str) -> StoredTransaction | None:
        """See ``TransactionStore.get``."""
        with self._lock:
            record = self._current(correlation_id)
            if record is None:
                return None
            checkpoints = sorted(self._checkpoints[correlation_id].values(), key=lambda c: c.seq)
            return StoredTransaction(record, tuple(checkpoints))

    async def find(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        since: float | None = None,
        limit: int = 1000,
    ) -> list[TransactionRecord]:
        """See ``TransactionStore.find``."""
        with self._lock:
            self._settle()
            found = [
                r
                for r in self._records.values()
                if (status is None or r.status == status)
                and (name is None or r.name == name)
                and (since is None or r.created_at >= since)
            ]
        found.sort(key=lambda r: r.created_at, reverse=True)
        return found[:limit]

    async def claim(
        self, correlation_id: str, *, owner: str, lease_s: float, max_recoveries: int | None = None
    ) -> TransactionRecord | None:
        """See ``TransactionStore.claim``."""
        with self._lock:
            record = claimed(self._current(correlation_id), owner, lease_s, max_recoveries, time.time())
            if record is not None:
                self._records[correlation_id] = record
            return record

    async def renew(self, owner: str, correlation_ids: Sequence[str], *, lease_s: float) -> set[str]:
        """See ``TransactionStore.renew``."""
        now = time.time()
        kept: set[str] = set()
        with self._lock:
            for cid in correlation_ids:
                record = renewed(self._current(cid), owner, lease_s, now)
                if record is not None:
                    self._records[cid] = record
                    kept.add(cid)
        return kept

    async def release(self, correlation_id: str, *, owner: str) -> bool:
        """See ``TransactionStore.release``."""
        with self._lock:
            record = released(self._current(correlation_id), owner, time.time())
            if record is None:
                return False
            self._records[correlation_id] = record
            return True

    async def recoverable(self, *, limit: int = 100) -> list[TransactionRecord]:
        """See ``TransactionStore.recoverable``."""
        now = time.time()
        with self._lock:
            self._settle()
            found = [r for r in self._records.values() if r.status == RUNNING and r.lease_expires_at <= now]
        found.sort(key=lambda r: r.lease_expires_at)
        return found[:limit]

    async def purge(self, older_than: float) -> int:
        """See ``TransactionStore.purge``."""
        with self._lock:
            self._settle()
            doomed = [cid for cid, r in self._records.items() if r.finished and r.updated_at < older_than]
            for cid in doomed:
                del self._records[cid]
                del self._checkpoints[cid]
        return len(doomed)

    async def close(self) -> None:
        """Nothing to release."""
