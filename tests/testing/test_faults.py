"""Fault injection through the kernel: failures, delays and timeouts as the engine really meets them."""

from __future__ import annotations

import asyncio

import pytest

from fireflytx import (
    SagaEngine,
    SagaStatus,
    StepTimeoutError,
    TccEngine,
    TccStatus,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx.listeners import AttemptFinished, AttemptStarted, RunEvent
from fireflytx.testing import (
    InjectedFault,
    assert_canceled,
    assert_compensated,
    assert_succeeded,
    delay_step,
    fail_step,
    timeout_step,
)

CALLS: list[str] = []


class Declined(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_calls_yet() -> None:
    CALLS.clear()


@saga("payment")
class Payment:
    @saga_step("reserve", timeout_ms=5_000)
    async def reserve(self, order: dict) -> str:
        CALLS.append("reserve")
        return "R-1"

    @compensation_step("reserve")
    async def release(self, reservation: str) -> None:
        CALLS.append("release")

    @saga_step("charge", depends_on=["reserve"], retry=2, backoff_ms=1, timeout_ms=300)
    def charge(self, order: dict) -> str:
        CALLS.append("charge")
        return "C-1"

    @saga_step("notify", depends_on=["charge"], timeout_ms=300)
    async def notify(self, order: dict) -> None:
        CALLS.append("notify")

    @saga_step("audit", depends_on=["charge"])
    async def audit(self, order: dict) -> None:
        CALLS.append("audit")


@tcc("transfer")
class Transfer:
    @tcc_participant("debit", order=1)
    class Debit:
        @try_method(timeout_ms=300)
        async def hold(self, t: dict) -> str:
            CALLS.append("debit.try")
            return "D-1"

        @confirm_method
        async def commit(self, hold: str) -> None:
            CALLS.append("debit.confirm")

        @cancel_method
        async def release(self, hold: str | None) -> None:
            CALLS.append("debit.cancel")

    @tcc_participant("credit", order=2)
    class Credit:
        @try_method
        def hold(self, t: dict) -> str:
            CALLS.append("credit.try")
            return "C-1"

        @confirm_method
        def commit(self, hold: str) -> None:
            CALLS.append("credit.confirm")

        @cancel_method
        def release(self, hold: str | None) -> None:
            CALLS.append("credit.cancel")


async def test_failing_the_first_attempts_lets_the_retry_succeed(saga_engine: SagaEngine) -> None:
    with fail_step(saga_engine, "charge", times=2) as fault:
        result = await saga_engine.execute(Payment, {})
    assert_succeeded(result)
    assert result.steps["charge"].attempts == 3
    assert fault.injected == 2
    assert CALLS.count("charge") == 1  # the failed attempts never reached user code
    errors = [r.error for r in result.steps["charge"].attempt_log]
    names = [type(e.exception).__name__ if e else None for e in errors]
    assert names == ["InjectedFault", "InjectedFault", None]


async def test_failing_every_attempt_compensates_with_the_given_error(saga_engine: SagaEngine) -> None:
    with fail_step(saga_engine, "charge", error=Declined("card expired")):
        result = await saga_engine.execute(Payment, {})
    assert_compensated(result, in_order=["reserve"], failed_step="charge")
    assert result.error is not None and isinstance(result.error.exception, Declined)
    assert result.error.message == "card expired"
    assert "charge" not in CALLS and "release" in CALLS


async def test_an_error_class_is_raised_with_a_message_naming_the_attempt(saga_engine: SagaEngine) -> None:
    with fail_step(saga_engine, "reserve", error=Declined):
        result = await saga_engine.execute(Payment, {})
    assert result.error is not None and result.error.type == "Declined"
    assert result.error.message == "injected failure of step 'reserve', attempt 1"


async def test_failing_a_compensation(saga_engine: SagaEngine) -> None:
    with fail_step(saga_engine, "charge"), fail_step(saga_engine, "reserve", phase="compensation"):
        result = await saga_engine.execute(Payment, {})
    assert result.status is SagaStatus.COMPENSATION_FAILED
    assert result.compensation_errors["reserve"].type == "InjectedFault"
    assert "release" not in CALLS


async def test_faults_count_per_run_and_can_target_one_run(saga_engine: SagaEngine) -> None:
    with fail_step(saga_engine, "charge", times=1) as fault:
        first, second = await asyncio.gather(
            saga_engine.execute(Payment, {}), saga_engine.execute(Payment, {})
        )
    assert fault.injected == 2
    assert [first.steps["charge"].attempts, second.steps["charge"].attempts] == [2, 2]
    with fail_step(saga_engine, "charge", correlation_id="only-this") as fault:
        hit = await saga_engine.execute(Payment, {}, correlation_id="only-this")
        spared = await saga_engine.execute(Payment, {})
    assert hit.failed_step == "charge" and spared.is_success
    assert fault.injected == 3  # every attempt of the one run


async def test_the_fault_ends_with_its_block(saga_engine: SagaEngine) -> None:
    with fail_step(saga_engine, "reserve"):
        assert not (await saga_engine.execute(Payment, {})).is_success
    assert_succeeded(await saga_engine.execute(Payment, {}))


async def test_listeners_see_an_injected_failure_as_a_real_attempt() -> None:
    seen: list[RunEvent] = []

    class Recorder:
        def on_event(self, event: RunEvent) -> None:
            seen.append(event)

    async with SagaEngine(listeners=[Recorder()]) as engine:
        with fail_step(engine, "reserve", error=Declined("x")):
            await engine.execute(Payment, {})
        engine.flush_listeners()
    reserve = [e for e in seen if isinstance(e, AttemptStarted | AttemptFinished) and e.unit_id == "reserve"]
    assert [type(e).__name__ for e in reserve] == ["AttemptStarted", "AttemptFinished"]
    finished = reserve[1]
    assert isinstance(finished, AttemptFinished) and isinstance(finished.error, Declined) and finished.final


async def test_a_delay_longer_than_the_timeout_times_the_attempt_out(saga_engine: SagaEngine) -> None:
    with delay_step(saga_engine, "notify", ms=2_000) as fault:
        result = await saga_engine.execute(Payment, {})
    assert fault.injected == 1
    assert result.failed_step == "notify"
    assert result.error is not None and isinstance(result.error.exception, StepTimeoutError)
    assert "notify" not in CALLS


async def test_a_short_delay_still_succeeds(saga_engine: SagaEngine) -> None:
    with delay_step(saga_engine, "reserve", ms=20) as fault:
        result = await saga_engine.execute(Payment, {})
    assert_succeeded(result)
    assert fault.injected == 1 and CALLS.count("reserve") == 1


@pytest.mark.parametrize("step", ["notify", "charge"], ids=["async-def", "def"])
async def test_timeout_step_ends_the_attempt_with_the_engines_own_timeout(
    saga_engine: SagaEngine, step: str
) -> None:
    with timeout_step(saga_engine, step) as fault:
        result = await saga_engine.execute(Payment, {})
    assert result.failed_step == step
    assert result.error is not None and isinstance(result.error.exception, StepTimeoutError)
    assert result.steps[step].attempts == fault.injected
    assert step not in CALLS


async def test_timeout_step_on_a_step_without_timeout_says_so(saga_engine: SagaEngine) -> None:
    with pytest.raises(AssertionError) as caught, timeout_step(saga_engine, "audit"):
        result = await saga_engine.execute(Payment, {})
    assert str(caught.value) == (
        "timeout_step() cannot time out step 'audit': it has no timeout. "
        "Give it one (timeout_ms=...) or use fail_step(..., error=StepTimeoutError(...))"
    )
    assert result.error is not None and isinstance(result.error.exception, InjectedFault)


async def test_a_fault_that_never_hits_fails_with_what_did_run(saga_engine: SagaEngine) -> None:
    with pytest.raises(AssertionError) as caught, fail_step(saga_engine, "chrage"):
        await saga_engine.execute(Payment, {})
    assert str(caught.value) == (
        "fail_step() never hit step 'chrage': no such attempt ran while it was active "
        "(attempted: step 'audit', step 'charge', step 'notify', step 'reserve'). "
        "Check the id and phase, and run the transaction inside the `with` block"
    )


async def test_a_fault_on_the_wrong_phase_never_hits(saga_engine: SagaEngine) -> None:
    with pytest.raises(AssertionError, match=r"never hit compensation 'reserve'"):
        with fail_step(saga_engine, "reserve", phase="compensation"):
            assert_succeeded(await saga_engine.execute(Payment, {}))


def test_bad_arguments_are_refused(saga_engine: SagaEngine) -> None:
    with pytest.raises(ValueError, match="unknown phase 'prepare'; use one of step, compensation, try"):
        with fail_step(saga_engine, "charge", phase="prepare"):
            pass
    with pytest.raises(ValueError, match="times must be at least 1"):
        with fail_step(saga_engine, "charge", times=0):
            pass
    with pytest.raises(ValueError, match="ms must be zero or more, got -1"):
        with delay_step(saga_engine, "charge", ms=-1):
            pass
    with pytest.raises(TypeError, match="expected a SagaEngine or TccEngine, got str"):
        with fail_step("engine", "charge"):  # type: ignore[arg-type]
            pass


async def test_an_error_in_the_block_is_not_hidden_by_an_unused_fault(saga_engine: SagaEngine) -> None:
    with pytest.raises(KeyError), fail_step(saga_engine, "charge"):
        raise KeyError("the test's own error")


# -- TCC phases --------------------------------------------------------------------------------


async def test_failing_a_try_cancels_the_participants_that_tried(tcc_engine: TccEngine) -> None:
    with fail_step(tcc_engine, "credit", error=Declined("frozen account")):
        result = await tcc_engine.execute(Transfer, {})
    assert_canceled(result, in_order=["credit", "debit"], failed_participant="credit")
    assert "credit.try" not in CALLS and "debit.cancel" in CALLS


async def test_failing_a_confirm(tcc_engine: TccEngine) -> None:
    with fail_step(tcc_engine, "credit", phase="confirm") as fault:
        result = await tcc_engine.execute(Transfer, {})
    assert result.status is TccStatus.CONFIRM_FAILED
    assert fault.injected == result.participants["credit"].confirm_phase.attempts
    assert "credit.confirm" not in CALLS


async def test_failing_a_cancel(tcc_engine: TccEngine) -> None:
    with fail_step(tcc_engine, "credit"), fail_step(tcc_engine, "debit", phase="cancel"):
        result = await tcc_engine.execute(Transfer, {})
    assert result.status is TccStatus.CANCEL_FAILED
    assert result.cancel_errors["debit"].type == "InjectedFault"


async def test_timing_out_a_try(tcc_engine: TccEngine) -> None:
    with timeout_step(tcc_engine, "debit", phase="try"):
        result = await tcc_engine.execute(Transfer, {})
    assert result.is_canceled and result.failed_participant == "debit"
    assert result.error is not None and isinstance(result.error.exception, StepTimeoutError)
    assert "debit.try" not in CALLS


def test_faults_work_from_execute_sync_on_worker_threads() -> None:
    with SagaEngine() as engine, fail_step(engine, "charge", times=1) as fault:
        result = engine.execute_sync(Payment, {})
    assert_succeeded(result)
    assert fault.injected == 1
