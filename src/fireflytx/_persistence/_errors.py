"""Errors of the transaction stores (internal until the stores are wired to engines)."""

from __future__ import annotations

from ..errors import FireflyTxError

__all__ = [
    "LeaseLostError",
    "PersistenceError",
    "RecoveryError",
    "StoreUnavailableError",
    "TransactionEndedError",
    "TransactionNotFinishedError",
    "UnrestorableValueError",
    "UnstorableValueError",
]


class PersistenceError(FireflyTxError):
    """A transaction store could not keep or give back a record."""


class UnstorableValueError(PersistenceError):
    """A value (an input, a step result) cannot be stored as JSON; ``type_name`` names its type.

    ``where`` says which value it was (``input``, ``result of step 'charge'``...).
    """

    def __init__(self, where: str, type_name: str) -> None:
        self.where = where
        self.type_name = type_name
        super().__init__(
            f"the {where} cannot be stored: it holds a {type_name}; store None, JSON-like values "
            "(str-keyed dicts, lists, tuples, str, int, finite float, bool), pydantic models or dataclasses"
        )

    def __reduce__(self) -> tuple[type[UnstorableValueError], tuple[str, str]]:
        return (type(self), (self.where, self.type_name))


class UnrestorableValueError(PersistenceError):
    """A stored pydantic model or dataclass names a type that cannot be found or no longer fits.

    ``type_ref`` is the stored ``module:qualname``. Make the class importable under that name, or
    register it with the store's type registry (needed for classes defined inside functions).
    """

    def __init__(self, type_ref: str, detail: str) -> None:
        self.type_ref = type_ref
        self.detail = detail
        super().__init__(
            f"a stored value of type {type_ref} cannot be restored: {detail}; make the class importable "
            "under that name or register it with the type registry"
        )

    def __reduce__(self) -> tuple[type[UnrestorableValueError], tuple[str, str]]:
        return (type(self), (self.type_ref, self.detail))


class StoreUnavailableError(PersistenceError):
    """The store cannot be reached, or failed the operation; ``store`` names it (secrets masked).

    The store's own exception is the ``__cause__``.
    """

    def __init__(self, store: str, detail: str) -> None:
        self.store = store
        self.detail = detail
        super().__init__(f"transaction store {store} failed: {detail}")

    def __reduce__(self) -> tuple[type[StoreUnavailableError], tuple[str, str]]:
        return (type(self), (self.store, self.detail))


class LeaseLostError(PersistenceError):
    """A write was refused because this process no longer owns the transaction's lease.

    Another process took the transaction over after this one's lease expired (a missed heartbeat);
    this process must stop running it, and the owner will finish it.
    """

    def __init__(self, correlation_id: str, owner: str, current_owner: str | None) -> None:
        self.correlation_id = correlation_id
        self.owner = owner
        self.current_owner = current_owner
        super().__init__(
            f"transaction {correlation_id!r} is no longer owned by {owner!r} "
            f"(owner now: {current_owner!r}); stop running it here"
        )

    def __reduce__(self) -> tuple[type[LeaseLostError], tuple[str, str, str | None]]:
        return (type(self), (self.correlation_id, self.owner, self.current_owner))


class RecoveryError(PersistenceError):
    """A stored transaction cannot be resumed; ``reason`` says why and what to do.

    Raised for a transaction whose definition changed since it started, one that is DEAD (recovery
    crashed too often), one another live process owns, or one whose definition is not registered.
    """

    def __init__(self, correlation_id: str, reason: str) -> None:
        self.correlation_id = correlation_id
        self.reason = reason
        super().__init__(f"transaction {correlation_id!r} cannot be recovered: {reason}")

    def __reduce__(self) -> tuple[type[RecoveryError], tuple[str, str]]:
        return (type(self), (self.correlation_id, self.reason))

    @classmethod
    def dead(cls, correlation_id: str, recoveries: int) -> RecoveryError:
        """The error for a DEAD transaction, saying how to run it again once its cause is fixed."""
        return cls(
            correlation_id,
            f"it is DEAD after {recoveries} recoveries that did not finish it; fix the cause, then retry it "
            f"with `engine.recover({correlation_id!r}, retry_dead=True)` or "
            f"`fireflytx tx recover {correlation_id} --retry-dead`",
        )


class TransactionNotFinishedError(PersistenceError):
    """A stored transaction has no final result yet: it is still running, or DEAD.

    Only a finished transaction can be read back as a ``SagaResult`` or ``TccResult``; look at an
    unfinished one through its record and checkpoints instead.
    """

    def __init__(self, correlation_id: str, status: str) -> None:
        self.correlation_id = correlation_id
        self.status = status
        super().__init__(
            f"transaction {correlation_id!r} is {status}, not finished: it has no result yet; "
            "read its record and checkpoints instead"
        )

    def __reduce__(self) -> tuple[type[TransactionNotFinishedError], tuple[str, str]]:
        return (type(self), (self.correlation_id, self.status))


class TransactionEndedError(PersistenceError):
    """A write for a transaction that is no longer running; the process that tried must stop running it.

    It finished (perhaps in another process that took it over), was set DEAD, or was purged: nothing
    more is recorded for it.
    """

    def __init__(self, correlation_id: str, status: str | None) -> None:
        self.correlation_id = correlation_id
        self.status = status
        if status is None:
            text = f"no stored transaction {correlation_id!r} (never created, or purged or expired)"
        else:
            text = f"transaction {correlation_id!r} is {status}, not RUNNING"
        super().__init__(f"{text}: nothing more is recorded for it")

    def __reduce__(self) -> tuple[type[TransactionEndedError], tuple[str, str | None]]:
        return (type(self), (self.correlation_id, self.status))


RUN_STOPPING: tuple[type[PersistenceError], ...] = (
    LeaseLostError,
    TransactionEndedError,
    StoreUnavailableError,
)
"""Journal failures after which a process must run nothing more of that transaction: another
process owns it, it has ended, or the store cannot record what would happen next (recovery finishes
it from its checkpoints once the store is back)."""
