"""Assertions on run results whose failure messages show the whole run.

A bare ``assert result.status == ...`` says only that two strings differ; these say what was
expected and then draw the run (``fireflytx.topology.run_view``): every step or participant with
its attempts, errors and compensation, and the traceback of the error that broke it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NoReturn

from .._saga._results import SagaResult, SagaStatus, StepStatus
from .._tcc._results import TccPhaseStatus, TccResult, TccStatus
from ..topology import run_view

__all__ = ["assert_canceled", "assert_compensated", "assert_steps_ran", "assert_succeeded"]

_TRACEBACK_LINES = 30


def _fail(headline: str, result: SagaResult | TccResult) -> NoReturn:
    lines = [headline, "", str(run_view(result)).rstrip("\n")]
    error = result.error
    if error is not None and error.traceback:
        tb = error.traceback.rstrip("\n").splitlines()
        if len(tb) > _TRACEBACK_LINES:
            tb = ["...", *tb[-_TRACEBACK_LINES:]]
        lines += ["", "error that broke the run:", *tb]
    raise AssertionError("\n".join(lines))


def _label(result: SagaResult | TccResult) -> str:
    if isinstance(result, SagaResult):
        return f"saga {result.saga_name!r}"
    return f"TCC {result.tcc_name!r}"


def _check(result: object) -> SagaResult | TccResult:
    if not isinstance(result, SagaResult | TccResult):
        raise TypeError(f"expected a SagaResult or TccResult, got {type(result).__name__}")
    return result


def _in_order(pairs: Iterable[tuple[str, datetime | None]]) -> list[str]:
    ran = [(at, unit) for unit, at in pairs if at is not None]
    return [unit for _, unit in sorted(ran)]


def assert_succeeded(result: SagaResult | TccResult) -> None:
    """The saga succeeded (``SUCCEEDED``) or the TCC was confirmed (``CONFIRMED``)."""
    result = _check(result)
    if not result.is_success:
        expected = "SUCCEEDED" if isinstance(result, SagaResult) else "CONFIRMED"
        _fail(f"expected {_label(result)} to end {expected}, but it ended {result.status.value}", result)


def assert_compensated(
    result: SagaResult, *, in_order: Sequence[str] | None = None, failed_step: str | None = None
) -> None:
    """A step failed and every completed step was compensated (``COMPENSATED``).

    Args:
        result: A saga's result.
        in_order: The steps whose compensation ran, in the order they started (leave it out
            under a parallel compensation policy, where the order is not fixed).
        failed_step: The step whose failure started the undoing.
    """
    if not isinstance(result, SagaResult):
        raise TypeError(f"assert_compensated() takes a SagaResult (for a TCC use assert_canceled), "
                        f"got {type(result).__name__}")
    if result.status is not SagaStatus.COMPENSATED:
        _fail(f"expected {_label(result)} to end COMPENSATED, but it ended {result.status.value}", result)
    if failed_step is not None and result.failed_step != failed_step:
        _fail(f"expected {_label(result)} to fail at {failed_step!r}, "
              f"but it failed at {result.failed_step!r}", result)
    if in_order is not None:
        ran = _in_order((s.step_id, s.compensation_started_at) for s in result.steps.values()
                        if s.status is StepStatus.COMPENSATED)
        if ran != list(in_order):
            _fail(f"expected {_label(result)} to compensate {list(in_order)} in that order, "
                  f"but it compensated {ran}", result)


def assert_canceled(
    result: TccResult, *, in_order: Sequence[str] | None = None, failed_participant: str | None = None
) -> None:
    """A try failed and every participant whose try started was cancelled (``CANCELED``).

    Args:
        result: A TCC's result.
        in_order: The participants whose cancel ran, in the order they started.
        failed_participant: The participant whose try failed.
    """
    if not isinstance(result, TccResult):
        raise TypeError(f"assert_canceled() takes a TccResult (for a saga use assert_compensated), "
                        f"got {type(result).__name__}")
    if result.status is not TccStatus.CANCELED:
        _fail(f"expected {_label(result)} to end CANCELED, but it ended {result.status.value}", result)
    if failed_participant is not None and result.failed_participant != failed_participant:
        _fail(f"expected {_label(result)} to fail at {failed_participant!r}, "
              f"but it failed at {result.failed_participant!r}", result)
    if in_order is not None:
        ran = _in_order((p.participant_id, p.cancel_phase.started_at) for p in result.participants.values()
                        if p.cancel_phase.status is TccPhaseStatus.SUCCEEDED)
        if ran != list(in_order):
            _fail(f"expected {_label(result)} to cancel {list(in_order)} in that order, "
                  f"but it cancelled {ran}", result)


def assert_steps_ran(result: SagaResult | TccResult, expected: Iterable[str]) -> None:
    """Exactly these steps (saga) or participants' tries (TCC) ran at least once, in any order."""
    result = _check(result)
    wanted = list(expected)
    if isinstance(result, SagaResult):
        ran = [s.step_id for s in result.steps.values() if s.attempts]
        known = list(result.steps)
    else:
        ran = [p.participant_id for p in result.participants.values() if p.try_phase.attempts]
        known = list(result.participants)
    unknown = [unit for unit in wanted if unit not in known]
    if unknown:
        raise AssertionError(f"{_label(result)} has no {unknown}; it has {known}")
    missing = [unit for unit in wanted if unit not in ran]
    extra = [unit for unit in ran if unit not in wanted]
    if missing or extra:
        parts = ([f"did not run {missing}"] if missing else []) + ([f"also ran {extra}"] if extra else [])
        _fail(f"expected {_label(result)} to run exactly {wanted}, but it {' and '.join(parts)}", result)
