"""A sub-saga step's result (its child's ``SagaResult``) stored and read back as a ``SagaResult``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from fireflytx import SagaResult, SagaStatus, StepError, StepOutcome, StepStatus
from fireflytx._persistence import decode, dumps, encode
from fireflytx._persistence._errors import UnstorableValueError

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


class Charge(BaseModel):
    charge_id: str
    amount: int


def _result(name: str, cid: str, steps: dict[str, StepOutcome], status: SagaStatus) -> SagaResult:
    values = {
        "saga_name": name,
        "correlation_id": cid,
        "status": status,
        "started_at": T0,
        "completed_at": T0 + timedelta(milliseconds=30),
        "duration_ms": 30.0,
        "failed_steps": tuple(k for k, o in steps.items() if o.status is StepStatus.FAILED),
        "compensated_steps": tuple(k for k, o in steps.items() if o.compensated),
        "context": {"variables": {"n": (1, 2)}, "headers": {"h": "v"}},
    }
    return SagaResult.deferred(values, lambda: steps)


def _nested() -> SagaResult:
    grandchild = _result(
        "payment",
        "o-1/fulfil/pay",
        {
            "charge": StepOutcome(
                step_id="charge", status=StepStatus.COMPENSATED, attempts=2, duration_ms=1.5,
                started_at=T0, completed_at=T0 + timedelta(milliseconds=2),
                result=Charge(charge_id="C", amount=3),
                has_compensation=True, compensated=True, compensation_attempts=1,
                compensation_started_at=T0 + timedelta(milliseconds=20),
                compensation_completed_at=T0 + timedelta(milliseconds=21),
            ),
            "notify": StepOutcome(
                step_id="notify", status=StepStatus.FAILED, attempts=1, started_at=T0, completed_at=T0,
                error=StepError("RuntimeError", "mail down"),
            ),
            "later": StepOutcome(step_id="later", status=StepStatus.NOT_RUN),
        },
        SagaStatus.COMPENSATED,
    )
    return _result(
        "fulfilment",
        "o-1/fulfil",
        {"pay": StepOutcome(step_id="pay", status=StepStatus.SUCCEEDED, attempts=1, result=grandchild)},
        SagaStatus.SUCCEEDED,
    )


def test_a_saga_result_and_the_results_inside_it_come_back_as_their_own_types() -> None:
    original = _nested()
    stored = json.loads(dumps({"pay": original}))
    assert stored["pay"]["$ftx"] == "saga-result"
    back = decode(stored)["pay"]
    assert isinstance(back, SagaResult)
    assert back == original
    inner = back.result_of("pay")
    assert isinstance(inner, SagaResult) and inner.status is SagaStatus.COMPENSATED
    assert inner.result_of("charge") == Charge(charge_id="C", amount=3)
    assert inner.steps["notify"].error == StepError("RuntimeError", "mail down")
    assert inner.steps["later"].started_at is None
    assert back.context == {"variables": {"n": (1, 2)}, "headers": {"h": "v"}}


def test_a_child_result_holding_something_unstorable_is_refused_by_name() -> None:
    bad = _result(
        "c", "x/c", {"s": StepOutcome(step_id="s", status=StepStatus.SUCCEEDED, result={"when": object()})},
        SagaStatus.SUCCEEDED,
    )
    with pytest.raises(UnstorableValueError, match="result of step 'pay'"):
        encode(bad, "result of step 'pay'")
