"""The three entry points: a transaction's shape before it runs, and a run's story after."""

from __future__ import annotations

from typing import Any, overload

from .._effective import effective
from .._saga._definition import SagaSpec
from .._saga._results import SagaResult
from .._spec import spec_of as _own_spec
from .._tcc._definition import TccSpec
from .._tcc._results import TccResult
from ..config import FireflyTxSettings
from ..errors import DefinitionError
from ._saga import SagaTopology, saga_topology
from ._saga_run import SagaRunView, saga_run_view
from ._tcc import TccTopology, tcc_topology
from ._tcc_run import TccRunView, tcc_run_view
from ._timeline import Timeline

__all__ = ["Topology", "run_view", "spec_of", "timeline", "topology"]

Topology = SagaTopology | TccTopology
"""The topology of either kind of transaction; ``kind`` tells which."""


def spec_of(transaction: Any) -> SagaSpec | TccSpec:
    """The spec of a ``@saga`` or ``@tcc`` class, an instance of one, or a spec itself.

    Raises:
        DefinitionError: it is neither (a subclass must be decorated again).
    """
    if isinstance(transaction, SagaSpec | TccSpec):
        return transaction
    subject, spec = _own_spec(transaction)
    if isinstance(spec, SagaSpec | TccSpec):
        return spec
    raise DefinitionError(
        subject,
        [
            "is not a saga or a TCC: decorate the class with @saga('name') or @tcc('name') "
            "(subclasses must be decorated again)"
        ],
    )


@overload
def topology(transaction: SagaSpec, settings: FireflyTxSettings | None = None) -> SagaTopology: ...
@overload
def topology(transaction: TccSpec, settings: FireflyTxSettings | None = None) -> TccTopology: ...
@overload
def topology(transaction: Any, settings: FireflyTxSettings | None = None) -> SagaTopology | TccTopology: ...
def topology(transaction: Any, settings: FireflyTxSettings | None = None) -> SagaTopology | TccTopology:
    """The shape of a saga or TCC, without running it or starting the JVM.

    Use it to review a transaction before it runs: for a saga, which steps run in which layer,
    what each waits for, how often it is retried and how it is undone; for a TCC, its
    participants in try order with their try, confirm and cancel settings. ``print()`` shows the
    ASCII tree; ``to_dot()``, ``to_mermaid()``, ``to_json()`` and ``to_svg()`` draw the same facts.

    Args:
        transaction: A ``@saga`` or ``@tcc`` class, an instance of one, or its spec.
        settings: Show the retry, backoff, jitter and timeouts an engine with these settings
            uses where the decorators left them out (its ``steps``, ``compensations`` and ``tcc``
            defaults). Default: the built-in defaults.

    Returns:
        A ``SagaTopology`` or a ``TccTopology`` (``kind`` is ``"saga"`` or ``"tcc"``).

    Raises:
        DefinitionError: ``transaction`` was decorated with neither ``@saga`` nor ``@tcc``.
    """
    spec = spec_of(transaction)
    if settings is not None:
        spec = effective(spec, settings)
    return saga_topology(spec) if isinstance(spec, SagaSpec) else tcc_topology(spec)


@overload
def run_view(result: SagaResult, transaction: Any = None) -> SagaRunView: ...
@overload
def run_view(result: TccResult, transaction: Any = None) -> TccRunView: ...
def run_view(result: SagaResult | TccResult, transaction: Any = None) -> SagaRunView | TccRunView:
    """What a finished run did, drawn like the transaction's topology.

    Each saga step shows its status, attempts, duration and compensation; each TCC participant
    its status and the attempts of its try, confirm and cancel. A failed run shows at a glance
    where it broke and what was undone. A result carries no dependencies or method names; pass
    the class that ran to add them.

    Args:
        result: What ``SagaEngine.execute`` or ``TccEngine.execute`` returned.
        transaction: The ``@saga`` or ``@tcc`` class that produced ``result`` (optional).

    Raises:
        DefinitionError: ``transaction`` is not a saga or TCC class.
        ValueError: ``transaction`` is not the one that produced ``result``.
        TypeError: ``result`` is neither a ``SagaResult`` nor a ``TccResult``.
    """
    shape = topology(transaction) if transaction is not None else None
    if isinstance(result, SagaResult):
        if shape is not None and not isinstance(shape, SagaTopology):
            raise ValueError(f"a SagaResult cannot be drawn with the TCC {shape.class_name}")
        return saga_run_view(result, shape)
    if isinstance(result, TccResult):
        if shape is not None and not isinstance(shape, TccTopology):
            raise ValueError(f"a TccResult cannot be drawn with the saga {shape.class_name}")
        return tcc_run_view(result, shape)
    raise TypeError(f"run_view() takes a SagaResult or a TccResult, not {type(result).__name__}")


def timeline(result: SagaResult | TccResult, transaction: Any = None) -> Timeline:
    """When each attempt of a run happened, as a Gantt-style chart.

    Saga steps and compensations, or TCC tries, confirms and cancels, each get a lane; retries
    show as separate bars with the wait between them, so slow or flaky work stands out.
    ``to_svg()`` and ``to_html()`` write it, and notebooks display it inline.

    Args:
        result: What ``SagaEngine.execute`` or ``TccEngine.execute`` returned.
        transaction: The class that produced ``result``, to add method names and layer order.

    Raises:
        TypeError: ``result`` is neither a ``SagaResult`` nor a ``TccResult``.
    """
    return run_view(result, transaction).timeline()
