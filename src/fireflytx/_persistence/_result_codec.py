"""A ``SagaResult`` as a stored value: the result of a ``@sub_saga`` step is its child's result.

Stored as ``{"$ftx": "saga-result", "value": {...}}``: the summary, and each step's outcome with
its result encoded like any stored value (so a child's models come back as their own types, and
a grandchild's result as a ``SagaResult`` again). Errors keep type and message, as everywhere in
a store; the attempt log is not kept (the attempts count is).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .._outcomes import StepError, json_time
from .._saga._results import SagaResult, SagaStatus, StepOutcome, StepStatus

__all__ = ["TAG_VALUE", "decode_saga_result", "encode_saga_result"]

TAG_VALUE = "saga-result"
_TIMES = ("started_at", "completed_at", "compensation_started_at", "compensation_completed_at")
_PLAIN = ("step_id", "attempts", "duration_ms", "has_compensation", "compensated", "compensation_attempts")


def encode_saga_result(result: SagaResult, encode: Callable[[Any], Any]) -> dict[str, Any]:
    """The stored form's value of ``result``; ``encode`` stores the values inside it."""
    steps = {}
    for step_id, o in result.steps.items():
        row: dict[str, Any] = {name: getattr(o, name) for name in _PLAIN}
        row.update({name: json_time(getattr(o, name)) for name in _TIMES})
        row["status"] = o.status.value
        row["result"] = encode(o.result)
        row["error"] = _error(o.error)
        row["compensation_error"] = _error(o.compensation_error)
        steps[step_id] = row
    return {
        "saga_name": result.saga_name,
        "correlation_id": result.correlation_id,
        "status": result.status.value,
        "started_at": json_time(result.started_at),
        "completed_at": json_time(result.completed_at),
        "duration_ms": float(result.duration_ms),
        "failed_steps": list(result.failed_steps),
        "compensated_steps": list(result.compensated_steps),
        "context": encode(result.context),
        "steps": steps,
    }


def decode_saga_result(value: dict[str, Any], decode: Callable[[Any], Any]) -> SagaResult:
    """The ``SagaResult`` a stored form's value was encoded from; ``decode`` restores the values."""
    steps = {}
    for step_id, row in value["steps"].items():
        fields: dict[str, Any] = {name: row[name] for name in _PLAIN}
        fields.update({name: _time(row[name]) for name in _TIMES})
        steps[step_id] = StepOutcome(
            **fields,
            status=StepStatus(row["status"]),
            result=decode(row["result"]),
            error=_step_error(row["error"]),
            compensation_error=_step_error(row["compensation_error"]),
        )
    values = {
        "saga_name": value["saga_name"],
        "correlation_id": value["correlation_id"],
        "status": SagaStatus(value["status"]),
        "started_at": _time(value["started_at"]),
        "completed_at": _time(value["completed_at"]),
        "duration_ms": float(value["duration_ms"]),
        "failed_steps": tuple(value["failed_steps"]),
        "compensated_steps": tuple(value["compensated_steps"]),
        "context": decode(value["context"]),
    }
    return SagaResult.deferred(values, lambda: steps)


def _error(error: StepError | None) -> dict[str, str] | None:
    return None if error is None else {"type": error.type, "message": error.message}


def _step_error(stored: Any) -> StepError | None:
    return None if stored is None else StepError(stored["type"], stored["message"])


def _time(stored: Any) -> datetime | None:
    return None if stored is None else datetime.fromisoformat(stored.replace("Z", "+00:00"))
