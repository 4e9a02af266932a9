"""Outcomes and records: frozen, slotted, picklable, and a lazy ``steps`` that lets go of its builder."""

from __future__ import annotations

import dataclasses
import gc
import pickle
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fireflytx import (
    SagaResult,
    SagaStatus,
    StepError,
    StepOutcome,
    StepStatus,
    TccParticipantOutcome,
    TccParticipantStatus,
    TccPhaseOutcome,
    TccPhaseStatus,
    TccResult,
    TccStatus,
)
from fireflytx._outcomes import AttemptRecord

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def raised(exc: BaseException) -> StepError:
    try:
        raise exc
    except BaseException as caught:
        return StepError.from_exception(caught)


def saga_values(**extra: Any) -> dict[str, Any]:
    return {
        "saga_name": "s",
        "correlation_id": "c-1",
        "status": SagaStatus.COMPENSATED,
        "started_at": T0,
        "completed_at": T0 + timedelta(milliseconds=50),
        "duration_ms": 50.0,
        "failed_steps": ("b",),
        "compensated_steps": ("a",),
        "context": {"variables": {"k": 1}, "headers": {}},
        **extra,
    }


def failed_steps() -> dict[str, StepOutcome]:
    error = raised(KeyError("missing"))
    return {
        "a": StepOutcome(
            step_id="a", status=StepStatus.COMPENSATED, attempts=1, result={"n": 1}, compensated=True
        ),
        "b": StepOutcome(
            step_id="b",
            status=StepStatus.FAILED,
            attempts=2,
            error=error,
            attempt_log=(
                AttemptRecord(1, T0, T0 + timedelta(milliseconds=5), raised(KeyError("busy"))),
                AttemptRecord(2, T0 + timedelta(milliseconds=10), T0 + timedelta(milliseconds=12), error),
            ),
        ),
    }


def test_attempt_record_has_exactly_its_fields_and_a_duration() -> None:
    record = AttemptRecord(
        number=2, started_at=T0, completed_at=T0 + timedelta(milliseconds=12.5), error=None
    )
    assert [f.name for f in dataclasses.fields(AttemptRecord)] == [
        "number",
        "started_at",
        "completed_at",
        "error",
    ]
    assert record.duration_ms == pytest.approx(12.5)
    assert not hasattr(record, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.number = 3  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(record)) == record


@pytest.mark.parametrize(
    "cls",
    [StepError, AttemptRecord, StepOutcome, SagaResult, TccPhaseOutcome, TccParticipantOutcome, TccResult],
)
def test_results_and_records_are_frozen_slotted_dataclasses(cls: type) -> None:
    assert dataclasses.is_dataclass(cls) and "__slots__" in cls.__dict__
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_step_error_keeps_the_exception_and_its_traceback_text_through_pickling() -> None:
    error = raised(ValueError("card declined"))
    assert (error.type, error.message, str(error)) == (
        "ValueError",
        "card declined",
        "ValueError: card declined",
    )
    assert isinstance(error.exception, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert "raise exc" in copy.traceback and copy.traceback == error.traceback
    assert isinstance(copy.exception, ValueError) and copy.exception.__traceback__ is None
    assert copy.to_json_dict() == {
        "type": "ValueError",
        "message": "card declined",
        "traceback": error.traceback,
    }


def test_steps_are_built_once_on_first_read_and_the_builder_is_then_dropped() -> None:
    calls: list[int] = []
    steps = failed_steps()

    class Builder:
        def __call__(self) -> dict[str, StepOutcome]:
            calls.append(1)
            return steps

    builder = Builder()
    gone = weakref.ref(builder)
    result = SagaResult.deferred(saga_values(), builder)
    del builder
    gc.collect()
    assert gone() is not None and calls == []  # the result holds the builder until the first read
    assert result.is_success is False and result.failed_step == "b" and calls == []
    first = result.steps
    assert result.steps is first and result.error is first["b"].error and calls == [1]
    gc.collect()
    assert gone() is None


def test_a_saga_result_with_errors_pickles_with_its_steps() -> None:
    result = SagaResult.deferred(saga_values(), failed_steps)
    copy = pickle.loads(pickle.dumps(result))
    assert copy.status is SagaStatus.COMPENSATED and copy.failed_steps == ("b",)
    b = copy.steps["b"]
    assert b.error is not None and b.error.type == "KeyError" and "raise exc" in b.error.traceback
    assert [a.error.message if a.error else None for a in b.attempt_log] == ["'busy'", "'missing'"]
    assert copy.to_json_dict() == result.to_json_dict()
    assert repr(copy) == repr(result)


def test_a_result_without_a_builder_says_how_to_make_one() -> None:
    with pytest.raises(RuntimeError, match="SagaResult.deferred"):
        _ = SagaResult(**saga_values()).steps
    values = {
        "tcc_name": "t", "correlation_id": "c", "status": TccStatus.CONFIRMED,
        "started_at": T0, "completed_at": T0, "duration_ms": 0.0,
    }
    with pytest.raises(RuntimeError, match="its participants: build it with TccResult.deferred"):
        _ = TccResult(**values).participants


def test_saga_results_compare_by_value_including_steps() -> None:
    outcome = StepOutcome(step_id="a", status=StepStatus.SUCCEEDED, attempts=1)
    values = saga_values(status=SagaStatus.SUCCEEDED, failed_steps=(), compensated_steps=())
    same = SagaResult.deferred(values, lambda: {"a": outcome})
    assert same == SagaResult.deferred(values, lambda: {"a": outcome})
    assert same != SagaResult.deferred(values, lambda: {"a": dataclasses.replace(outcome, attempts=2)})


def test_a_tcc_result_with_errors_pickles() -> None:
    error = raised(LookupError("no stock"))
    try_phase = TccPhaseOutcome(
        status=TccPhaseStatus.FAILED,
        attempts=1,
        started_at=T0,
        completed_at=T0 + timedelta(milliseconds=3),
        error=error,
        attempt_log=(AttemptRecord(1, T0, T0 + timedelta(milliseconds=3), error),),
    )
    cancel_phase = TccPhaseOutcome(status=TccPhaseStatus.SUCCEEDED, attempts=1)
    participants = {
        "p": TccParticipantOutcome(
            participant_id="p",
            order=1,
            status=TccParticipantStatus.CANCELED,
            try_phase=try_phase,
            cancel_phase=cancel_phase,
        )
    }
    values = {
        "tcc_name": "t",
        "correlation_id": "c-2",
        "status": TccStatus.CANCELED,
        "started_at": T0,
        "completed_at": T0 + timedelta(milliseconds=9),
        "duration_ms": 9.0,
        "failed_participant": "p",
    }
    result = TccResult.deferred(values, lambda: participants)
    copy = pickle.loads(pickle.dumps(result))
    assert copy.error is not None and copy.error.type == "LookupError" and "raise exc" in copy.error.traceback
    assert copy.participants["p"].try_phase.attempt_log[0].error == copy.error
    assert copy.to_json_dict() == result.to_json_dict()
    assert "attempt_log" not in copy.to_json_dict()["participants"]["p"]["try_phase"]
