"""The embedded durable store (``sqlite:///path/file.db``): one file, no server, one machine.

Every operation runs on one thread of the store's own, never on an event loop (sqlite3 blocks).
That thread commits in groups: it takes every operation waiting, runs each inside a savepoint of
one ``BEGIN IMMEDIATE`` transaction, commits once, and only then answers the callers, so a
checkpoint is acknowledged only once it is committed, and a hundred concurrent runs cost one fsync
instead of a hundred. ``BEGIN IMMEDIATE`` takes the file's write lock, so several processes may
share the file: their operations are serialised by SQLite, not by timing.

The database is in WAL mode. ``synchronous=FULL`` (default) fsyncs every commit: a checkpoint
survives a crash of the process, of the machine and a power loss. ``NORMAL`` survives a crash of
the process only; the last commits before a machine crash may be lost.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .._threads import in_thread, start_daemon
from ._errors import PersistenceError, StoreUnavailableError
from ._model import (
    RUNNING,
    Checkpoint,
    NewTransaction,
    StoredTransaction,
    TransactionRecord,
    is_finished,
)
from ._rules import check_writable, claimed, new_record, released, renewed, with_status

__all__ = ["SqliteStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ftx_tx (
    correlation_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    headers TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    owner TEXT,
    lease REAL NOT NULL,
    recoveries INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    decision TEXT,
    result TEXT NOT NULL,
    checkpoints INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ftx_tx_running ON ftx_tx (status, lease);
CREATE INDEX IF NOT EXISTS ftx_tx_created ON ftx_tx (created);
CREATE INDEX IF NOT EXISTS ftx_tx_updated ON ftx_tx (updated);
CREATE TABLE IF NOT EXISTS ftx_checkpoint (
    correlation_id TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (correlation_id, key)
) WITHOUT ROWID;
"""

_COLUMNS = (
    "correlation_id, kind, name, status, input, headers, fingerprint, owner, lease, recoveries, "
    "created, updated, decision, result"
)
_MAX_GROUP = 512
_Answer = tuple[asyncio.Future[Any], Any, BaseException | None]
_Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]


def _row(record: TransactionRecord) -> tuple[Any, ...]:
    return (
        record.correlation_id,
        record.kind,
        record.name,
        record.status,
        json.dumps(record.input, separators=(",", ":")),
        json.dumps(record.headers, separators=(",", ":")),
        record.fingerprint,
        record.owner,
        record.lease_expires_at,
        record.recovery_attempts,
        record.created_at,
        record.updated_at,
        record.decision,
        json.dumps(record.result, separators=(",", ":")),
    )


def _record(row: Sequence[Any]) -> TransactionRecord:
    return TransactionRecord(
        correlation_id=row[0],
        kind=row[1],
        name=row[2],
        status=row[3],
        input=json.loads(row[4]),
        headers=json.loads(row[5]),
        fingerprint=row[6],
        owner=row[7],
        lease_expires_at=row[8],
        recovery_attempts=row[9],
        created_at=row[10],
        updated_at=row[11],
        decision=row[12],
        result=json.loads(row[13]),
    )


def _read(conn: sqlite3.Connection, correlation_id: str) -> TransactionRecord | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM ftx_tx WHERE correlation_id = ?", (correlation_id,)
    ).fetchone()
    return None if row is None else _record(row)


_UPSERT = (
    f"INSERT INTO ftx_tx ({_COLUMNS}) VALUES ({', '.join('?' * 14)}) "
    "ON CONFLICT (correlation_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ")[1:])
)


def _write(conn: sqlite3.Connection, record: TransactionRecord) -> None:
    conn.execute(_UPSERT, _row(record))


def _deliver(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _deliver_all(answers: list[_Answer]) -> None:
    for future, result, error in answers:
        _deliver(future, result, error)


class SqliteStore:
    """Records in one SQLite file, written by a dedicated thread that commits in groups."""

    loop_bound = False
    """Usable from any event loop: each answer is handed to the loop that asked."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", busy_timeout_ms: int = 10_000) -> None:
        self._path = Path(path)
        self._synchronous = synchronous.upper()
        if self._synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        self._busy_timeout_ms = busy_timeout_ms
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._closed = False
        self._thread = start_daemon(self._serve, f"fireflytx-sqlite-{self._path.name}")
        self._ready.wait()
        if self._open_error is not None:
            raise StoreUnavailableError(self.description, str(self._open_error)) from self._open_error

    @property
    def description(self) -> str:
        """The store's URL."""
        return f"sqlite:///{self._path}"

    def __repr__(self) -> str:
        return f"SqliteStore({str(self._path)!r}, synchronous={self._synchronous})"

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=self._busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.executescript(_SCHEMA)
        return conn

    def _serve(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to the constructor, which raises it
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                group = [first]
                stop = False
                while len(group) < _MAX_GROUP:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    group.append(job)
                self._run_group(conn, group)
                if stop:
                    return
        finally:
            conn.close()

    def _run_group(self, conn: sqlite3.Connection, group: list[_Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, _future, _loop in group:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((fn(conn), None))
                except sqlite3.Error:
                    raise
                except Exception as exc:  # the rule refused: undo this job only
                    conn.execute("ROLLBACK TO job")
                    outcomes.append((None, exc))
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = StoreUnavailableError(self.description, f"{type(exc).__name__}: {exc}")
            failure.__cause__ = exc
            outcomes = [(None, failure)] * len(group)
        # One wake-up per event loop for the whole group: waking a loop costs more than a commit's share.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
        for (_fn, future, loop), (result, error) in zip(group, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, result, error))
        for loop, answers in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver_all, answers)
            except RuntimeError:  # the caller's loop is closed: nobody waits any more
                pass

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise PersistenceError(f"transaction store {self.description} is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, future, loop))
        return await future

    async def create(
        self, new: NewTransaction, *, owner: str, lease_s: float
    ) -> tuple[TransactionRecord, bool]:
        """See ``TransactionStore.create``."""
        json.dumps(new.input, allow_nan=False)

        def run(conn: sqlite3.Connection) -> tuple[TransactionRecord, bool]:
            existing = _read(conn, new.correlation_id)
            if existing is not None:
                return existing, False
            record = new_record(new, owner, lease_s, time.time())
            _write(conn, record)
            return record, True

        return await self._call(run)

    async def append(self, correlation_id: str, checkpoint: Checkpoint, *, owner: str) -> bool:
        """See ``TransactionStore.append``."""

        def run(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT status, owner, checkpoints FROM ftx_tx WHERE correlation_id = ?", (correlation_id,)
            ).fetchone()
            if row is None or row[0] != RUNNING or row[1] != owner:
                check_writable(_read(conn, correlation_id), correlation_id, owner)  # raises the reason
            exists = conn.execute(
                "SELECT 1 FROM ftx_checkpoint WHERE correlation_id = ? AND key = ?",
                (correlation_id, checkpoint.key),
            ).fetchone()
            if exists:
                return False
            now = time.time()
            seq = row[2] + 1
            doc = checkpoint.to_json(seq=seq, at=checkpoint.at or now)
            conn.execute(
                "INSERT INTO ftx_checkpoint (correlation_id, key, seq, doc) VALUES (?, ?, ?, ?)",
                (correlation_id, checkpoint.key, seq, doc),
            )
            conn.execute(
                "UPDATE ftx_tx SET checkpoints = ?, updated = ? WHERE correlation_id = ?",
                (seq, now, correlation_id),
            )
            return True

        return await self._call(run)

    async def decide(self, correlation_id: str, decision: str, *, owner: str) -> str:
        """See ``TransactionStore.decide``."""

        def run(conn: sqlite3.Connection) -> str:
            record = check_writable(_read(conn, correlation_id), correlation_id, owner)
            if record.decision is not None:
                return record.decision
            conn.execute(
                "UPDATE ftx_tx SET decision = ?, updated = ? WHERE correlation_id = ?",
                (decision, time.time(), correlation_id),
            )
            return decision

        return await self._call(run)

    async def set_status(
        self, correlation_id: str, status: str, *, owner: str | None, result: Any = None
    ) -> TransactionRecord:
        """See ``TransactionStore.set_status``."""

        def run(conn: sqlite3.Connection) -> TransactionRecord:
            record = with_status(
                _read(conn, correlation_id), correlation_id, status, owner, result, time.time()
            )
            _write(conn, record)
            return record

        return await self._call(run)

    async def get(self, correlation_id: str) -> StoredTransaction | None:
        """See ``TransactionStore.get``."""

        def run(conn: sqlite3.Connection) -> StoredTransaction | None:
            record = _read(conn, correlation_id)
            if record is None:
                return None
            rows = conn.execute(
                "SELECT doc FROM ftx_checkpoint WHERE correlation_id = ? ORDER BY seq", (correlation_id,)
            ).fetchall()
            return StoredTransaction(record, tuple(Checkpoint.from_json(r[0]) for r in rows))

        return await self._call(run)

    async def find(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        since: float | None = None,
        limit: int = 1000,
    ) -> list[TransactionRecord]:
        """See ``TransactionStore.find``."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("status = ?", status), ("name = ?", name), ("created >= ?", since)):
            if value is not None:
                where.append(column)
                args.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {_COLUMNS} FROM ftx_tx {clause} ORDER BY created DESC LIMIT ?"

        def run(conn: sqlite3.Connection) -> list[TransactionRecord]:
            return [_record(r) for r in conn.execute(sql, (*args, limit)).fetchall()]

        return await self._call(run)

    async def claim(
        self, correlation_id: str, *, owner: str, lease_s: float, max_recoveries: int | None = None
    ) -> TransactionRecord | None:
        """See ``TransactionStore.claim``."""

        def run(conn: sqlite3.Connection) -> TransactionRecord | None:
            record = claimed(_read(conn, correlation_id), owner, lease_s, max_recoveries, time.time())
            if record is not None:
                _write(conn, record)
            return record

        return await self._call(run)

    async def renew(self, owner: str, correlation_ids: Sequence[str], *, lease_s: float) -> set[str]:
        """See ``TransactionStore.renew``."""
        ids = list(correlation_ids)

        def run(conn: sqlite3.Connection) -> set[str]:
            now = time.time()
            kept: set[str] = set()
            for cid in ids:
                record = renewed(_read(conn, cid), owner, lease_s, now)
                if record is not None:
                    conn.execute(
                        "UPDATE ftx_tx SET lease = ? WHERE correlation_id = ?", (record.lease_expires_at, cid)
                    )
                    kept.add(cid)
            return kept

        return await self._call(run)

    async def release(self, correlation_id: str, *, owner: str) -> bool:
        """See ``TransactionStore.release``."""

        def run(conn: sqlite3.Connection) -> bool:
            record = released(_read(conn, correlation_id), owner, time.time())
            if record is None:
                return False
            _write(conn, record)
            return True

        return await self._call(run)

    async def recoverable(self, *, limit: int = 100) -> list[TransactionRecord]:
        """See ``TransactionStore.recoverable``."""

        def run(conn: sqlite3.Connection) -> list[TransactionRecord]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM ftx_tx WHERE status = 'RUNNING' AND lease <= ? "
                "ORDER BY lease LIMIT ?",
                (time.time(), limit),
            ).fetchall()
            return [_record(r) for r in rows]

        return await self._call(run)

    async def purge(self, older_than: float) -> int:
        """See ``TransactionStore.purge``."""

        def run(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "SELECT correlation_id, status FROM ftx_tx WHERE updated < ?", (older_than,)
            ).fetchall()
            doomed = [(cid,) for cid, status in rows if is_finished(status)]
            conn.executemany("DELETE FROM ftx_checkpoint WHERE correlation_id = ?", doomed)
            conn.executemany("DELETE FROM ftx_tx WHERE correlation_id = ?", doomed)
            return len(doomed)

        return await self._call(run)

    async def close(self) -> None:
        """Finish the operations already asked for, then stop the thread and close the file."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        await in_thread(self._thread.join, "fireflytx-sqlite-close")
