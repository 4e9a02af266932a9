"""What ``SagaEngine`` and ``TccEngine`` share above ``EngineBase``: definitions, recovery, ``execute_sync``.

Both engines take a definition the same way (its effective spec for this engine's settings,
registered with the bridge and remembered for recovery), resume a recovered run through their
own ``_launch`` and offer a blocking twin of ``execute``. Only what a run of each kind needs
differs, so each engine keeps its own ``execute`` (the per-run path, one call to ``_launch``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Concatenate, Generic, Literal, ParamSpec, TypeAlias, TypeVar

from ._effective import EffectiveSpecs
from ._lifecycle import EngineBase
from ._saga._definition import SagaSpec
from ._tcc._definition import TccSpec
from .config import FireflyTxSettings

__all__ = ["DefinitionEngine", "Headers", "Replay", "blocking_twin"]

Headers: TypeAlias = Mapping[str, str] | None
"""A run's headers as ``execute`` takes them."""
Replay: TypeAlias = Mapping[str, tuple[Any, BaseException | None]] | None
"""Checkpoints a recovered run replays (unit id to its result or error); None for a new run."""

S = TypeVar("S", SagaSpec, TccSpec)
E = TypeVar("E", bound=EngineBase)
P = ParamSpec("P")
T = TypeVar("T")


class DefinitionEngine(EngineBase, Generic[S]):
    """An engine of one kind of definition.

    Subclasses set ``_kind`` and ``_definition_of`` and write ``_launch``.
    """

    @staticmethod
    def _definition_of(definition: Any, /) -> Any:
        """The kind's spec lookup (``definition_of``, ``tcc_definition_of``): raises ``DefinitionError``."""
        raise NotImplementedError

    def __init__(
        self,
        settings: FireflyTxSettings | None = None,
        *,
        listeners: Iterable[Any] = (),
        max_in_flight: int | None = None,
        when_full: Literal["wait", "fail"] | None = None,
    ) -> None:
        super().__init__(settings, listeners, max_in_flight, when_full)
        self._effective = EffectiveSpecs(self.settings)

    def register(self, definition: Any) -> S:
        """Check a ``@saga`` or ``@tcc`` class and translate it for the engine now, not at its first run.

        Returns the spec this engine runs: retries, backoffs, jitter and timeouts the decorators
        left out are this engine's settings' defaults (``steps`` and ``compensations`` for a saga,
        ``tcc`` for a TCC).

        Raises:
            DefinitionError: the class is not a valid definition of this engine's kind.
            EngineNotStartedError: the engine is not running.
        """
        effective: S = self._effective.of(definition, self._definition_of)
        self._running()[0].register(effective)
        self._registered(effective)
        return effective

    def _launch(
        self, spec: Any, input: Any, correlation_id: str | None, headers: Headers, replay: Replay
    ) -> Coroutine[Any, Any, Any]:
        """Check and prepare one run of ``spec``; the coroutine returned runs it to its result."""
        raise NotImplementedError

    async def _run_recovered(
        self, spec: Any, value: Any, correlation_id: str, headers: dict[str, str], replay: dict[str, Any]
    ) -> Any:
        return await self._launch(spec, value, correlation_id, headers, replay)


def blocking_twin(
    execute: Callable[Concatenate[E, P], Coroutine[Any, Any, T]], units: str
) -> Callable[Concatenate[E, P], T]:
    """``execute_sync`` made of ``execute``: the same parameters, run to its end on the private loop.

    The twin takes its signature from ``execute`` (``inspect.signature`` and type checkers show
    the same parameters), so the two cannot drift apart. ``units`` names what runs as async code
    in its docstring: ``"steps"`` or ``"phase methods"``.
    """

    @functools.wraps(execute)
    def execute_sync(self: E, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._blocking(lambda: execute(self, *args, **kwargs))

    execute_sync.__name__ = "execute_sync"
    execute_sync.__qualname__ = execute.__qualname__.rpartition(".")[0] + ".execute_sync"
    execute_sync.__doc__ = f"""Blocking ``execute`` for scripts; async {units} run on a private event loop.

        Raises:
            FireflyTxError: called from inside a running event loop (use ``await engine.execute``).
        """
    return execute_sync
