"""A store of a user's own, opened through ``store_factory`` (here simply SQLite behind another URL)."""

from __future__ import annotations

from fireflytx._persistence import SqliteStore
from fireflytx.persistence import PersistenceConfig, TransactionStore

OPENED: list[str] = []


async def open_mine(config: PersistenceConfig) -> TransactionStore:
    OPENED.append(config.url)
    return SqliteStore(config.url.removeprefix("mine://"))


def open_nothing(config: PersistenceConfig) -> object:
    return object()
