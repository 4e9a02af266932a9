"""How a saga or TCC result shows itself: as JSON, as its repr, and as a table in a console or notebook.

Both kinds of result are a run (name, status, times, context) over one row per unit, a step or a
participant; only the unit's columns differ, so each view is written once here and each result
passes its own words and cells.
"""

from __future__ import annotations

import enum
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from ._outcomes import json_time
from ._values import to_jsonable

__all__ = ["STATUS_STYLE", "DeferredUnits", "ResultView", "Shown", "UnitRow", "attempted_json"]

STATUS_STYLE = {
    "SUCCEEDED": "green",
    "CONFIRMED": "green",
    "COMPENSATED": "yellow",
    "CANCELED": "yellow",
    "FAILED": "red",
    "TRIED": "red",
    "COMPENSATION_FAILED": "bold red",
    "CONFIRM_FAILED": "bold red",
    "CANCEL_FAILED": "bold red",
    "NOT_RUN": "dim",
    "SKIPPED": "dim",
}
"""The console colour of a step's or participant's status, by its value (a ``StrEnum`` member is one)."""


UnitRow = tuple[str, str, enum.StrEnum, Sequence[str]]
"""One unit's row: its id, a tag shown after the id in consoles, its status, then its other cells."""


@dataclass(frozen=True, slots=True)
class Shown:
    """What differs between how a saga result and a TCC result show themselves.

    ``kind`` names the result's ``<kind>_name`` field and titles its views; ``units`` is its field
    of unit outcomes by id; ``failed`` its fields after the run's facts in JSON; ``first_failed``
    the one its repr shows when set; ``columns`` and ``row`` make its table.
    """

    kind: str
    units: str
    failed: tuple[str, ...]
    first_failed: str
    columns: tuple[str, ...]
    row: Callable[[Any], UnitRow]


class _Result(Protocol):
    @property
    def _shown(self) -> Shown: ...
    @property
    def correlation_id(self) -> str: ...
    @property
    def status(self) -> enum.Enum: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def completed_at(self) -> datetime: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def is_success(self) -> bool: ...
    @property
    def context(self) -> dict[str, Any]: ...


class ResultView:
    """The views of a saga or TCC result: JSON, repr, and a table for consoles and notebooks.

    A result class sets ``_shown`` to what differs (see ``Shown``).
    """

    __slots__ = ()

    def to_json_dict(self: _Result) -> dict[str, Any]:
        """A JSON-compatible view (results converted, exceptions as type, message and traceback)."""
        shown = self._shown
        failed = {}
        for key in shown.failed:
            value = getattr(self, key)
            failed[key] = list(value) if isinstance(value, tuple) else value
        units: Mapping[str, Any] = getattr(self, shown.units)
        return {
            f"{shown.kind}_name": _name(self),
            "correlation_id": self.correlation_id,
            "status": self.status.value,
            "started_at": json_time(self.started_at),
            "completed_at": json_time(self.completed_at),
            "duration_ms": float(self.duration_ms),
            **failed,
            "is_success": self.is_success,
            "context": to_jsonable(self.context),
            shown.units: {k: v.to_json_dict() for k, v in units.items()},
        }

    def __repr__(self: _Result) -> str:
        shown = self._shown
        failed = getattr(self, shown.first_failed)
        failed_text = f", {shown.first_failed}={failed!r}" if failed else ""
        units = f"{shown.units}={len(getattr(self, shown.units))}"
        return (
            f"{type(self).__name__}({_name(self)!r}, status={self.status.value}, {units}"
            f"{failed_text}, duration_ms={self.duration_ms:.1f})"
        )

    __str__ = __repr__

    def __rich__(self: _Result) -> Any:
        """A table of the units (steps or participants), for rich consoles."""
        from rich.table import Table

        shown = self._shown
        table = Table(title=f"{shown.kind} {_name(self)} · {self.status.value} · {self.duration_ms:.1f} ms")
        for column in shown.columns:
            table.add_column(column)
        for outcome in getattr(self, shown.units).values():
            unit_id, tag, status, cells = shown.row(outcome)
            table.add_row(unit_id + tag, f"[{STATUS_STYLE[status]}]{status.value}[/]", *cells)
        return table

    def _repr_html_(self: _Result) -> str:
        shown = self._shown
        rows = (shown.row(outcome) for outcome in getattr(self, shown.units).values())
        body = "".join(
            f"<tr><td>{html.escape(unit_id)}</td><td>{status.value}</td>"
            + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
            + "</tr>"
            for unit_id, _, status, cells in rows
        )
        head = "".join(f"<th>{column}</th>" for column in shown.columns)
        return (
            f"<p><b>{shown.kind} {html.escape(_name(self))}</b> · {self.status.value} · "
            f"{self.duration_ms:.1f} ms · <code>{html.escape(self.correlation_id)}</code></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def _name(result: _Result) -> str:
    """The result's ``saga_name`` or ``tcc_name``."""
    name: str = getattr(result, f"{result._shown.kind}_name")
    return name


def attempted_json(outcome: Any) -> dict[str, Any]:
    """The JSON of what a step or TCC phase did: status, attempts, duration, times and error."""
    return {
        "status": outcome.status.value,
        "attempts": outcome.attempts,
        "duration_ms": float(outcome.duration_ms),
        "started_at": json_time(outcome.started_at),
        "completed_at": json_time(outcome.completed_at),
        "error": None if outcome.error is None else outcome.error.to_json_dict(),
    }


U = TypeVar("U")
S = TypeVar("S", bound=enum.StrEnum)


def _rebuilt(cls: type[DeferredUnits[Any, Any]], values: tuple[Any, ...], units: dict[str, Any]) -> Any:
    result = object.__new__(cls)
    for f, value in zip((f for f in fields(cls) if f.init), values, strict=True):
        object.__setattr__(result, f.name, value)
    object.__setattr__(result, "_units", units)
    object.__setattr__(result, "_build", None)
    return result


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class DeferredUnits(ResultView, Generic[U, S]):
    """What a saga result and a TCC result share: the run's facts, and unit outcomes built when first read.

    Most callers only check ``status``: a run hands over a builder instead of building a record
    per unit and per attempt (times, errors) that nobody may read. Until it is called the builder
    is all the result holds of the run, and it is dropped once called. It must therefore not
    reference the run's instances, event loop or executor: a result outlives its run.

    A subclass adds its ``<kind>_name`` and failure fields, sets ``_success`` to its status of
    success, and reads its units with ``_units_now``.
    """

    _shown: ClassVar[Shown]
    _success: ClassVar[enum.StrEnum]
    _units: dict[str, U] | None = field(default=None, init=False, repr=False)
    _build: Callable[[], dict[str, U]] | None = field(default=None, init=False, repr=False)
    correlation_id: str
    status: S
    started_at: datetime
    completed_at: datetime
    duration_ms: float
    context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def deferred(cls, values: dict[str, Any], units: Callable[[], dict[str, U]]) -> Self:
        """A result made of ``values`` (its fields) whose units ``units()`` builds when first read."""
        result = cls(**values)
        object.__setattr__(result, "_build", units)
        return result

    @property
    def is_success(self) -> bool:
        """True when the run ended in its kind's success: every step succeeded, or every confirm did."""
        return self.status is self._success

    def _units_now(self) -> dict[str, U]:
        units = self._units
        if units is None:
            build = self._build
            if build is None:
                name = type(self).__name__
                raise RuntimeError(
                    f"this {name} has no outcomes for its {self._shown.units}: build it with {name}.deferred"
                )
            units = build()
            object.__setattr__(self, "_units", units)
            object.__setattr__(self, "_build", None)
        return units

    def _public(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self) if f.init)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, DeferredUnits)
        return self._public() == other._public() and self._units_now() == other._units_now()

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        # The builder never travels: it belongs to the run's process. A reduce of its own also keeps
        # each slotted subclass from pickling through the state functions dataclasses give it.
        return _rebuilt, (type(self), self._public(), self._units_now())
