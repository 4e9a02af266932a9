"""Stores for the conformance suite: every store in the repository, each on a real backend.

``store`` is one fresh store per test (a new SQLite file, a new Redis key prefix); ``store_pair``
is two independent clients of one backend (two connections to one SQLite file, two Redis
clients), so that races between them are races between processes, not between tasks of one.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from valkey_server import ValkeyProcess

from fireflytx._persistence import MemoryStore, SqliteStore, TransactionStore
from fireflytx._persistence._redis import RedisStore

STORES = ["memory", "sqlite", "redis"]
_prefixes = itertools.count()


@pytest.fixture(scope="session")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyProcess]:
    """One real server for the session (fails, never skips, if it cannot start)."""
    server = ValkeyProcess(tmp_path_factory.mktemp("valkey"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def valkey_restartable(tmp_path: Path) -> Iterator[ValkeyProcess]:
    """A server of this test's own, which the test may kill and restart."""
    server = ValkeyProcess(tmp_path / "valkey")
    server.start()
    yield server
    server.stop()


def _prefix() -> str:
    return f"t{next(_prefixes)}:"


async def _open(kind: str, tmp_path: Path, request: pytest.FixtureRequest, prefix: str) -> TransactionStore:
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path / "tx.db")
    server: ValkeyProcess = request.getfixturevalue("valkey")
    store = RedisStore(server.url, key_prefix=prefix)
    await store.ping()
    return store


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TransactionStore]:
    opened = await _open(request.param, tmp_path, request, _prefix())
    yield opened
    await opened.close()


@pytest.fixture(params=STORES)
async def store_pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[TransactionStore, TransactionStore]]:
    prefix = _prefix()
    first = await _open(request.param, tmp_path, request, prefix)
    second = first if request.param == "memory" else await _open(request.param, tmp_path, request, prefix)
    yield first, second
    await first.close()
    if second is not first:
        await second.close()
