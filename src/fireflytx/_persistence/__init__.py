"""Durable transaction records: the store protocol, its stores and the stored form of values.

The engines journal every run through ``_durable`` (a ``NewTransaction`` at the start, a
``Checkpoint`` for every step, compensation or TCC phase that ends for good, the TCC decision,
the final status); recovery claims transactions whose lease expired and resumes them from their
checkpoints. Values pass through ``_codec`` (JSON, models and dataclasses by type name) before any
store sees them. Every store passes the conformance suite in ``tests/persistence/``. The public
face of all this is ``fireflytx.persistence``; this package also gathers the internals that the
engine, the CLI and the tests use.
"""

from __future__ import annotations

from ._codec import TypeRegistry, decode, dumps, encode, type_ref
from ._events import checkpoint_of, final_result_of, idempotency_key, new_transaction_of
from ._factory import open_store
from ._memory import MemoryStore
from ._model import (
    DEAD,
    RUNNING,
    Checkpoint,
    ErrorInfo,
    NewTransaction,
    StoredTransaction,
    TransactionRecord,
    checkpoint_key,
    is_finished,
)
from ._protocol import TransactionStore
from ._sqlite import SqliteStore

__all__ = [
    "DEAD",
    "RUNNING",
    "Checkpoint",
    "ErrorInfo",
    "MemoryStore",
    "NewTransaction",
    "SqliteStore",
    "StoredTransaction",
    "TransactionRecord",
    "TransactionStore",
    "TypeRegistry",
    "checkpoint_key",
    "checkpoint_of",
    "decode",
    "dumps",
    "encode",
    "final_result_of",
    "idempotency_key",
    "is_finished",
    "new_transaction_of",
    "open_store",
    "type_ref",
]
