"""Choosing a store from its URL (`memory://`, `sqlite:///path`, `redis://`, `rediss://`)."""

from __future__ import annotations

from pathlib import Path

from ._config import PersistenceConfig
from ._memory import MemoryStore
from ._protocol import TransactionStore
from ._sqlite import SqliteStore

__all__ = ["open_store"]


async def open_store(config: PersistenceConfig | str) -> TransactionStore:
    """Open the store a URL names, and check that it answers before anything runs on it.

    ``memory://``; ``sqlite:///relative/file.db`` or ``sqlite:////absolute/file.db``;
    ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://`` for TLS (redis-py's URL options
    such as ``ssl_cert_reqs`` apply).

    Raises:
        ValueError: the URL names no known store.
        StoreUnavailableError: the store cannot be opened or reached.
        ImportError: a Redis URL without the ``redis`` extra installed.
    """
    if isinstance(config, str):
        config = PersistenceConfig(url=config)
    url = config.url
    if url == "memory://":
        return MemoryStore()
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")), synchronous=config.sqlite_synchronous.value)
    if url.startswith(("redis://", "rediss://")):
        from ._redis import RedisStore

        store = RedisStore(url, key_prefix=config.key_prefix, finished_ttl_s=config.finished_ttl_s)
        try:
            await store.ping()
        except BaseException:
            await store.close()
            raise
        return store
    raise ValueError(f"unknown transaction store URL {url!r}: use memory://, sqlite:///path or redis://host")
