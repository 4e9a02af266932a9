"""One attempt kernel for both kinds: the same behaviour, checked by the same test, for SAGA and TCC.

``forward`` builds a transaction whose one forward unit (a saga step, a TCC try) runs ``body``;
``undo`` builds one whose undoing (a compensation, a TCC cancel) runs ``body`` after a failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from fireflytx import (
    SagaEngine,
    StepTimeoutError,
    TccEngine,
    UnsupportedResultError,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx.testing import delay_step, fail_step, fast_backoff

KINDS = ["saga", "tcc"]
Body = Callable[..., Any]


@pytest.fixture
def engines(saga_engine: SagaEngine, tcc_engine: TccEngine) -> dict[str, Any]:
    return {"saga": saga_engine, "tcc": tcc_engine}


def forward(kind: str, body: Body, *, is_async: bool = True, timeout_ms: int = 0, retry: int = 0) -> type:
    """One forward unit ("u") that runs ``body()``."""
    if is_async:

        async def run(self: object, _: object) -> Any:
            return await body()
    else:

        def run(self: object, _: object) -> Any:  # type: ignore[misc]
            return body()

    if kind == "saga":

        @saga("kernel-forward")
        class Forward:
            u = saga_step("u", timeout_ms=timeout_ms, retry=retry)(run)

        return Forward

    @tcc("kernel-forward")
    class Tcc:
        @tcc_participant("u")
        class U:
            t = try_method(timeout_ms=timeout_ms, retry=retry)(run)

            @confirm_method
            async def c(self, _: object) -> None: ...

            @cancel_method
            async def x(self, _: object) -> None: ...

    return Tcc


def undo(kind: str, body: Body, *, retry: int = 0, backoff_ms: int = 0, timeout_ms: int = 0) -> type:
    """Unit "u" succeeds, "z" fails, so "u" is undone by ``body()``."""

    async def undoing(self: object, _: object) -> None:
        await body()

    if kind == "saga":

        @saga("kernel-undo")
        class Undo:
            @saga_step("u")
            async def u(self) -> str:
                return "done"

            comp = compensation_step("u", retry=retry, backoff_ms=backoff_ms, timeout_ms=timeout_ms)(undoing)

            @saga_step("z", depends_on=["u"])
            async def z(self) -> None:
                raise LookupError("z fails")

        return Undo

    @tcc("kernel-undo")
    class Tcc:
        @tcc_participant("u", order=1)
        class U:
            @try_method
            async def t(self) -> str:
                return "done"

            @confirm_method
            async def c(self, _: object) -> None: ...

            x = cancel_method(retry=retry, backoff_ms=backoff_ms, timeout_ms=timeout_ms)(undoing)

        @tcc_participant("z", order=2)
        class Z:
            @try_method
            async def t(self) -> None:
                raise LookupError("z fails")

            @confirm_method
            async def c(self, _: object) -> None: ...

            @cancel_method
            async def x(self, _: object) -> None: ...

    return Tcc


def forward_outcome(kind: str, result: Any) -> tuple[str, Any]:
    """(status of unit "u" as text, its error) in either kind of result."""
    if kind == "saga":
        step = result.steps["u"]
        return str(step.status), step.error
    part = result.participants["u"]
    return str(part.try_phase.status), part.try_phase.error


def undo_outcome(kind: str, result: Any) -> tuple[bool, Any, int, tuple[Any, ...]]:
    """(undone?, last error, attempts, attempt log) of unit "u"'s undoing."""
    if kind == "saga":
        step = result.steps["u"]
        return step.compensated, step.compensation_error, step.compensation_attempts, ()
    phase = result.participants["u"].cancel_phase
    return str(phase.status) == "SUCCEEDED", phase.error, phase.attempts, phase.attempt_log


# -- what ends an attempt ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_users_own_cancelled_error_is_recorded_as_itself_not_as_a_timeout(
    engines: dict[str, Any], kind: str
) -> None:
    async def body() -> None:
        raise asyncio.CancelledError()

    result = await engines[kind].execute(forward(kind, body, timeout_ms=5_000))
    status, error = forward_outcome(kind, result)
    assert status == "FAILED"
    assert error.type == "CancelledError" and "within" not in error.message


@pytest.mark.parametrize("kind", KINDS)
async def test_a_users_own_timeout_error_stays_a_timeout_error(engines: dict[str, Any], kind: str) -> None:
    async def body() -> None:
        raise TimeoutError("the payment gateway timed out")

    result = await engines[kind].execute(forward(kind, body, timeout_ms=5_000))
    _, error = forward_outcome(kind, result)
    assert error.type == "TimeoutError" and "gateway" in error.message


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
@pytest.mark.parametrize("kind", KINDS)
async def test_fireflytxs_own_limit_gives_step_timeout_error(
    engines: dict[str, Any], kind: str, is_async: bool
) -> None:
    async def slow() -> None:
        await asyncio.sleep(5)

    def slow_sync() -> None:
        time.sleep(0.5)

    body = slow if is_async else slow_sync
    result = await engines[kind].execute(forward(kind, body, is_async=is_async, timeout_ms=50))
    _, error = forward_outcome(kind, result)
    assert isinstance(error.exception, StepTimeoutError) and error.exception.timeout_ms == 50


@pytest.mark.parametrize("kind", KINDS)
async def test_a_timeout_counts_from_when_the_attempt_starts_running_not_from_a_busy_loop(
    engines: dict[str, Any], kind: str
) -> None:
    # The loop is blocked for 300 ms (by this test) right after the run starts; the step itself
    # returns at once, so a 100 ms limit measured from when it was asked for would fire.
    async def quick() -> str:
        return "ok"

    execution = asyncio.ensure_future(engines[kind].execute(forward(kind, quick, timeout_ms=100)))
    await asyncio.sleep(0)
    time.sleep(0.3)
    result = await execution
    status, error = forward_outcome(kind, result)
    assert status == "SUCCEEDED", error


@pytest.mark.parametrize("kind", KINDS)
async def test_a_base_exception_that_is_not_an_exception_fails_the_unit_and_the_run_ends(
    engines: dict[str, Any], kind: str
) -> None:
    class Abort(BaseException):
        pass

    async def body() -> None:
        raise Abort("user abort")

    result = await asyncio.wait_for(engines[kind].execute(forward(kind, body)), 10)
    status, error = forward_outcome(kind, result)
    assert status == "FAILED" and error.type == "Abort"


@pytest.mark.parametrize("kind", KINDS)
async def test_generator_exit_from_a_step_fails_it_cleanly(engines: dict[str, Any], kind: str) -> None:
    async def body() -> None:
        raise GeneratorExit()

    result = await asyncio.wait_for(engines[kind].execute(forward(kind, body)), 10)
    assert forward_outcome(kind, result)[1].type == "GeneratorExit"


class _BrokenStr(Exception):
    def __init__(self, how: str) -> None:
        self.how = how

    def __str__(self) -> str:
        if self.how == "raises":
            raise RuntimeError("no text for you")
        if self.how == "not-a-string":
            return 42  # type: ignore[return-value]
        return "lone \ud800 surrogate"


@pytest.mark.parametrize("how", ["raises", "not-a-string", "surrogate"])
@pytest.mark.parametrize("kind", KINDS)
async def test_an_exception_whose_text_is_broken_is_still_recorded(
    engines: dict[str, Any], kind: str, how: str
) -> None:
    async def body() -> None:
        raise _BrokenStr(how)

    result = await asyncio.wait_for(engines[kind].execute(forward(kind, body, retry=1)), 10)
    status, error = forward_outcome(kind, result)
    assert status == "FAILED" and error.type == "_BrokenStr"
    assert isinstance(error.exception, _BrokenStr)
    result.raise_for_status.__call__  # noqa: B018 - the result is usable
    repr(result)


def _self_referencing() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


def _deep() -> list[Any]:
    top: list[Any] = []
    level = top
    for _ in range(100_000):
        inner: list[Any] = []
        level.append(inner)
        level = inner
    return top


@pytest.mark.parametrize("make", [_self_referencing, _deep], ids=["self-referencing", "deep"])
@pytest.mark.parametrize("kind", KINDS)
async def test_a_value_no_transaction_can_carry_fails_the_unit_with_its_reason(
    engines: dict[str, Any], kind: str, make: Callable[[], Any]
) -> None:
    async def body() -> Any:
        return make()

    result = await asyncio.wait_for(engines[kind].execute(forward(kind, body)), 20)
    status, error = forward_outcome(kind, result)
    assert status == "FAILED" and isinstance(error.exception, UnsupportedResultError)
    assert ("contains itself" in error.message) or ("levels deep" in error.message)


def test_keyboard_interrupt_in_an_async_step_reaches_the_execute_sync_caller() -> None:
    undone: list[str] = []

    @saga("interrupted")
    class Interrupted:
        @saga_step("a")
        async def a(self) -> str:
            return "a"

        @compensation_step("a")
        async def undo_a(self, _: str) -> None:
            undone.append("a")

        @saga_step("b", depends_on=["a"])
        async def b(self) -> None:
            raise KeyboardInterrupt

    with SagaEngine() as engine:
        with pytest.raises(KeyboardInterrupt):
            engine.execute_sync(Interrupted)
        # The run ended and was undone before the interrupt was handed on; the engine still works.
        assert undone == ["a"]
        assert engine.execute_sync(forward("saga", _async_value)).is_success


async def _async_value() -> str:
    return "v"


# -- undoing: compensations and TCC cancels ---------------------------------------------------------


@pytest.mark.parametrize("raised", [asyncio.CancelledError, type("Halt", (BaseException,), {})])
@pytest.mark.parametrize("kind", KINDS)
async def test_an_undo_raising_a_base_exception_is_retried_and_recorded_and_the_run_ends(
    engines: dict[str, Any], kind: str, raised: type[BaseException]
) -> None:
    calls: list[int] = []

    async def body() -> None:
        calls.append(1)
        raise raised()

    result = await asyncio.wait_for(engines[kind].execute(undo(kind, body, retry=2)), 10)
    undone, error, attempts, _ = undo_outcome(kind, result)
    assert not undone and attempts == 3 and len(calls) == 3
    assert error is not None and error.type == raised.__name__
    assert str(result.status) in ("COMPENSATION_FAILED", "CANCEL_FAILED")


@pytest.mark.parametrize("kind", KINDS)
async def test_undo_retries_pause_exactly_their_backoff_without_jitter(
    engines: dict[str, Any], kind: str
) -> None:
    starts: list[float] = []

    async def body() -> None:
        starts.append(time.perf_counter())
        if len(starts) < 3:
            raise RuntimeError("not yet")

    result = await engines[kind].execute(undo(kind, body, retry=3, backoff_ms=60))
    undone, _, attempts, _ = undo_outcome(kind, result)
    assert undone and attempts == 3
    pauses = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(p >= 0.059 for p in pauses), pauses


@pytest.mark.parametrize("kind", KINDS)
async def test_an_undo_that_overruns_its_limit_times_out(engines: dict[str, Any], kind: str) -> None:
    async def body() -> None:
        await asyncio.sleep(5)

    result = await engines[kind].execute(undo(kind, body, timeout_ms=50))
    undone, error, _, _ = undo_outcome(kind, result)
    assert not undone and isinstance(error.exception, StepTimeoutError)


# -- interceptors (the testing hook), through fireflytx.testing ------------------------------------


@pytest.mark.parametrize("is_async", [True, False], ids=["async-def", "def"])
@pytest.mark.parametrize("kind", KINDS)
async def test_an_interceptor_that_raises_fails_the_attempt_without_calling_user_code(
    engines: dict[str, Any], kind: str, is_async: bool
) -> None:
    calls: list[int] = []

    async def abody() -> str:
        calls.append(1)
        return "ran"

    def body() -> str:
        calls.append(1)
        return "ran"

    with fail_step(engines[kind], "u", times=1, error=LookupError("injected")) as fault:
        result = await engines[kind].execute(
            forward(kind, abody if is_async else body, is_async=is_async, retry=1)
        )
    assert result.is_success and fault.injected == 1 and calls == [1]


@pytest.mark.parametrize("is_async", [True, False], ids=["async-def", "def"])
@pytest.mark.parametrize("kind", KINDS)
async def test_an_injected_delay_counts_against_the_attempts_own_timeout(
    engines: dict[str, Any], kind: str, is_async: bool
) -> None:
    calls: list[int] = []

    async def abody() -> None:
        calls.append(1)

    def body() -> None:
        calls.append(1)

    with delay_step(engines[kind], "u", ms=1_000):
        result = await engines[kind].execute(
            forward(kind, abody if is_async else body, is_async=is_async, timeout_ms=50)
        )
    status, error = forward_outcome(kind, result)
    assert status == "FAILED" and isinstance(error.exception, StepTimeoutError)
    assert calls == []  # the attempt ended during the delay: user code was never called


@pytest.mark.parametrize("kind", KINDS)
async def test_undo_retries_ask_for_exactly_their_backoff(engines: dict[str, Any], kind: str) -> None:
    async def body() -> None:
        raise RuntimeError("never")

    with fast_backoff(engines[kind]) as clock:
        result = await engines[kind].execute(undo(kind, body, retry=2, backoff_ms=60_000))
    undone, _, attempts, _ = undo_outcome(kind, result)
    assert not undone and attempts == 3
    pauses = [(p.unit_id, p.after_attempt, p.ms) for p in clock.pauses]
    assert pauses == [("u", 1, 60_000.0), ("u", 2, 60_000.0)]
