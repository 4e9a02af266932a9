"""What an engine does with a durable store: records before a run, answers for known ids, recovery.

A mixin of ``EngineBase``: the engine's start opens the store (``_durability``) and its runs call
``_begin_durably`` first; everything that reads stored transactions back lives here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._workers import LoopThread
from .config import FireflyTxSettings
from .errors import FireflyTxError

if TYPE_CHECKING:
    from ._core._run import RunBase
    from ._persistence._durable import Durability
    from ._persistence._view import StoredRun

__all__ = ["DurableRuns"]

T = TypeVar("T")
_log = logging.getLogger("fireflytx.engine")
_RECOVERY_BATCH = 500
_RECOVERY_CONCURRENCY = 200


class DurableRuns:
    """The durable half of an engine (see the module docstring); ``EngineBase`` supplies the rest."""

    settings: FireflyTxSettings
    _kind: str
    _durability: Durability | None
    _specs: dict[str, Any]
    """Registered definitions by name: what recovery can resume."""
    _transactions: dict[str, int]
    _lock: threading.Lock
    _sync_loop: LoopThread | None
    _background: set[concurrent.futures.Future[None]]

    if TYPE_CHECKING:

        def _running(self) -> tuple[Any, Any]: ...

        def _blocking(self, make_run: Callable[[], Awaitable[T]]) -> T: ...

    def _durable(self) -> Durability | None:
        return self._durability

    async def _begin_durably(self, run: RunBase, durability: Durability) -> Any:
        """Write the run's record before anything runs; or, if its correlation id has one, answer from it.

        Returns None when the run should go ahead; otherwise the result of the transaction that
        already has this correlation id: stored if it finished, awaited if another caller or process
        is running it, resumed here if its owner died.

        Raises:
            UnstorableValueError: the input cannot be stored (nothing ran).
            RecoveryError: the transaction with this id is DEAD, or cannot be resumed here.
        """
        from ._persistence._events import new_transaction_of
        from ._persistence._fingerprint import fingerprint_of

        spec = run.spec
        self._specs.setdefault(spec.name, spec)  # a definition run here can be recovered here
        new = new_transaction_of(run.started_event(), fingerprint_of(spec))
        record, created = await durability.create(new)
        if created:
            return None
        if record.kind != run.kind.value or record.name != run.name:
            from ._persistence._errors import RecoveryError

            raise RecoveryError(
                run.correlation_id,
                f"that correlation id belongs to {record.kind} {record.name!r}, not to {run.kind.value} "
                f"{run.name!r}; use a correlation id of its own for each transaction",
            )
        return await self._settle(run.correlation_id, durability)

    async def _settle(self, correlation_id: str, durability: Durability) -> Any:
        """The result of an existing transaction: stored, awaited, or resumed after its owner died."""
        from ._persistence._errors import RecoveryError
        from ._persistence._model import DEAD
        from ._persistence._rebuild import result_of

        while True:
            stored = await durability.until_finished(correlation_id)
            record = stored.record
            if record.finished:
                return result_of(stored, durability.registry)
            if record.status == DEAD:
                raise RecoveryError.dead(correlation_id, record.recovery_attempts)
            claimed = await durability.claim(correlation_id)
            if claimed is not None and claimed.status != DEAD:
                return await self._resume(claimed, durability)

    async def recover(self, correlation_id: str | None = None, *, retry_dead: bool = False) -> list[Any]:
        """Finish transactions that a crashed process left unfinished, from their checkpoints.

        Without ``correlation_id``: every unfinished transaction of a definition registered here
        whose owner's lease has expired, resumed concurrently. With one: that transaction (its
        stored result if it already finished). Completed steps are not run again (their stored
        results are used); a step that was running re-runs with the same idempotency key; a step
        that had failed for good is not retried; compensations already done are not re-run; a TCC
        finishes phase two with its recorded decision. Needs a durable store
        (``settings.persistence.url``).

        Returns the results of the transactions recovered, in no particular order.

        Raises:
            RecoveryError: the named transaction does not exist, is DEAD (pass ``retry_dead=True``
                to run it again), is owned by a live process, has an unregistered definition, or
                its definition changed since it started (the message says what changed).
            EngineNotStartedError: the engine is not running.
        """
        from ._persistence._errors import RecoveryError
        from ._persistence._model import DEAD, RUNNING

        self._running()
        durability = self._durability
        if durability is None:
            raise FireflyTxError(
                "recover() needs a durable store: set FIREFLYTX_PERSISTENCE__URL (or "
                "settings.persistence.url) to sqlite:///path/file.db or redis://host:port; memory:// "
                "keeps nothing beyond the process"
            )
        if correlation_id is None:
            return await self._recover_all(durability)
        stored = await durability.get(correlation_id)
        if stored is None:
            raise RecoveryError(correlation_id, f"{durability.store.description} has no such transaction")
        record = stored.record
        if record.finished:
            from ._persistence._rebuild import result_of

            return [result_of(stored, durability.registry)]
        if record.status == DEAD:
            if not retry_dead:
                raise RecoveryError.dead(correlation_id, record.recovery_attempts)
            await durability.call(lambda s: s.set_status(correlation_id, RUNNING, owner=None))
        claimed = await durability.claim(correlation_id)
        if claimed is None:
            raise RecoveryError(
                correlation_id,
                f"process {record.owner} still holds its lease (it renews it while it runs the transaction); "
                "recover it once that process has stopped and the lease has expired",
            )
        if claimed.status == DEAD:
            raise RecoveryError.dead(correlation_id, claimed.recovery_attempts)
        return [await self._resume(claimed, durability)]

    async def stored_run(self, correlation_id: str) -> StoredRun | None:
        """The stored record of ``correlation_id`` as a ``StoredRun`` (None if the store has none).

        Running, dead or finished: a notebook shows its checkpoints, and for a finished one the run
        view and timeline its result would show.

        Raises:
            FireflyTxError: the engine has no durable store.
        """
        from ._persistence._view import StoredRun

        durability = self._durability
        if durability is None:
            self._running()
            raise FireflyTxError(
                "stored_run() reads the engine's durable store, and this engine has none: set "
                "FIREFLYTX_PERSISTENCE__URL (or settings.persistence.url) to sqlite:///path/file.db or redis://host"
            )
        stored = await durability.get(correlation_id)
        return None if stored is None else StoredRun.of(stored, durability.registry)

    def recover_sync(self, correlation_id: str | None = None, *, retry_dead: bool = False) -> list[Any]:
        """Blocking ``recover`` for scripts and the CLI."""
        return self._blocking(lambda: self.recover(correlation_id, retry_dead=retry_dead))

    async def _recover_all(self, durability: Durability, name: str | None = None) -> list[Any]:
        from ._persistence._errors import RecoveryError
        from ._persistence._model import DEAD

        results: list[Any] = []
        seen: set[str] = set()
        limit = asyncio.Semaphore(_RECOVERY_CONCURRENCY)

        async def one(correlation_id: str) -> None:
            async with limit:
                claimed = await durability.claim(correlation_id)
                if claimed is None:
                    return  # another recoverer won it
                if claimed.status == DEAD:
                    _log.error(
                        "transaction %s (%s %r) is DEAD: %d recoveries did not finish it",
                        correlation_id, claimed.kind, claimed.name, claimed.recovery_attempts,
                    )
                    return
                try:
                    results.append(await self._resume(claimed, durability))
                except RecoveryError as exc:
                    _log.error("%s", exc)

        while True:
            batch = await durability.call(lambda s: s.recoverable(limit=_RECOVERY_BATCH))
            mine = [
                r.correlation_id
                for r in batch
                if r.correlation_id not in seen
                and r.kind == self._kind
                and r.name in self._specs
                and (name is None or r.name == name)
            ]
            seen.update(r.correlation_id for r in batch)
            if not mine:
                return results
            # Every recovery runs to its end before an error is raised: none is left running unseen.
            outcomes = await asyncio.gather(*(one(cid) for cid in mine), return_exceptions=True)
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            if failures:
                raise failures[0]

    async def _resume(self, record: Any, durability: Durability) -> Any:
        """Run a claimed transaction again with its checkpoints replayed; its result."""
        from ._persistence._codec import decode
        from ._persistence._durable import replay_of
        from ._persistence._errors import RecoveryError
        from ._persistence._fingerprint import describe_change, fingerprint_of

        correlation_id = record.correlation_id
        try:
            spec = self._specs.get(record.name)
            if spec is None:
                raise RecoveryError(
                    correlation_id,
                    f"no {record.kind} named {record.name!r} is registered with this engine; register it "
                    "first",
                )
            change = describe_change(record.fingerprint, fingerprint_of(spec))
            if change is not None:
                raise RecoveryError(
                    correlation_id,
                    f"{record.kind} {record.name!r} changed since it started ({change}); run the "
                    "definition it started with to finish it",
                )
            stored = await durability.get(correlation_id)
            assert stored is not None
            replay = replay_of(stored, durability.registry)
            value = decode(record.input, durability.registry)
            return await self._run_recovered(spec, value, correlation_id, dict(record.headers), replay)
        except BaseException:
            # Claimed but not run to its end here (its input no longer fits, say): not renewed for
            # nothing, and another attempt can take it.
            await durability.give_up(correlation_id)
            raise

    async def _run_recovered(
        self, spec: Any, value: Any, correlation_id: str, headers: dict[str, str], replay: dict[str, Any]
    ) -> Any:
        raise NotImplementedError


    def _registered(self, spec: Any) -> None:
        """Remember a registered definition (recovery resumes only those) and sweep its orphans if asked."""
        with self._lock:
            known = self._specs.get(spec.name)
            self._specs[spec.name] = spec
            self._transactions.setdefault(spec.name, 0)
        if known is None and self.settings.persistence.recover_on_start and self._durability is not None:
            self._sweep_in_background(spec.name)

    def _sweep_in_background(self, name: str) -> None:
        """Recover ``name``'s orphaned transactions on the engine's private loop, without blocking."""
        durability = self._durability
        if durability is None:
            return
        with self._lock:
            if self._sync_loop is None:
                self._sync_loop = LoopThread.acquire()
            loop = self._sync_loop.loop
        future = asyncio.run_coroutine_threadsafe(self._sweep(durability, name), loop)
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    async def _sweep(self, durability: Durability, name: str) -> None:
        try:
            results = await self._recover_all(durability, name)
        except Exception:
            _log.exception("recovering the unfinished %r transactions at start failed", name)
            return
        if results:
            _log.info("recovered %d unfinished %r transactions at start", len(results), name)
