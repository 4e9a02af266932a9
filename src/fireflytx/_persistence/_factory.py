"""Choosing a store from its URL (`memory://`, `sqlite:///path`, `redis://`, `rediss://`)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

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
    if config.store_factory is not None:
        return await _own_store(config)
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


async def _own_store(config: PersistenceConfig) -> TransactionStore:
    """The store a ``store_factory`` opens, checked to keep the protocol."""
    assert config.store_factory is not None
    module_name, _, attribute = config.store_factory.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"store_factory {config.store_factory!r} cannot be imported: {exc}") from exc
    store = target(config)
    if inspect.isawaitable(store):
        store = await store
    if not isinstance(store, TransactionStore):
        raise TypeError(
            f"store_factory {config.store_factory!r} returned a {type(store).__name__}, which does not "
            "implement fireflytx.persistence.TransactionStore"
        )
    return store
