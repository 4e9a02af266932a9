"""Many runs at once, as a table: one row per saga or TCC run.

A single result explains itself (``run_view``, ``timeline``); a thousand are only readable grouped
and plotted. ``results_rows`` needs nothing installed; ``results_frame`` gives a pandas
``DataFrame`` (``pip install 'fireflytx[notebook]'``) for ``groupby``, ``value_counts`` and plots.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypedDict

from ._saga._results import SagaResult
from ._tcc._results import TccPhaseStatus, TccResult

__all__ = ["ResultRow", "results_frame", "results_rows"]


class ResultRow(TypedDict):
    """One run: what ended it, where, and when."""

    kind: str
    """``saga`` or ``tcc``."""
    name: str
    correlation_id: str
    status: str
    failed_at: str | None
    """The first failed step (saga) or the failed participant (TCC)."""
    error_type: str | None
    error: str | None
    attempts: int
    """Every attempt of every step, compensation or phase."""
    undone: tuple[str, ...]
    """Steps compensated (saga) or participants cancelled (TCC)."""
    started_at: datetime
    completed_at: datetime
    duration_ms: float


def results_rows(results: Iterable[SagaResult | TccResult]) -> list[ResultRow]:
    """One row per result, in the order given.

    Raises:
        TypeError: an item is neither a ``SagaResult`` nor a ``TccResult``.
    """
    return [_row(result) for result in results]


def results_frame(results: Iterable[SagaResult | TccResult]) -> Any:
    """A pandas ``DataFrame`` with one row per result (columns as in ``ResultRow``).

    Raises:
        ImportError: pandas is not installed; install the ``notebook`` extra.
        TypeError: an item is neither a ``SagaResult`` nor a ``TccResult``.
    """
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(
            "results_frame() needs pandas: pip install 'fireflytx[notebook]' (or pandas itself); "
            "results_rows() gives the same rows as plain dicts"
        ) from exc
    return pandas.DataFrame(results_rows(results), columns=list(ResultRow.__annotations__))


def _row(result: SagaResult | TccResult) -> ResultRow:
    if isinstance(result, SagaResult):
        error = result.error
        steps = result.steps.values()
        return ResultRow(
            kind="saga", name=result.saga_name, correlation_id=result.correlation_id,
            status=result.status.value, failed_at=result.failed_step,
            error_type=None if error is None else error.type, error=None if error is None else error.message,
            attempts=sum(s.attempts + s.compensation_attempts for s in steps),
            undone=tuple(result.compensated_steps), started_at=result.started_at,
            completed_at=result.completed_at, duration_ms=float(result.duration_ms),
        )
    if isinstance(result, TccResult):
        error = result.error
        parts = result.participants.values()
        return ResultRow(
            kind="tcc", name=result.tcc_name, correlation_id=result.correlation_id,
            status=result.status.value, failed_at=result.failed_participant,
            error_type=None if error is None else error.type, error=None if error is None else error.message,
            attempts=sum(
                p.try_phase.attempts + p.confirm_phase.attempts + p.cancel_phase.attempts for p in parts
            ),
            undone=tuple(
                p.participant_id for p in parts if p.cancel_phase.status is TccPhaseStatus.SUCCEEDED
            ),
            started_at=result.started_at, completed_at=result.completed_at,
            duration_ms=float(result.duration_ms),
        )
    raise TypeError(f"results_rows() takes SagaResult and TccResult items, not {type(result).__name__}")
