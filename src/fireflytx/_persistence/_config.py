"""Where transaction records are kept: the store's own settings, chosen by URL.

``FireflyTxSettings.persistence`` holds one of these (``FIREFLYTX_PERSISTENCE__URL`` and so on).
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["PersistenceConfig", "SqliteSynchronous", "mask_url"]


def mask_url(url: str) -> str:
    """``url`` with its password (the part after ``user:`` before ``@``) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    masked = f"{user}:***" if colon else user
    return f"{scheme}://{masked}@{host}{slash}{path}"


class SqliteSynchronous(enum.StrEnum):
    """SQLite's ``synchronous`` level for the store (in WAL mode).

    - ``FULL`` (default): every commit is fsynced before it is acknowledged; a checkpoint survives
      a machine crash or power loss.
    - ``NORMAL``: commits survive a crash of the process, but the last ones before a machine crash
      or power loss may be lost (the WAL is fsynced only at WAL checkpoints).
    """

    FULL = "FULL"
    NORMAL = "NORMAL"


class PersistenceConfig(BaseModel):
    """Where transaction records are kept: ``memory://``, ``sqlite:///path`` or ``redis://``/``rediss://``.

    A password in the URL is never shown: reprs and ``str()`` mask it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        default="memory://",
        pattern=r"^[a-z][a-z0-9+.-]*://.*$",
        description=(
            "memory:// (in-process), sqlite:///path/file.db, redis://[:password@]host:port/db, rediss://..., "
            "or any URL your store_factory understands"
        ),
    )
    store_factory: str | None = Field(
        default=None,
        pattern=r"^[\w.]+:[\w.]+$",
        description=(
            "`module:callable` that opens your own TransactionStore (PostgreSQL, say): called with this "
            "config, it returns the store or an awaitable of it. Used instead of the built-in stores."
        ),
    )
    key_prefix: str = Field(default="fireflytx:", description="Redis: prefix of every key the store writes.")
    finished_ttl_s: int | None = Field(
        default=None, ge=1, description="Redis: seconds a finished record is kept (None: until purged)."
    )
    sqlite_synchronous: SqliteSynchronous = SqliteSynchronous.FULL
    lease_s: float = Field(
        default=30.0, gt=0, description="How long a process owns a running transaction without a heartbeat."
    )
    heartbeat_s: float | None = Field(
        default=None,
        gt=0,
        description="Seconds between renewals of a process's leases (default: lease_s / 3).",
    )
    recover_on_start: bool = Field(
        default=False,
        description=(
            "When an engine starts, resume every unfinished transaction of a registered definition whose "
            "owner's lease has expired (in the background)."
        ),
    )
    wait_poll_s: float = Field(
        default=0.05,
        gt=0,
        description=(
            "How often an execute() with the correlation id of a transaction another process is running "
            "checks whether it has finished."
        ),
    )
    max_recoveries: int = Field(
        default=5,
        ge=1,
        description="Takeovers after lost leases before a transaction is set DEAD (ends a crash loop).",
    )

    @model_validator(mode="after")
    def _known_url(self) -> PersistenceConfig:
        builtin = self.url == "memory://" or self.url.startswith(("sqlite:///", "redis://", "rediss://"))
        if not builtin and self.store_factory is None:
            raise ValueError(
                f"unknown store URL {mask_url(self.url)!r}: use memory://, sqlite:///path/file.db or "
                "redis://host:port, or name your own store's opener in store_factory"
            )
        if self.url.startswith("sqlite:///") and len(self.url) == len("sqlite:///"):
            raise ValueError("sqlite:/// needs a file path: sqlite:///relative/file.db or sqlite:////absolute/file.db")
        return self

    @property
    def durable(self) -> bool:
        """Whether runs are journaled: ``memory://`` keeps nothing beyond the process, as without a store."""
        return self.url != "memory://" or self.store_factory is not None

    @property
    def heartbeat_interval_s(self) -> float:
        """Seconds between lease renewals."""
        return self.heartbeat_s if self.heartbeat_s is not None else self.lease_s / 3

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (mask_url(value) if name == "url" and isinstance(value, str) else value)
