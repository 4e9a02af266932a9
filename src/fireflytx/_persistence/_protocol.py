"""The contract every transaction store keeps, whatever it is built on.

Implement these methods on any database (PostgreSQL, for example) and run the conformance suite
in ``tests/persistence/`` against it. Every method is atomic on its own: what it checks and what
it writes happen in one store transaction (a SQL transaction, a Redis Lua script), never as a read
followed by a separate write, so several processes may share one store. Times are the store's
clock in seconds since the epoch; a store shared by machines should use one clock (the Redis store
uses the server's).

Ownership: a running transaction is owned by one process (``owner``, an id unique per process)
until ``lease_expires_at``. Only the owner may append checkpoints, record a decision or finish it
(``LeaseLostError`` otherwise); the owner renews its leases while it runs; any process may
``claim`` a running transaction whose lease has expired, and only one claimer wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ._model import Checkpoint, NewTransaction, StoredTransaction, TransactionRecord

__all__ = ["TransactionStore"]


@runtime_checkable
class TransactionStore(Protocol):
    """Keeps transaction records and their checkpoints; see the module docstring for the rules."""

    @property
    def description(self) -> str:
        """What and where the store is, secrets masked (for messages and logs)."""

    async def create(
        self, new: NewTransaction, *, owner: str, lease_s: float
    ) -> tuple[TransactionRecord, bool]:
        """Create a RUNNING record owned by ``owner``, unless one with that correlation id exists.

        Returns the record and True when this call created it; the existing record (untouched)
        and False otherwise. Of two concurrent calls with one id, exactly one creates.
        """

    async def append(self, correlation_id: str, checkpoint: Checkpoint, *, owner: str) -> bool:
        """Add a checkpoint to a running transaction that ``owner`` owns.

        Returns False, writing nothing, when a checkpoint of that phase and unit already exists
        (the first one is kept). The store numbers checkpoints in the order it accepts them.

        Raises:
            LeaseLostError: another process owns the transaction.
            PersistenceError: no such transaction, or it is not running.
        """

    async def decide(self, correlation_id: str, decision: str, *, owner: str) -> str:
        """Record a TCC's global decision unless one is recorded; returns the recorded one.

        Raises:
            LeaseLostError: another process owns the transaction.
            PersistenceError: no such transaction, or it is not running.
        """

    async def set_status(
        self, correlation_id: str, status: str, *, owner: str | None, result: Any = None
    ) -> TransactionRecord:
        """Move a transaction to ``status`` and return the updated record.

        A final status (anything but RUNNING and DEAD) ends it: ``result`` (encoded) is kept, the
        lease is dropped, and a store with a retention time starts counting it. DEAD drops the
        lease and keeps it out of recovery. RUNNING is allowed only from DEAD (a manual retry):
        the recovery count starts again and the transaction is recoverable at once.
        ``owner=None`` is an administrative change that does not check ownership.

        Raises:
            LeaseLostError: ``owner`` is given and another process owns the transaction.
            PersistenceError: no such transaction, or the change is not allowed from its status.
        """

    async def get(self, correlation_id: str) -> StoredTransaction | None:
        """The record and its checkpoints, or None."""

    async def find(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        since: float | None = None,
        limit: int = 1000,
    ) -> list[TransactionRecord]:
        """Records, newest first, filtered by status, name and creation time (``created_at >= since``)."""

    async def claim(
        self, correlation_id: str, *, owner: str, lease_s: float, max_recoveries: int | None = None
    ) -> TransactionRecord | None:
        """Take a running transaction over if its lease has expired (or ``owner`` already holds it).

        Taking it from another owner counts a recovery attempt; once the count would pass
        ``max_recoveries``, the transaction becomes DEAD instead and that record is returned.
        Returns None when it is not running or another owner's lease still holds. Of concurrent
        claimers exactly one wins.
        """

    async def renew(self, owner: str, correlation_ids: Sequence[str], *, lease_s: float) -> set[str]:
        """Extend ``owner``'s leases (the heartbeat); returns the ids it still owns and renewed."""

    async def release(self, correlation_id: str, *, owner: str) -> bool:
        """Give a lease up so that any process may recover the transaction at once (graceful stop)."""

    async def recoverable(self, *, limit: int = 100) -> list[TransactionRecord]:
        """Running transactions whose lease has expired, the longest expired first."""

    async def purge(self, older_than: float) -> int:
        """Delete finished transactions last updated before ``older_than``; returns how many."""

    async def close(self) -> None:
        """Release connections and threads; the store is not used afterwards."""
