"""What SAGA and TCC results share: the error a call raised and the record of each attempt.

Both result kinds are assembled from the same kernel records, so these types live here rather
than in either variant's module. They are frozen, slotted dataclasses: the run builds them from
values it produced itself, so validating them would only cost time on the hot path.
"""

from __future__ import annotations

import traceback as _tb
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from ._core._attempt import safe_text
from .errors import RecordedFailure

__all__ = ["AttemptRecord", "StepError", "json_time"]

_TIME: TypeAdapter[datetime | None] = TypeAdapter(datetime | None)


def json_time(moment: datetime | None) -> Any:
    """A time as JSON, written exactly as the results' JSON has always written it (ISO 8601, ``Z``)."""
    return _TIME.dump_python(moment, mode="json")


@dataclass(frozen=True, slots=True)
class StepError:
    """An error raised by a step, compensation or TCC phase, kept readable after the run.

    ``exception`` is the very object that was raised; ``traceback`` is its formatted text, built on
    first use because formatting costs more than the rest of a failed run's bookkeeping, and kept
    when the error is pickled (pickling drops the exception's ``__traceback__``).
    """

    type: str
    message: str
    exception: BaseException | None = field(default=None, repr=False)
    _traceback: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def traceback(self) -> str:
        """The traceback text of the exception, as Python prints it."""
        text = self._traceback
        if text is None:
            exc = self.exception
            text = "" if exc is None else "".join(_tb.format_exception(type(exc), exc, exc.__traceback__))
            object.__setattr__(self, "_traceback", text)
        return text

    @classmethod
    def from_exception(cls, exc: BaseException) -> StepError:
        """Keep the exception itself, its type name and its message (a recorded one's original type)."""
        if isinstance(exc, RecordedFailure):
            return cls(exc.type_name, exc.message, exc)
        return cls(type(exc).__name__, safe_text(exc), exc)

    def __getstate__(self) -> tuple[str, str, BaseException | None, str]:
        return (self.type, self.message, self.exception, self.traceback)

    def __setstate__(self, state: tuple[str, str, BaseException | None, str]) -> None:
        for name, value in zip(("type", "message", "exception", "_traceback"), state, strict=True):
            object.__setattr__(self, name, value)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type

    def to_json_dict(self) -> dict[str, Any]:
        """Type, message and traceback text; the exception object itself does not go into JSON."""
        return {"type": self.type, "message": self.message, "traceback": self.traceback}


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt of a step, compensation or TCC phase; times are wall-clock.

    ``error`` is None for the attempt that succeeded.
    """

    number: int
    """1 for the first attempt."""
    started_at: datetime
    completed_at: datetime
    error: StepError | None

    @property
    def duration_ms(self) -> float:
        """How long the attempt took, in milliseconds."""
        return (self.completed_at - self.started_at).total_seconds() * 1000
