"""What a saga run produced: per-step outcomes built from what each step really did.

The engine's own ``SagaResult`` marks every completed step as compensated, ignores compensation
failures in ``isSuccess()`` and picks an arbitrary error when several steps failed; fireflytx
builds its result from its own record of every attempt and compensation instead.
"""

from __future__ import annotations

import enum
import functools
import html
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, computed_field

from ._values import to_jsonable
from .errors import CompensationError, StepFailedError

__all__ = ["SagaResult", "SagaStatus", "StepError", "StepOutcome", "StepStatus", "fast_model"]

M = TypeVar("M", bound=BaseModel)


class SagaStatus(enum.StrEnum):
    """How a saga run ended."""

    SUCCEEDED = "SUCCEEDED"
    """Every step succeeded."""
    COMPENSATED = "COMPENSATED"
    """A step failed and every completed step that has a compensation was compensated."""
    COMPENSATION_FAILED = "COMPENSATION_FAILED"
    """A step failed and at least one compensation failed after its retries."""
    FAILED = "FAILED"
    """A step failed and some compensations were skipped (for example by ``CIRCUIT_BREAKER``)."""


class StepStatus(enum.StrEnum):
    """How one step ended."""

    NOT_RUN = "NOT_RUN"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"
    COMPENSATION_FAILED = "COMPENSATION_FAILED"


def fast_model(cls: type[M], values: dict[str, Any]) -> M:
    """Build a model from values fireflytx produced itself, skipping validation (a hot path).

    ``values`` must name every field: defaults are not filled in.
    """
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


class StepError(BaseModel):
    """An error raised by a step or compensation, kept readable after the run.

    ``exception`` is the very object that was raised; ``traceback`` is its formatted text, built on
    first use because formatting costs more than the rest of a failed run's bookkeeping.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    type: str
    message: str
    exception: BaseException | None = Field(default=None, exclude=True, repr=False)

    @computed_field  # type: ignore[prop-decorator]
    @functools.cached_property
    def traceback(self) -> str:
        """The traceback text of the exception, as Python prints it."""
        exc = self.exception
        if exc is None:
            return ""
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def __getstate__(self) -> dict[Any, Any]:
        self.traceback  # noqa: B018 - pickling drops __traceback__, so keep the text
        return super().__getstate__()

    @classmethod
    def from_exception(cls, exc: BaseException) -> StepError:
        """Keep the exception itself, its type name and its message."""
        from ._core._attempt import safe_text

        return fast_model(cls, {"type": type(exc).__name__, "message": safe_text(exc), "exception": exc})

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


class StepOutcome(BaseModel):
    """One step's outcome; times are wall-clock, durations in milliseconds."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    step_id: str
    status: StepStatus
    attempts: int = 0
    duration_ms: float = 0.0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result: Any = None
    error: StepError | None = None
    has_compensation: bool = False
    compensated: bool = False
    compensation_attempts: int = 0
    compensation_error: StepError | None = None
    compensation_started_at: datetime | None = None
    compensation_completed_at: datetime | None = None
    attempt_log: tuple[tuple[datetime, datetime, str | None], ...] = Field(default=(), repr=False)


_STATUS_STYLE = {
    StepStatus.SUCCEEDED: "green",
    StepStatus.COMPENSATED: "yellow",
    StepStatus.FAILED: "red",
    StepStatus.COMPENSATION_FAILED: "bold red",
    StepStatus.NOT_RUN: "dim",
}


class SagaResult(BaseModel):
    """The outcome of one saga run.

    ``is_success`` is true only if every step succeeded. After a failure, ``status`` says whether the
    completed steps were undone (``COMPENSATED``), whether an undo failed (``COMPENSATION_FAILED``) or
    was skipped (``FAILED``).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    saga_name: str
    correlation_id: str
    status: SagaStatus
    started_at: datetime
    completed_at: datetime
    duration_ms: float
    failed_steps: tuple[str, ...] = ()
    compensated_steps: tuple[str, ...] = ()
    context: dict[str, Any] = Field(default_factory=dict)
    _outcomes: Callable[[], dict[str, StepOutcome]] | None = PrivateAttr(default=None)

    @computed_field  # type: ignore[prop-decorator]
    @functools.cached_property
    def steps(self) -> dict[str, StepOutcome]:
        """Step id to outcome, in declaration order.

        Built on first access: a caller that only checks ``status`` never pays for it.
        """
        build = self._outcomes
        if build is None:
            raise RuntimeError("this SagaResult has no step outcomes")
        return build()

    @classmethod
    def deferred(cls, values: dict[str, Any], outcomes: Callable[[], dict[str, StepOutcome]]) -> SagaResult:
        """A result whose ``steps`` are built by ``outcomes`` when first read."""
        result = fast_model(cls, values)
        object.__setattr__(result, "__pydantic_private__", {"_outcomes": outcomes})
        return result

    def __getstate__(self) -> dict[Any, Any]:
        self.steps  # noqa: B018 - materialise before the builder (which holds the run) is dropped
        state = super().__getstate__()
        state["__pydantic_private__"] = {"_outcomes": None}
        return state

    @property
    def is_success(self) -> bool:
        """True when every step succeeded."""
        return self.status is SagaStatus.SUCCEEDED

    @property
    def failed_step(self) -> str | None:
        """The first step that failed, if any."""
        return self.failed_steps[0] if self.failed_steps else None

    @property
    def error(self) -> StepError | None:
        """The error of the first failed step."""
        return self.steps[self.failed_steps[0]].error if self.failed_steps else None

    @property
    def compensation_errors(self) -> dict[str, StepError]:
        """Step id to the error of its failed compensation."""
        return {k: v.compensation_error for k, v in self.steps.items() if v.compensation_error is not None}

    def result_of(self, step_id: str) -> Any:
        """The result of one step (``None`` if it returned nothing or did not succeed).

        Raises:
            KeyError: the saga has no such step.
        """
        if step_id not in self.steps:
            raise KeyError(f"saga {self.saga_name!r} has no step {step_id!r}; steps: {list(self.steps)}")
        return self.steps[step_id].result

    def raise_for_status(self) -> SagaResult:
        """Return self if the saga succeeded; raise ``StepFailedError`` or ``CompensationError`` if not."""
        if self.status is SagaStatus.COMPENSATION_FAILED:
            raise CompensationError(
                self.saga_name, self.correlation_id, {k: str(v) for k, v in self.compensation_errors.items()}
            )
        if not self.is_success:
            step = self.steps[self.failed_steps[0]]
            raise StepFailedError(
                self.saga_name, self.correlation_id, step.step_id, step.attempts, str(step.error)
            )
        return self

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-compatible view (results converted, exceptions as type and message)."""
        data = self.model_dump(mode="json", exclude={"steps", "context"})
        data["is_success"] = self.is_success
        data["context"] = to_jsonable(self.context)
        data["steps"] = {
            k: {
                **v.model_dump(mode="json", exclude={"result", "attempt_log"}),
                "result": to_jsonable(v.result),
            }
            for k, v in self.steps.items()
        }
        return data

    def __repr__(self) -> str:
        failed = f", failed_step={self.failed_step!r}" if self.failed_steps else ""
        return (
            f"SagaResult({self.saga_name!r}, status={self.status.value}, steps={len(self.steps)}"
            f"{failed}, duration_ms={self.duration_ms:.1f})"
        )

    __str__ = __repr__

    def __rich__(self) -> Any:
        """A table of the steps, for rich consoles."""
        from rich.table import Table

        table = Table(title=f"saga {self.saga_name} · {self.status.value} · {self.duration_ms:.1f} ms")
        for column in ("step", "status", "attempts", "ms", "compensation", "error"):
            table.add_column(column)
        for outcome in self.steps.values():
            table.add_row(
                outcome.step_id,
                f"[{_STATUS_STYLE[outcome.status]}]{outcome.status.value}[/]",
                str(outcome.attempts),
                f"{outcome.duration_ms:.1f}",
                _compensation_text(outcome),
                str(outcome.error or outcome.compensation_error or ""),
            )
        return table

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>"
            f"<td>{html.escape(o.step_id)}</td><td>{o.status.value}</td><td>{o.attempts}</td>"
            f"<td>{o.duration_ms:.1f}</td><td>{html.escape(_compensation_text(o))}</td>"
            f"<td>{html.escape(str(o.error or o.compensation_error or ''))}</td>"
            "</tr>"
            for o in self.steps.values()
        )
        return (
            f"<p><b>saga {html.escape(self.saga_name)}</b> · {self.status.value} · "
            f"{self.duration_ms:.1f} ms · <code>{html.escape(self.correlation_id)}</code></p>"
            "<table><thead><tr><th>step</th><th>status</th><th>attempts</th><th>ms</th>"
            f"<th>compensation</th><th>error</th></tr></thead><tbody>{rows}</tbody></table>"
        )


def _compensation_text(outcome: StepOutcome) -> str:
    if outcome.compensation_error is not None:
        return "failed"
    if outcome.compensated:
        return "compensated"
    return "" if outcome.has_compensation else "none defined"
