"""What the engines use of a bridge, and what the bridges use of the Java facade, as typed protocols.

The engines (``SagaEngine``, ``TccEngine``) know their bridge only through ``SagaBridgeLike`` and
``TccBridgeLike``, so a bridge can be replaced (or faked) without touching them. ``EngineFacade``
describes the Java class ``dev.fireflytx.bridge.EngineFacade`` that builds every engine object from
primitives: JPype resolves its calls only at run time, so this protocol is what lets mypy check
the Python side of each call. Java objects Python only hands back to Java are opaque
(``JavaObject``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    from .._saga._definition import SagaSpec
    from .._saga._run import SagaRun
    from .._tcc._definition import TccSpec
    from .._tcc._run import TccRun
    from ..config import CompensationPolicy

__all__ = ["EngineBridge", "EngineFacade", "JavaObject", "JavaTccEngine", "SagaBridgeLike", "TccBridgeLike"]


class JavaObject(Protocol):
    """An engine object (a definition, an engine, a registry) that Python passes back to Java unread."""


class JavaTccEngine(Protocol):
    """The Java ``TccEngine``: it runs a definition and answers with a ``Mono`` of its result."""

    def execute(self, definition: JavaObject, inputs: object, context: object, /) -> JavaObject:
        """Start a run of ``definition``; nothing happens until the returned ``Mono`` is subscribed."""
        ...


class SagaBridgeLike(Protocol):
    """What a ``SagaEngine`` needs of its bridge."""

    def register(self, spec: SagaSpec) -> JavaObject:
        """Translate ``spec`` for the engine (cached; again only when the spec changed).

        Raises:
            DefinitionError: the engine's validator rejects the saga.
        """
        ...

    def start(self, run: SagaRun, policy: CompensationPolicy | None, /) -> asyncio.Future[None]:
        """Start ``run`` on the engine; the future resolves once the engine's run has ended."""
        ...

    def error_of(self, run: SagaRun, error: object, /) -> BaseException | None:
        """The fireflytx error for the engine's own error that ended ``run`` (None: it ended normally)."""
        ...


class TccBridgeLike(Protocol):
    """What a ``TccEngine`` needs of its bridge."""

    def register(self, spec: TccSpec) -> JavaObject:
        """Translate ``spec`` for the engine (cached; again only when the spec changed)."""
        ...

    def start(self, run: TccRun, /) -> asyncio.Future[None]:
        """Start ``run`` on the engine; the future resolves once the engine's run has ended."""
        ...

    def error_of(self, run: TccRun, error: object, /) -> BaseException | None:
        """The fireflytx error for the engine's own error that ended ``run`` (None: it ended as recorded)."""
        ...


EngineBridge: TypeAlias = "SagaBridgeLike | TccBridgeLike"
"""The bridge a running engine holds."""


class EngineFacade(Protocol):
    """The Java facade's static methods, as JPype exposes them on the class (see ``EngineFacade.java``)."""

    NO_LIMIT_MS: int

    def saga(self, name: str, layer_concurrency: int, /) -> JavaObject:
        """An empty ``SagaDefinition``."""
        ...

    def addStep(
        self,
        saga: JavaObject,
        step_id: str,
        depends_on: Sequence[str],
        retry: int,
        backoff_ms: int,
        timeout_ms: int,
        idempotency_key: str | None,
        jitter: bool,
        jitter_factor: float,
        compensation_name: str | None,
        compensation_backoff_ms: int,
        compensation_critical: bool,
        unit_key: str,
        /,
    ) -> JavaObject:
        """Add a Python step to ``saga``; its handler queues the engine's requests under ``unit_key``."""
        ...

    def validate(self, saga: JavaObject, /) -> Sequence[str]:
        """The engine validator's errors; empty when ``saga`` is valid."""
        ...

    def sagaEngine(self, policy: str, /) -> JavaObject:
        """A saga engine for the named compensation policy."""
        ...

    def tccRegistry(self) -> JavaObject:
        """An empty ``TccRegistry``."""
        ...

    def tccEngine(self, registry: JavaObject, /) -> JavaTccEngine:
        """A Java ``TccEngine`` over ``registry``."""
        ...

    def tcc(self, name: str, /) -> JavaObject:
        """An empty ``TccDefinition``."""
        ...

    def addParticipant(
        self,
        tcc: JavaObject,
        participant_id: str,
        order: int,
        participant: object,
        try_retry: int,
        try_backoff_ms: int,
        confirm_timeout_ms: int,
        confirm_retry: int,
        confirm_backoff_ms: int,
        cancel_timeout_ms: int,
        cancel_retry: int,
        cancel_backoff_ms: int,
        /,
    ) -> JavaObject:
        """Add a Python participant (a Java ``PumpParticipant``) to ``tcc``."""
        ...
