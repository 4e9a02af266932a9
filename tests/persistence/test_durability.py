"""What a store keeps through crashes: of the writing process (SIGKILL), of the Redis server, and
between processes racing for the same transactions. Every process and server here is real."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from valkey_server import ValkeyProcess

from fireflytx._persistence import Checkpoint, NewTransaction, SqliteStore, TransactionStore, open_store
from fireflytx._persistence._errors import StoreUnavailableError
from fireflytx._persistence._redis import RedisStore

CHILD = Path(__file__).with_name("store_child.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def _url(kind: str, tmp_path: Path, server: ValkeyProcess | None) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    assert server is not None
    return server.url


@pytest.fixture(params=["sqlite", "redis"])
def durable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    server = request.getfixturevalue("valkey_restartable") if request.param == "redis" else None
    return _url(request.param, tmp_path, server)


async def test_every_acknowledged_write_survives_a_sigkill_of_the_writer(durable_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "write", durable_url, "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert child.stdout is not None
    acked: list[tuple[str, str]] = []
    try:
        for line in child.stdout:
            if line.startswith("ACK "):
                _, cid, unit = line.split()
                acked.append((cid, unit))
            if len(acked) >= 90 or line.startswith("DONE"):
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        _, errors = child.communicate(timeout=30)
    assert len(acked) >= 90, f"the writer stopped early: {errors}"
    store = await open_store(durable_url)
    try:
        for cid, unit in acked:
            stored = await store.get(cid)
            assert stored is not None, f"{cid} was acknowledged but is gone"
            if unit != "-":
                assert stored.checkpoint("step", unit) is not None, (
                    f"{cid}/{unit} was acknowledged but is gone"
                )
    finally:
        await store.close()


async def test_two_claimer_processes_each_claim_an_orphan_once(durable_url: str) -> None:
    store = await open_store(durable_url)
    for i in range(50):
        new = NewTransaction(correlation_id=f"orphan{i}", kind="saga", name="s", input=i)
        await store.create(new, owner="crashed", lease_s=0)
    procs = [
        subprocess.Popen(
            [sys.executable, str(CHILD), "claim", durable_url, "orphan", "50"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "READY"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    won = [line.split()[1] for out, _ in outputs for line in out.splitlines() if line.startswith("WON ")]
    assert sorted(won) == sorted(f"orphan{i}" for i in range(50)), "each orphan is claimed exactly once"
    for i in range(50):
        stored = await store.get(f"orphan{i}")
        assert stored is not None and stored.record.recovery_attempts == 1
    await store.close()


async def test_sqlite_keeps_everything_when_reopened(tmp_path: Path) -> None:
    store: TransactionStore = SqliteStore(tmp_path / "tx.db", synchronous="NORMAL")
    await store.create(
        NewTransaction(correlation_id="t", kind="tcc", name="n", input=[1]), owner="o", lease_s=60
    )
    await store.decide("t", "CONFIRM", owner="o")
    await store.close()
    again = await open_store(f"sqlite:///{tmp_path / 'tx.db'}")
    stored = await again.get("t")
    assert stored is not None and stored.record.decision == "CONFIRM" and stored.record.input == [1]
    await again.close()


async def test_redis_server_crash_loses_no_acknowledged_write_and_fails_writes_cleanly_meanwhile(
    valkey_restartable: ValkeyProcess,
) -> None:
    store = RedisStore(valkey_restartable.url)
    await store.ping()
    await store.create(
        NewTransaction(correlation_id="t", kind="saga", name="n", input=None), owner="o", lease_s=60
    )

    def cp(unit: str) -> Checkpoint:
        return Checkpoint(phase="step", unit_id=unit, attempts=1, idempotency_key=unit, result=unit)

    assert all(await asyncio.gather(*(store.append("t", cp(f"u{i}"), owner="o") for i in range(50))))
    valkey_restartable.kill()
    with pytest.raises(StoreUnavailableError) as down:
        await store.append("t", cp("during"), owner="o")
    assert down.value.__cause__ is not None
    valkey_restartable.start()
    await store.ping()
    assert await store.append("t", cp("after"), owner="o")
    stored = await store.get("t")
    assert stored is not None
    assert {c.unit_id for c in stored.checkpoints} == {f"u{i}" for i in range(50)} | {"after"}
    await store.close()


async def test_redis_finished_records_expire_after_the_retention_time(valkey: ValkeyProcess) -> None:
    store = RedisStore(valkey.url, key_prefix="ttl:", finished_ttl_s=3600)
    new = NewTransaction(correlation_id="t", kind="saga", name="n", input=None)
    await store.create(new, owner="o", lease_s=60)
    await store.append("t", Checkpoint(phase="step", unit_id="a", attempts=1, idempotency_key="k"), owner="o")
    [running_ttl] = await store._read(("TTL", "ttl:tx:t"))
    assert running_ttl == -1, "a running transaction never expires"
    await store.set_status("t", "SUCCEEDED", owner="o")
    ttls = await store._read(("TTL", "ttl:tx:t"), ("TTL", "ttl:cp:t"))
    assert all(0 < t <= 3600 for t in ttls)
    await store.close()


async def test_redis_with_a_password(tmp_path: Path) -> None:
    server = ValkeyProcess(tmp_path / "pw")
    server.start()
    try:
        await _set_password(server.url, "s3cret")
        with pytest.raises(StoreUnavailableError):
            await open_store(server.url)
        url = f"redis://:s3cret@127.0.0.1:{server.port}/0"
        store = await open_store(url)
        assert "s3cret" not in store.description and "s3cret" not in repr(store)
        record, created = await store.create(
            NewTransaction(correlation_id="t", kind="saga", name="n", input=None), owner="o", lease_s=60
        )
        assert created and record.owner == "o"
        await store.close()
    finally:
        server.stop()


async def _set_password(url: str, password: str) -> None:
    store = RedisStore(url)
    await store._read(("CONFIG", "SET", "requirepass", password))
    await store.close()


async def test_one_process_claims_an_orphan_once_however_many_of_its_paths_ask(tmp_path: Path) -> None:
    # A recovered parent resuming its sub-saga and the sweep of orphans can meet the same child in
    # one process; the store grants a claim again to its current owner, so the process must not.
    from fireflytx._persistence._config import PersistenceConfig
    from fireflytx._persistence._durable import Durability

    durability = Durability(PersistenceConfig(url=f"sqlite:///{tmp_path / 'claims.db'}"))
    try:
        new = NewTransaction(correlation_id="orphan", kind="saga", name="s", input=1)
        await durability.call(lambda s: s.create(new, owner="crashed", lease_s=0))
        claims = await asyncio.gather(*(durability.claim("orphan") for _ in range(5)))
        assert sum(claim is not None for claim in claims) == 1
        assert await durability.claim("orphan") is None  # it runs here now
        await durability.give_up("orphan")
        again = await durability.claim("orphan")  # given up: recoverable again
        assert again is not None and again.owner == durability.owner
    finally:
        durability.close()
