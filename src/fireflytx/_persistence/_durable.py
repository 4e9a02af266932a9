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
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Task[TransactionStore]
        ] = weakref.WeakKeyDictionary()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fireflytx-store", daemon=True)
        self._thread.start()
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

    async def call(self, make: Callable[[TransactionStore], Awaitable[T]]) -> T:
        """``make(store)`` awaited on a store this event loop may use.

        A store whose client belongs to one event loop (Redis) gets a client of its own on each
        loop that runs transactions, opened on first use: handing every checkpoint to one store
        loop and the answer back cost two thread wake-ups per write, more than the write itself.
        """
        if not self._loop_bound:
            return await make(self.store)
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return await make(self.store)
        opened = self._per_loop.get(loop)
        if opened is None:
            opened = self._per_loop[loop] = loop.create_task(open_store(self.config))
        try:
            store = await opened
        except BaseException:
            if self._per_loop.get(loop) is opened:
                del self._per_loop[loop]  # the next call opens it again (the server may be back)
            raise
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
        """Take over a running transaction whose lease expired; None if another process still holds it."""
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
        opened = self._per_loop.pop(asyncio.get_running_loop(), None)
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
        owner = durability.owner
        if isinstance(event, AttemptFinished):
            if event.final and not event.replayed:
                checkpoint: Checkpoint = checkpoint_of(event)
                await _persist(durability, lambda s: s.append(event.correlation_id, checkpoint, owner=owner))
        elif isinstance(event, DecisionMade):
            recorded = await _persist(
                durability, lambda s: s.decide(event.correlation_id, event.decision.value, owner=owner)
            )
            if recorded != event.decision.value:
                raise RecoveryError(
                    event.correlation_id,
                    f"the decision recorded before the crash was {recorded}; the run keeps to it",
                )
        elif isinstance(event, TransactionFinished):
            summary = final_result_of(event)
            try:
                await _persist(
                    durability,
                    lambda s: s.set_status(event.correlation_id, event.status, owner=owner, result=summary),
                    done_if_ended_as=event.status,
                )
            finally:
                durability.disown(event.correlation_id)


async def _persist(
    durability: Durability,
    make: Callable[[TransactionStore], Awaitable[T]],
    done_if_ended_as: str | None = None,
) -> T | None:
    """A checkpoint write, tried again while the store is unreachable, for as long as the lease lasts.

    A short outage (a Redis restart, a failover) then costs the run a pause rather than its
    completion. Writing twice is safe: a store keeps the first checkpoint of a unit and the first
    decision, and a retried final status that had already been written is recognised. Past half
    the lease the error is raised: the run stops here, and recovery finishes it.
    """
    deadline = time.monotonic() + durability.config.lease_s / 2
    pause = 0.05
    retried = False
    while True:
        try:
            return await durability.call(make)
        except StoreUnavailableError:
            if time.monotonic() + pause > deadline:
                raise
            if not retried:
                _log.warning(
                    "transaction store %s is unreachable; retrying a checkpoint", durability.store.description
                )
            retried = True
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
        except TransactionEndedError as exc:
            if retried and done_if_ended_as is not None and exc.status == done_if_ended_as:
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
