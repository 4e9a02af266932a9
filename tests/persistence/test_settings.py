"""Choosing a store by URL, with secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from valkey_server import free_port

from fireflytx._persistence import MemoryStore, SqliteStore, open_store
from fireflytx._persistence._config import PersistenceConfig
from fireflytx._persistence._errors import StoreUnavailableError


def test_the_password_in_the_url_is_masked() -> None:
    config = PersistenceConfig(url="rediss://app:s3cret@cache.internal:6380/2", finished_ttl_s=86400)
    assert config.url == "rediss://app:s3cret@cache.internal:6380/2" and config.finished_ttl_s == 86400
    for text in (repr(config), str(config)):
        assert "s3cret" not in text and "app:***@cache.internal:6380/2" in text


def test_memory_is_the_default_and_unknown_urls_are_refused() -> None:
    assert PersistenceConfig().url == "memory://"
    with pytest.raises(ValidationError):
        PersistenceConfig(url="postgres://db/x")


async def test_open_store_picks_the_store_by_url(tmp_path: Path) -> None:
    assert isinstance(await open_store("memory://"), MemoryStore)
    store = await open_store(
        PersistenceConfig(url=f"sqlite:///{tmp_path}/sub/tx.db", sqlite_synchronous="NORMAL")
    )
    assert isinstance(store, SqliteStore) and (tmp_path / "sub" / "tx.db").exists()
    await store.close()


async def test_an_unreachable_redis_fails_at_open_naming_the_store() -> None:
    url = f"redis://:pw@127.0.0.1:{free_port()}/0"
    with pytest.raises(StoreUnavailableError, match=r"redis://:\*\*\*@127\.0\.0\.1") as raised:
        await open_store(url)
    assert "pw@" not in str(raised.value) and raised.value.__cause__ is not None
