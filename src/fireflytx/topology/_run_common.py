"""What the views of a saga and a TCC share: finding a unit by id, and a run's facts and frame.

A saga's steps and a TCC's participants are looked up alike in their topologies and run views; a
run view of either kind carries the same facts of its run and titles its tree, diagram and
timeline the same way. Only the units and how they are drawn differ, in each kind's module.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from .._outcomes import AttemptRecord
from ._render import Diagram
from ._text import Tree, ms_between, ms_taken, shorten
from ._timeline import Lane, Timeline

__all__ = ["AttemptRun", "RunView", "add_attempts", "check_fits", "run_facts", "unit_by_id"]

U = TypeVar("U")


def unit_by_id(units: Sequence[U], id_field: str, unit_id: str, owner: str, *, list_known: bool = False) -> U:
    """The unit of ``units`` whose ``id_field`` (``"step_id"``, ``"participant_id"``) is ``unit_id``.

    Raises:
        KeyError: none is: ``<owner> has no step 'x'`` (the field's noun), then the ids there are
            if ``list_known``.
    """
    for unit in units:
        if getattr(unit, id_field) == unit_id:
            return unit
    noun = id_field.removesuffix("_id")
    known = f"; {noun}s: {[getattr(u, id_field) for u in units]}" if list_known else ""
    raise KeyError(f"{owner} has no {noun} {unit_id!r}{known}")


class AttemptRun(BaseModel):
    """An ``AttemptRecord`` placed on the run's time axis; ``error`` (its message) is None on success."""

    model_config = ConfigDict(frozen=True)

    number: int
    start_ms: float
    end_ms: float
    error: str | None = None

    @classmethod
    def of(cls, record: AttemptRecord, run_start: datetime) -> AttemptRun:
        """The record with its times as offsets from ``run_start``."""
        return cls(
            number=record.number,
            start_ms=ms_between(run_start, record.started_at),
            end_ms=ms_between(run_start, record.completed_at),
            error=None if record.error is None else record.error.message,
        )


def add_attempts(line: Tree, attempts: int, log: Iterable[AttemptRun], error: str | None) -> None:
    """Hang each attempt of a step or phase under its ``line`` after retries, else its error if any."""
    if attempts > 1:
        for attempt in log:
            took = ms_taken(attempt.end_ms - attempt.start_ms)
            outcome = f"✗ {shorten(attempt.error, 100)}" if attempt.error is not None else "✓"
            line.add(f"attempt {attempt.number} {outcome} · {took}")
    elif error is not None:
        line.add(shorten(error, 120))


class RunView(Diagram):
    """One run of a saga or a TCC: the facts every run has, above each kind's units."""

    kind: str
    name: str
    class_name: str | None
    correlation_id: str
    status: enum.StrEnum
    is_success: bool
    started_at: datetime
    completed_at: datetime
    duration_ms: float

    def _who(self) -> str:
        return f"{self.class_name} ({self.name})" if self.class_name else self.name

    def _title(self) -> str:
        return f"{self._who()} · {self.status.value} · {ms_taken(self.duration_ms)}"

    def _root(self) -> Tree:
        """The first line of the run's tree, to hang its units under."""
        return Tree(f"{self._title()} · correlation_id={self.correlation_id}")

    def _timeline(self, lanes: Iterable[Lane]) -> Timeline:
        """The run's timeline with ``lanes``, titled like its other views."""
        return Timeline(
            title=self._who(),
            subtitle=f"{self.status.value} · {ms_taken(self.duration_ms)} · "
            f"correlation_id={self.correlation_id}",
            ok=self.is_success,
            duration_ms=self.duration_ms,
            lanes=tuple(lanes),
        )


def check_fits(kind: str, name: str, topology: Any, missing: Sequence[str], units: str) -> None:
    """Refuse to draw the result of ``name`` with a ``topology`` of another definition.

    Raises:
        ValueError: ``topology`` is of another definition, or lacks the ``missing`` units.
    """
    if topology is not None and (topology.name != name or missing):
        raise ValueError(
            f"the result of {kind} {name!r} cannot be drawn with the topology of {kind} "
            f"{topology.name!r}" + (f" (it has no {units} {list(missing)})" if missing else "")
        )


def run_facts(result: Any, name: str, topology: Any) -> dict[str, Any]:
    """The ``RunView`` fields of ``result`` (a ``SagaResult`` or ``TccResult`` named ``name``)."""
    return {
        "name": name,
        "class_name": topology.class_name if topology is not None else None,
        "correlation_id": result.correlation_id,
        "status": result.status,
        "is_success": result.is_success,
        "started_at": result.started_at,
        "completed_at": result.completed_at,
        "duration_ms": result.duration_ms,
    }
