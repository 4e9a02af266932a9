"""A durable engine's side of its store: the store, the leases of its runs, and the journal.

A durable engine journals every run through ``StoreJournal``, a run listener of the journal kind:
the kernel awaits it at each checkpoint (an attempt that ended its step, compensation or phase for
good, a TCC decision, the end), so nothing that depends on a checkpoint goes on before the store
has it. The record itself is created before a run starts (``Durability.create``, called by the
engine), because that is where a repeated correlation id is recognised: a finished one gives back
its stored result, a live one is waited for, an orphaned one is taken over.

Ownership: this process holds a lease on every transaction it runs and renews them all together
(the heartbeat) on the engine's private store loop; another process takes a transaction over only
after the lease expired. A store whose client is bound to one event loop (Redis) gets a client
per loop that runs transactions; the others (SQLite, memory) are one store for every loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .._threads import start_daemon
from ..errors import RecordedFailure
from ..listeners import AttemptFinished, DecisionMade, RunEvent, TransactionFinished
from ._codec import TypeRegistry, decode
from ._config import PersistenceConfig
from ._errors import RecoveryError, StoreUnavailableError, TransactionEndedError
from ._events import checkpoint_of, final_result_of
from ._factory import open_store
from ._model import DEAD, Checkpoint, NewTransaction, StoredTransaction, TransactionRecord
from ._protocol import TransactionStore

__all__ = ["Durability", "StoreJournal", "replay_of"]

T = TypeVar("T")
_log = logging.getLogger("fireflytx.persistence")


def new_owner_id() -> str:
    """An id unique to this process: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def replay_of(
    stored: StoredTransaction, registry: TypeRegistry | None
) -> dict[str, tuple[Any, BaseException | None]]:
    """The recorded outcomes of a crashed run, by ``phase/unit id``, values decoded to their types."""
    replay: dict[str, tuple[Any, BaseException | None]] = {}
    for checkpoint in stored.checkpoints:
        if checkpoint.error is not None:
            replay[checkpoint.key] = (None, RecordedFailure(checkpoint.error.type, checkpoint.error.message))
        else:
            replay[checkpoint.key] = (decode(checkpoint.result, registry), None)
    return replay


class Durability:
    """The store of one durable engine, the leases it holds, and the loop that talks to a loop-bound store."""

    def __init__(self, config: PersistenceConfig) -> None:
        self.config = config
        self.owner = new_owner_id()
        self.registry = TypeRegistry()
        self.owned: set[str] = set()
        self._claiming: set[str] = set()
        """Claims on their way to the store: a second path of this process asking for one gets None."""
        self._claims_lock = threading.Lock()
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Task[TransactionStore]
        ] = weakref.WeakKeyDictionary()
        self._ready: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TransactionStore] = (
            weakref.WeakKeyDictionary()
        )
        """The per-loop stores that finished opening."""
        self._loop = asyncio.new_event_loop()
        self._thread = start_daemon(self._loop.run_forever, "fireflytx-store")
        try:
            self.store: TransactionStore = self._on_store_loop_blocking(open_store(config))
        except BaseException:
            self._stop_loop()
            raise
        self._heartbeat = asyncio.run_coroutine_threadsafe(self._beat(), self._loop)
        self._loop_bound = bool(getattr(self.store, "loop_bound", True))

    # -- calling the store -------------------------------------------------------------------------

    def _on_store_loop_blocking(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(_awaited(coro), self._loop).result()

    def call(self, make: Callable[[TransactionStore], Awaitable[T]]) -> Awaitable[T]:
        """``make(store)`` on a store this event loop may use; await what it returns.

        A store whose client belongs to one event loop (Redis) gets a client of its own on each
        loop that runs transactions, opened on first use: handing every checkpoint to one store
        loop and the answer back cost two thread wake-ups per write, more than the write itself.
        Once that store is open, this is a plain call (no coroutine of its own): every checkpoint
        of every durable run passes here.
        """
        if not self._loop_bound:
            return make(self.store)
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return make(self.store)
        store = self._ready.get(loop)
        if store is not None:
            return make(store)
        return self._open_then(loop, make)

    async def _open_then(
        self, loop: asyncio.AbstractEventLoop, make: Callable[[TransactionStore], Awaitable[T]]
    ) -> T:
        opened = self._per_loop.get(loop)
        if opened is None:
            opened = self._per_loop[loop] = loop.create_task(open_store(self.config))
        try:
            store = await opened
        except BaseException:
            if self._per_loop.get(loop) is opened:
                del self._per_loop[loop]  # the next call opens it again (the server may be back)
            raise
        if self._per_loop.get(loop) is opened:
            self._ready[loop] = store
        return await make(store)

    # -- leases ----------------------------------------------------------------------------------

    async def _beat(self) -> None:
        """Renew every lease this process holds, for as long as the engine runs."""
        interval = self.config.heartbeat_interval_s
        while True:
            await asyncio.sleep(interval)
            ids = list(self.owned)
            if not ids:
                continue
            try:
                kept = await self.store.renew(self.owner, ids, lease_s=self.config.lease_s)
            except Exception:
                _log.exception(
                    "renewing %d leases on %s failed; will try again", len(ids), self.store.description
                )
                continue
            lost = [cid for cid in ids if cid not in kept and cid in self.owned]
            if lost:
                _log.warning(
                    "lost the lease of %d running transactions (another process took them over after a "
                    "missed heartbeat): %s",
                    len(lost),
                    ", ".join(lost[:10]),
                )

    # -- one run's record ------------------------------------------------------------------------

    async def create(self, new: NewTransaction) -> tuple[TransactionRecord, bool]:
        """Create a run's record (owned by this process) unless its correlation id has one."""
        record, created = await self.call(
            lambda s: s.create(new, owner=self.owner, lease_s=self.config.lease_s)
        )
        if created:
            self.owned.add(new.correlation_id)
        return record, created

    async def claim(self, correlation_id: str) -> TransactionRecord | None:
        """Take over a running transaction whose lease expired; None if another process still holds it.

        None too if this process already runs it or is claiming it: the store grants a claim to the
        owner it already has, so without this a recovered parent resuming its sub-saga and a sweep
        of orphans meeting that same child would both run it, and the second to end would find its
        lease released by the first.
        """
        with self._claims_lock:
            if correlation_id in self.owned or correlation_id in self._claiming:
                return None
            self._claiming.add(correlation_id)
        try:
            record = await self.call(
                lambda s: s.claim(
                    correlation_id,
                    owner=self.owner,
                    lease_s=self.config.lease_s,
                    max_recoveries=self.config.max_recoveries,
                )
            )
            if record is not None and record.status != DEAD:
                self.owned.add(correlation_id)
        finally:
            with self._claims_lock:
                self._claiming.discard(correlation_id)
        return record

    async def get(self, correlation_id: str) -> StoredTransaction | None:
        """The stored transaction with its checkpoints."""
        return await self.call(lambda s: s.get(correlation_id))

    async def until_finished(self, correlation_id: str) -> StoredTransaction:
        """Wait until another owner finishes ``correlation_id`` (or its lease expires: then claim it)."""
        while True:
            stored = await self.get(correlation_id)
            if stored is None:
                raise RecoveryError(correlation_id, "its record disappeared while waiting for it (purged?)")
            record = stored.record
            if record.finished or record.status == DEAD:
                return stored
            if record.owner != self.owner and record.lease_expires_at < time.time():
                return stored  # its owner died: the caller takes it over
            await asyncio.sleep(self.config.wait_poll_s)

    def disown(self, correlation_id: str) -> None:
        """This process no longer runs ``correlation_id`` (it finished, or was given up)."""
        self.owned.discard(correlation_id)

    async def give_up(self, correlation_id: str) -> None:
        """Stop owning a transaction that will not reach its end here, so that recovery can take it at once.

        Called on paths that are already failing, so a failure to release is only logged: the
        lease then simply expires.
        """
        if correlation_id not in self.owned:
            return
        self.disown(correlation_id)
        try:
            await self.call(lambda s: s.release(correlation_id, owner=self.owner))
        except Exception:
            _log.exception(
                "could not release the lease of %s; it is recoverable once the lease expires", correlation_id
            )

    async def close_here(self) -> None:
        """Close the store this event loop opened, and wait for it.

        ``close`` can only schedule that on each loop; the engine's ``shutdown`` awaits this first,
        so the connections of the loop it runs on are closed before that loop may end.
        """
        loop = asyncio.get_running_loop()
        self._ready.pop(loop, None)
        opened = self._per_loop.pop(loop, None)
        if opened is None:
            return
        try:
            store = await opened
        except Exception:  # it never opened: nothing to close
            return
        await store.close()

    def close(self) -> None:
        """Stop the heartbeat and close the stores (blocking for the engine's own)."""
        self._heartbeat.cancel()
        for loop, opened in list(self._per_loop.items()):
            # Closed on their own loops, without waiting: this may be one of them.
            try:
                loop.call_soon_threadsafe(_close_later, opened)
            except RuntimeError:  # that loop is closed, and its connections with it
                pass
        self._per_loop.clear()
        self._ready.clear()
        try:
            self._on_store_loop_blocking(self.store.close())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


class StoreJournal:
    """The journal of a durable engine: every checkpoint of its runs, written before the run goes on.

    A transaction's start is written by the engine before the run starts (see ``Durability.create``).
    """

    def __init__(self, durability: Callable[[], Durability | None]) -> None:
        self._current = durability  # the engine's, which changes when it stops and starts again

    def __repr__(self) -> str:
        durability = self._current()
        return f"StoreJournal({durability.store.description if durability else 'closed'})"

    async def record(self, event: RunEvent) -> None:
        """Write the checkpoint ``event`` marks.

        Raises:
            UnstorableValueError: a result cannot be stored (fails that step).
            LeaseLostError: another process took the transaction over.
            StoreUnavailableError: the store failed.
        """
        durability = self._current()
        if durability is None:
            raise RecoveryError(event.correlation_id, "the engine's store is closed (the engine stopped)")
        owner, cid = durability.owner, event.correlation_id
        make: Callable[[TransactionStore], Awaitable[Any]]
        ended_as: str | None = None
        if isinstance(event, AttemptFinished):
            if not event.final or event.replayed:
                return
            checkpoint: Checkpoint = checkpoint_of(event)
            make = lambda s: s.append(cid, checkpoint, owner=owner)  # noqa: E731
        elif isinstance(event, DecisionMade):
            decision = event.decision.value
            make = lambda s: s.decide(cid, decision, owner=owner)  # noqa: E731
        elif isinstance(event, TransactionFinished):
            summary = final_result_of(event)
            ended_as = status = event.status
            make = lambda s: s.set_status(cid, status, owner=owner, result=summary)  # noqa: E731
        else:
            return
        started = time.monotonic()
        try:
            try:
                # The first try is awaited here, not in _persist: one coroutine fewer per checkpoint.
                answer = await durability.call(make)
            except StoreUnavailableError as unreachable:
                answer = await _persist(durability, make, started, unreachable, ended_as)
        finally:
            if ended_as is not None:
                durability.disown(cid)
        if isinstance(event, DecisionMade) and answer != event.decision.value:
            raise RecoveryError(
                cid, f"the decision recorded before the crash was {answer}; the run keeps to it"
            )


async def _persist(
    durability: Durability,
    make: Callable[[TransactionStore], Awaitable[T]],
    started: float,
    unreachable: StoreUnavailableError,
    done_if_ended_as: str | None = None,
) -> T | None:
    """A checkpoint write whose first try found the store unreachable, tried again while the lease lasts.

    A short outage (a Redis restart, a failover) then costs the run a pause rather than its
    completion. Writing twice is safe: a store keeps the first checkpoint of a unit and the first
    decision, and a retried final status that had already been written is recognised. Half a lease
    after the first try ``started``, the last error is raised: the run stops here, and recovery
    finishes it.
    """
    deadline = started + durability.config.lease_s / 2
    pause = 0.05
    _log.warning("transaction store %s is unreachable; retrying a checkpoint", durability.store.description)
    while True:
        if time.monotonic() + pause > deadline:
            raise unreachable
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)
        try:
            return await durability.call(make)
        except StoreUnavailableError as again:
            unreachable = again
        except TransactionEndedError as exc:
            if done_if_ended_as is not None and exc.status == done_if_ended_as:
                return None  # the attempt whose answer was lost had written it
            raise


def _close_later(opened: asyncio.Task[TransactionStore]) -> None:
    """Close a per-loop store once it has opened (on its loop); a failure to open needs no closing."""

    def close(task: asyncio.Task[TransactionStore]) -> None:
        if not task.cancelled() and task.exception() is None:
            closing = asyncio.ensure_future(task.result().close())
            closing.add_done_callback(_ignore)

    opened.add_done_callback(close)


def _ignore(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable
