"""The shared durable store (``redis://`` / ``rediss://``): many processes and machines, one server.

Every write is a Lua function (``_redis_scripts``), so what it checks and what it changes happen
atomically on the server. Writes are batched: while one round trip is in flight, the writes asked
for meanwhile wait, and go together, in order, in the next script call. A caller is answered only
when the server has answered that call, so nothing is acknowledged before Redis has it. How
durable "has it" is depends on the server's ``appendonly`` and ``appendfsync`` settings
(``always``: on disk; ``everysec``: up to a second may be lost in a machine crash; no AOF: lost
with the server). A batch is one script, so one Redis server is needed (no cluster).

The store is used from one event loop (the client's connections belong to it). Finished records
expire after ``finished_ttl_s`` when it is set; ids of expired records are dropped from the
listing indexes when a listing meets them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from . import _redis_scripts as scripts
from ._config import mask_url
from ._errors import PersistenceError, StoreUnavailableError
from ._model import (
    DEAD,
    RUNNING,
    Checkpoint,
    NewTransaction,
    StoredTransaction,
    TransactionRecord,
    compact_json,
)
from ._rules import check_writable, missing, with_status

__all__ = ["RedisStore"]

_CHUNK = 500
_MAX_BATCH = 1000
_MAX_IN_FLIGHT = 8
"""Operations in one script call: a script blocks the server while it runs, so batches stay short."""


def _fields(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _result_json(result: Any) -> str:
    """A final result summary as JSON; one that is not plain JSON (a NaN) is refused, not stored."""
    return json.dumps(result, separators=(",", ":"), allow_nan=False)


def _checkpoint(value: str) -> Checkpoint:
    seq, at, doc = value.split(" ", 2)
    return Checkpoint.from_json(doc, seq=int(seq), at=float(at))


_KNOWN_MAX = 100_000
"""Running records whose unchanging fields a store keeps (see ``_remember``)."""

_MAX_CONNECTIONS = 64
"""Connections one store opens at most; writes go in batches over one, reads take one each."""


class RedisStore:
    """Records in Redis (or Valkey), written by Lua scripts sent in pipelines."""

    loop_bound = True
    """redis-py's asyncio client belongs to the event loop it first ran on."""

    def __init__(
        self, url: str, *, key_prefix: str = "fireflytx:", finished_ttl_s: int | None = None
    ) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ImportError(
                "the Redis transaction store needs the redis package: pip install 'fireflytx[redis]'"
            ) from None
        from redis import exceptions

        self._url = url
        self._prefix = key_prefix
        self._ttl = finished_ttl_s or 0
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No automatic resend: a write whose answer was lost may have run, and running it again would
        # change its answer (a create would report "exists"). The caller gets StoreUnavailableError.
        # A blocking pool: a burst of concurrent reads (a recovery sweep) waits for a connection
        # instead of failing with "Too many connections" once the pool is full.
        self._pool: Any = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=_MAX_CONNECTIONS,
            timeout=30,
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=30,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=2,
        )
        self._client: Any = aioredis.Redis(connection_pool=self._pool)
        self._errors: tuple[type[BaseException], ...] = (exceptions.ConnectionError, exceptions.TimeoutError)
        self._noscript: type[BaseException] = exceptions.NoScriptError
        self._response_error: type[BaseException] = exceptions.ResponseError
        self._sha: str | None = None
        self._pending: list[tuple[str, list[str], list[Any], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._known: dict[str, tuple[str, str, Any, dict[str, str], str]] = {}
        """The unchanging fields of records this store created or claimed, until they end."""
        self._writers: list[Any] = []
        """Idle connections of the write batches (at most ``_MAX_IN_FLIGHT``), kept out of the pool."""

    @property
    def description(self) -> str:
        """The store's URL, password masked."""
        return mask_url(self._url)

    def __repr__(self) -> str:
        return f"RedisStore({self.description!r}, key_prefix={self._prefix!r})"

    def _unavailable(self, exc: BaseException) -> StoreUnavailableError:
        error = StoreUnavailableError(self.description, f"{type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error

    def _key(self, kind: str, correlation_id: str = "") -> str:
        return f"{self._prefix}{kind}{correlation_id}"

    async def ping(self) -> None:
        """Check that the server answers (raises ``StoreUnavailableError`` otherwise)."""
        await self._read(("PING",))

    async def _load_script(self) -> None:
        self._sha = await self._client.script_load(scripts.BATCH)

    def _run(self, operation: str, keys: list[str], args: list[str]) -> asyncio.Future[Any]:
        """Queue one operation for the next batch; the future of its own answer.

        A plain function returning the future, not a coroutine: one fewer frame to resume for
        every write.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((operation, keys, args, future))
        if len(self._sending) < _MAX_IN_FLIGHT:
            self._send_next()
        return future

    def _send_next(self) -> None:
        """Send what is queued as one batch, on a connection of its own.

        Up to ``_MAX_IN_FLIGHT`` batches are in flight at once: with ``appendfsync always`` the
        server fsyncs once per event-loop cycle for all its clients, so batches that arrive
        together share one fsync instead of queueing behind each other's. Each transaction's own
        writes stay in order, because its run waits for each checkpoint before the next.
        """
        batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
        task = asyncio.get_running_loop().create_task(self._deliver(batch))
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if self._pending and len(self._sending) < _MAX_IN_FLIGHT:
            self._send_next()

    async def _deliver(self, batch: list[tuple[str, list[str], list[Any], asyncio.Future[Any]]]) -> None:
        try:
            results = await self._send(batch)
        except self._errors as exc:
            results = [self._unavailable(exc)] * len(batch)
        except self._response_error as exc:
            results = [StoreUnavailableError(self.description, f"{type(exc).__name__}: {exc}")] * len(batch)
        except Exception as exc:  # an unexpected client failure fails the whole batch, with its cause
            results = [exc] * len(batch)
        for (_o, _k, _a, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _send(self, batch: list[tuple[str, list[str], list[str], asyncio.Future[Any]]]) -> list[Any]:
        # One argument for the whole batch: packing is then one JSON dump in native code, not a
        # Python loop per key. Every argument is a str, so no value needs JSON's float rules.
        payload = compact_json([(operation, keys, args) for operation, keys, args, _future in batch])
        if self._sha is None:
            await self._load_script()
        try:
            answers: list[Any] = await self._evalsha(payload)
        except self._noscript:
            # A restarted server has lost its script cache. The batch did not run: load and send again.
            await self._load_script()
            answers = await self._evalsha(payload)
        return answers

    async def _evalsha(self, payload: str) -> Any:
        """One script call on a write connection of the store's own.

        Straight on the connection, past the client's command layer (pool checkout and its lock,
        retry wrapper, response callbacks): that layer cost more than packing and parsing the
        batch. A connection that failed mid-call is in an unknown state, so it is closed, not reused.
        """
        connection = self._writers.pop() if self._writers else self._pool.make_connection()
        try:
            # One that broke while idle (a restarted server) is reconnected before anything is sent
            # on it. Every answer is read, so readable means closed.
            if connection.is_connected:
                try:
                    stale = await connection.can_read()
                except self._errors:
                    stale = True
                if stale:
                    await connection.disconnect()
            await connection.send_packed_command(
                connection.pack_command("EVALSHA", self._sha, 0, payload), check_health=False
            )
            answer = await connection.read_response()
        except BaseException:
            await connection.disconnect()
            raise
        self._writers.append(connection)
        return answer

    async def _read(self, *commands: tuple[str, ...]) -> list[Any]:
        # Reads (unlike writes) may be sent again: a connection that broke with a restarted server
        # is replaced by the client, and the second try meets the new server.
        for attempt in (1, 2):
            try:
                pipe = self._client.pipeline(transaction=False)
                for command in commands:
                    pipe.execute_command(*command)
                result: list[Any] = await pipe.execute()
                return result
            except self._errors as exc:
                if attempt == 2:
                    raise self._unavailable(exc) from exc
        raise AssertionError("unreachable")

    async def create(
        self, new: NewTransaction, *, owner: str, lease_s: float
    ) -> tuple[TransactionRecord, bool]:
        """See ``TransactionStore.create``."""
        headers = dict(new.headers)
        static = compact_json([new.kind, new.name, new.input, headers, new.fingerprint])
        cid = new.correlation_id
        created, answer = await self._run(
            "create",
            [self._key("tx:", cid), self._key("lease"), self._key("created")],
            [cid, repr(lease_s), owner, static],
        )
        if not created:
            return TransactionRecord.from_fields(_fields(answer)), False
        # Created: the script answers only the server's times; the rest is what was just sent.
        at, lease = float(answer[0]), float(answer[1])
        record = TransactionRecord(
            correlation_id=cid, kind=new.kind, name=new.name, status=RUNNING, input=new.input,
            headers=headers, fingerprint=new.fingerprint, owner=owner, lease_expires_at=lease,
            recovery_attempts=0, created_at=at, updated_at=at,
        )
        self._remember(record)
        return record, True

    def _remember(self, record: TransactionRecord) -> None:
        """Keep what never changes of a record this store runs, so that its end needs only a brief answer."""
        known = self._known
        if len(known) >= _KNOWN_MAX:  # runs that ended elsewhere (lease lost): forget the oldest
            del known[next(iter(known))]
        known[record.correlation_id] = (
            record.kind, record.name, record.input, record.headers, record.fingerprint
        )

    async def append(self, correlation_id: str, checkpoint: Checkpoint, *, owner: str) -> bool:
        """See ``TransactionStore.append``."""
        keys = [self._key("tx:", correlation_id), self._key("cp:", correlation_id)]
        answer = await self._run("append", keys, [owner, checkpoint.key, checkpoint.to_json()])
        if answer[0] == -1:
            self._refused(correlation_id, answer[1], owner)
        return bool(answer[0] == 1)

    def _refused(self, correlation_id: str, flat: Sequence[str], owner: str) -> None:
        record = TransactionRecord.from_fields(_fields(flat)) if flat else None
        check_writable(record, correlation_id, owner)
        raise PersistenceError(f"the store refused a write to {correlation_id!r} for no known reason")

    async def decide(self, correlation_id: str, decision: str, *, owner: str) -> str:
        """See ``TransactionStore.decide``."""
        answer = await self._run("decide", [self._key("tx:", correlation_id)], [owner, decision])
        if answer[0] == -1:
            self._refused(correlation_id, answer[1], owner)
        return str(answer[1])

    async def set_status(
        self, correlation_id: str, status: str, *, owner: str | None, result: Any = None
    ) -> TransactionRecord:
        """See ``TransactionStore.set_status``."""
        keys = [
            self._key("tx:", correlation_id),
            self._key("cp:", correlation_id),
            self._key("lease"),
            self._key("finished"),
        ]
        finished = status not in (RUNNING, DEAD)
        known = self._known.pop(correlation_id, None) if finished else None
        args = [
            correlation_id,
            status,
            owner or "",
            "0" if owner is None else "1",
            _result_json(result),
            str(self._ttl),
            "0" if known is None else "1",
        ]
        code, flat = await self._run("set_status", keys, args)
        if code == -1:
            if not flat:
                raise missing(correlation_id)
            with_status(
                TransactionRecord.from_fields(_fields(flat)), correlation_id, status, owner, result, 0.0
            )
            raise PersistenceError(
                f"the store refused to set {correlation_id!r} {status} for no known reason"
            )
        if known is not None:
            # The brief answer: what the end changed; the rest is what this store wrote at the start.
            kind, name, input_, headers, fingerprint = known
            now_owner, lease, recoveries, created, updated, decision = flat
            return TransactionRecord(
                correlation_id=correlation_id, kind=kind, name=name, status=status, input=input_,
                headers=headers, fingerprint=fingerprint, owner=now_owner or None,
                lease_expires_at=float(lease), recovery_attempts=int(recoveries), created_at=float(created),
                updated_at=float(updated), decision=decision or None, result=result,
            )
        return TransactionRecord.from_fields(_fields(flat), **({"result": result} if finished else {}))

    async def get(self, correlation_id: str) -> StoredTransaction | None:
        """See ``TransactionStore.get``."""
        flat, cps = await self._read(
            ("HGETALL", self._key("tx:", correlation_id)), ("HVALS", self._key("cp:", correlation_id))
        )
        if not flat:
            return None
        record = TransactionRecord.from_fields(flat if isinstance(flat, dict) else _fields(flat))
        checkpoints = sorted((_checkpoint(v) for v in cps), key=lambda c: c.seq)
        return StoredTransaction(record, tuple(checkpoints))

    async def _records(self, ids: Sequence[str]) -> list[TransactionRecord | None]:
        rows = await self._read(*(("HGETALL", self._key("tx:", cid)) for cid in ids))
        return [
            TransactionRecord.from_fields(r if isinstance(r, dict) else _fields(r)) if r else None
            for r in rows
        ]

    async def find(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        since: float | None = None,
        limit: int = 1000,
    ) -> list[TransactionRecord]:
        """See ``TransactionStore.find``."""
        found: list[TransactionRecord] = []
        start = 0
        low = "-inf" if since is None else repr(since)
        while len(found) < limit:
            (ids,) = await self._read(
                ("ZREVRANGEBYSCORE", self._key("created"), "+inf", low, "LIMIT", str(start), str(_CHUNK))
            )
            if not ids:
                break
            start += len(ids)
            records = await self._records(ids)
            gone = [cid for cid, r in zip(ids, records, strict=True) if r is None]
            if gone:
                await self._read(
                    ("ZREM", self._key("created"), *gone), ("ZREM", self._key("finished"), *gone)
                )
                start -= len(gone)
            found += [
                r
                for r in records
                if r is not None
                and (status is None or r.status == status)
                and (name is None or r.name == name)
            ]
        return found[:limit]

    async def claim(
        self, correlation_id: str, *, owner: str, lease_s: float, max_recoveries: int | None = None
    ) -> TransactionRecord | None:
        """See ``TransactionStore.claim``."""
        most = -1 if max_recoveries is None else max_recoveries
        flat = await self._run(
            "claim",
            [self._key("tx:", correlation_id), self._key("lease")],
            [correlation_id, owner, repr(lease_s), str(most)],
        )
        if not flat:
            return None
        record = TransactionRecord.from_fields(_fields(flat))
        if record.owner == owner and record.status == RUNNING:
            self._remember(record)
        return record

    async def renew(self, owner: str, correlation_ids: Sequence[str], *, lease_s: float) -> set[str]:
        """See ``TransactionStore.renew``."""
        ids = list(correlation_ids)
        if not ids:
            return set()
        keys = [self._key("lease"), *(self._key("tx:", cid) for cid in ids)]
        kept = await self._run("renew", keys, [owner, repr(lease_s), *ids])
        return set(kept)

    async def release(self, correlation_id: str, *, owner: str) -> bool:
        """See ``TransactionStore.release``."""
        done = await self._run(
            "release", [self._key("tx:", correlation_id), self._key("lease")], [correlation_id, owner]
        )
        return bool(done)

    async def recoverable(self, *, limit: int = 100) -> list[TransactionRecord]:
        """See ``TransactionStore.recoverable``."""
        ids = await self._run("recoverable", [self._key("lease")], [str(limit)])
        if not ids:
            return []
        return [r for r in await self._records(ids) if r is not None and r.status == "RUNNING"]

    async def purge(self, older_than: float) -> int:
        """See ``TransactionStore.purge``."""
        purged = 0
        while True:
            (ids,) = await self._read(
                (
                    "ZRANGEBYSCORE",
                    self._key("finished"),
                    "-inf",
                    f"({older_than!r}",
                    "LIMIT",
                    "0",
                    str(_CHUNK),
                )
            )
            if not ids:
                return purged
            commands: list[tuple[str, ...]] = []
            for cid in ids:
                commands += [("DEL", self._key("tx:", cid)), ("DEL", self._key("cp:", cid))]
            commands += [("ZREM", self._key("created"), *ids), ("ZREM", self._key("finished"), *ids)]
            answers = await self._read(*commands)
            purged += sum(int(a) for a in answers[0 : 2 * len(ids) : 2])

    async def close(self) -> None:
        """Wait for the writes in flight, then close the connections."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        writers, self._writers = self._writers, []
        for connection in writers:
            await connection.disconnect()
        await self._client.aclose()
        await self._pool.disconnect()
