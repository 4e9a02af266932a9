"""Durable transactions: where they are kept, how to read them back, and how to bring your own store.

With ``FIREFLYTX_PERSISTENCE__URL`` (or ``FireflyTxSettings(persistence=PersistenceConfig(url=...))``)
set to ``sqlite:///path/file.db`` or ``redis://host:port/0``, every run of an engine is journaled:
its record before it starts, a checkpoint whenever a step, compensation or TCC phase ends for good,
the TCC decision before phase two, its final status at the end. ``engine.recover()`` resumes what
a dead process left unfinished, and a correlation id that already ran answers with its stored
result instead of running again. ``memory://`` (the default) keeps nothing beyond the process.

Your own store (PostgreSQL, say) implements ``TransactionStore``: every method is atomic, and the
docstrings say exactly what each must check and write. Name a function that opens it in
``PersistenceConfig.store_factory``; the conformance suite in the repository's
``tests/persistence/`` tells you whether it keeps the contract.

Reading stored transactions: ``await engine.stored_run(correlation_id)`` gives a ``StoredRun``
(rendered in notebooks and by rich, with the run view and timeline of a finished one), and
``fireflytx tx list / show / recover / purge`` does the same from a shell.
"""

from __future__ import annotations

from ._persistence._codec import TypeRegistry
from ._persistence._config import PersistenceConfig, SqliteSynchronous
from ._persistence._errors import (
    LeaseLostError,
    PersistenceError,
    RecoveryError,
    StoreUnavailableError,
    TransactionNotFinishedError,
    UnrestorableValueError,
    UnstorableValueError,
)
from ._persistence._factory import open_store
from ._persistence._model import (
    DEAD,
    RUNNING,
    Checkpoint,
    ErrorInfo,
    NewTransaction,
    StoredTransaction,
    TransactionRecord,
)
from ._persistence._protocol import TransactionStore
from ._persistence._rebuild import result_of
from ._persistence._view import CheckpointRow, StoredRun

__all__ = [
    "DEAD",
    "RUNNING",
    "Checkpoint",
    "CheckpointRow",
    "ErrorInfo",
    "LeaseLostError",
    "NewTransaction",
    "PersistenceConfig",
    "PersistenceError",
    "RecoveryError",
    "SqliteSynchronous",
    "StoreUnavailableError",
    "StoredRun",
    "StoredTransaction",
    "TransactionNotFinishedError",
    "TransactionRecord",
    "TransactionStore",
    "TypeRegistry",
    "UnrestorableValueError",
    "UnstorableValueError",
    "open_store",
    "result_of",
]
