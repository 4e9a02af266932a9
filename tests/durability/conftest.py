"""The two durable stores every crash scenario runs on: a SQLite file and a real Valkey server.

Each test gets its own: a fresh database file, or a server of its own (started on a free port with
``appendonly yes`` and ``appendfsync always``) that the test may kill and restart. A server that
cannot start fails the test; nothing here skips.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "persistence"))

from harness import Backend, kill_leftovers  # noqa: E402
from valkey_server import ValkeyProcess  # noqa: E402


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'tx.db'}")
        return
    server = ValkeyProcess(tmp_path / "valkey")
    server.start()
    try:
        yield Backend("redis", server.url, server)
    finally:
        server.stop()


@pytest.fixture
def redis_backend(tmp_path: Path) -> Iterator[Backend]:
    server = ValkeyProcess(tmp_path / "valkey")
    server.start()
    try:
        yield Backend("redis", server.url, server)
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def no_child_left() -> Iterator[None]:
    """A test that fails half-way leaves no child running (blocked, frozen or recovering)."""
    yield
    kill_leftovers()
