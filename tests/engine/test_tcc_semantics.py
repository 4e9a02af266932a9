"""The promised TCC semantics (order, confirm, cancel, retry, timeout, optional), on the real engine."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fireflytx import (
    StepFailedError,
    StepTimeoutError,
    TccCancelError,
    TccConfirmError,
    TccEngine,
    TccParticipantStatus,
    TccPhaseStatus,
    TccStatus,
    cancel_method,
    confirm_method,
    tcc,
    tcc_participant,
    try_method,
)


@pytest.fixture
async def engine() -> AsyncIterator[TccEngine]:
    async with TccEngine() as running:
        yield running


def _order_tcc(log: list[tuple[str, str, Any]], fail_try: str | None = None) -> type:
    """Four participants declared out of order; `fail_try` names one whose try raises."""

    def check(pid: str) -> None:
        if pid == fail_try:
            raise LookupError(f"{pid} refused")

    @tcc("ordered")
    class Ordered:
        @tcc_participant("c", order=3)
        class C:
            @try_method
            def t(self, value: int) -> str:
                log.append(("try", "c", value))
                check("c")
                return "C"

            @confirm_method
            async def f(self, got: str) -> None:
                log.append(("confirm", "c", got))

            @cancel_method
            def x(self, got: str | None) -> None:
                log.append(("cancel", "c", got))

        @tcc_participant("a", order=1)
        class A:
            @try_method
            async def t(self, value: int) -> str:
                log.append(("try", "a", value))
                check("a")
                return "A"

            @confirm_method
            def f(self, got: str) -> None:
                log.append(("confirm", "a", got))

            @cancel_method
            async def x(self, got: str | None) -> None:
                log.append(("cancel", "a", got))

        @tcc_participant("d", order=4)
        class D:
            @try_method
            async def t(self, value: int) -> str:
                log.append(("try", "d", value))
                return "D"

            @confirm_method
            async def f(self, got: str) -> None:
                log.append(("confirm", "d", got))

            @cancel_method
            async def x(self, got: str | None) -> None:
                log.append(("cancel", "d", got))

        @tcc_participant("b", order=2)
        class B:
            @try_method
            def t(self, value: int) -> str:
                log.append(("try", "b", value))
                check("b")
                return "B"

            @confirm_method
            def f(self, got: str) -> None:
                log.append(("confirm", "b", got))

            @cancel_method
            def x(self, got: str | None) -> None:
                log.append(("cancel", "b", got))

    return Ordered


async def test_tries_run_in_order_then_every_participant_is_confirmed(engine: TccEngine) -> None:
    log: list[tuple[str, str, Any]] = []
    result = await engine.execute(_order_tcc(log), 7)
    assert result.status is TccStatus.CONFIRMED and result.is_success and result.is_confirmed
    assert not result.is_canceled and result.failed_participant is None and result.error is None
    assert log == [("try", p, 7) for p in "abcd"] + [("confirm", p, p.upper()) for p in "abcd"]
    assert list(result.participants) == ["a", "b", "c", "d"]
    for pid, outcome in result.participants.items():
        assert outcome.status is TccParticipantStatus.CONFIRMED
        assert outcome.try_result == pid.upper() and result.try_result_of(pid) == pid.upper()
        assert outcome.try_phase.status is TccPhaseStatus.SUCCEEDED and outcome.try_phase.attempts == 1
        assert (
            outcome.confirm_phase.status is TccPhaseStatus.SUCCEEDED and outcome.confirm_phase.attempts == 1
        )
        assert outcome.cancel_phase.status is TccPhaseStatus.NOT_RUN and outcome.cancel_phase.attempts == 0
    a, b = result.participants["a"], result.participants["b"]
    assert a.try_phase.completed_at <= b.try_phase.started_at  # type: ignore[operator]
    assert result.participants["d"].try_phase.completed_at <= a.confirm_phase.started_at  # type: ignore[operator]


async def test_failed_try_cancels_every_started_participant_in_reverse_including_itself(
    engine: TccEngine,
) -> None:
    log: list[tuple[str, str, Any]] = []
    result = await engine.execute(_order_tcc(log, fail_try="c"), 1)
    assert result.status is TccStatus.CANCELED and result.is_canceled and not result.is_success
    # c's own cancel (with None) first, then b and a: exact reverse order of the tries that started.
    assert log == [
        ("try", "a", 1),
        ("try", "b", 1),
        ("try", "c", 1),
        ("cancel", "c", None),
        ("cancel", "b", "B"),
        ("cancel", "a", "A"),
    ]
    statuses = {pid: o.status for pid, o in result.participants.items()}
    assert statuses == {
        "a": TccParticipantStatus.CANCELED,
        "b": TccParticipantStatus.CANCELED,
        "c": TccParticipantStatus.CANCELED,
        "d": TccParticipantStatus.SKIPPED,
    }
    c = result.participants["c"]
    assert c.try_phase.status is TccPhaseStatus.FAILED and c.try_result is None
    assert c.cancel_phase.status is TccPhaseStatus.SUCCEEDED
    assert (
        result.failed_participant == "c" and result.error is not None and result.error.type == "LookupError"
    )
    assert result.participants["d"].try_phase.status is TccPhaseStatus.NOT_RUN
    with pytest.raises(StepFailedError, match="failed at the try of participant 'c' after 1 attempt") as info:
        result.raise_for_status()
    assert info.value.kind == "tcc" and info.value.step_id == "c"


async def test_failure_of_the_first_try_cancels_only_that_participant(engine: TccEngine) -> None:
    log: list[tuple[str, str, Any]] = []
    result = await engine.execute(_order_tcc(log, fail_try="a"), 1)
    assert log == [("try", "a", 1), ("cancel", "a", None)]
    assert result.status is TccStatus.CANCELED
    assert [o.status for o in result.participants.values()] == [TccParticipantStatus.CANCELED] + [
        TccParticipantStatus.SKIPPED
    ] * 3


async def test_try_is_retried_by_the_engine_before_anything_is_cancelled(engine: TccEngine) -> None:
    calls: list[float] = []
    cancelled: list[object] = []

    @tcc("flaky-try")
    class FlakyTry:
        @tcc_participant("p")
        class P:
            @try_method(retry=2, backoff_ms=100)
            def t(self) -> str:
                calls.append(time.perf_counter())
                if len(calls) < 3:
                    raise ConnectionError("busy")
                return "held"

            @confirm_method
            def f(self, held: str) -> None: ...

            @cancel_method
            def x(self, held: str | None) -> None:
                cancelled.append(held)

    result = await engine.execute(FlakyTry)
    assert result.status is TccStatus.CONFIRMED and cancelled == []
    assert result.participants["p"].try_phase.attempts == 3
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert all(gap >= 0.075 for gap in gaps), gaps  # 100 ms with the engine's ±20 % jitter
    log = result.participants["p"].try_phase.attempt_log
    assert [a.error.message if a.error else None for a in log] == ["busy", "busy", None]


async def test_confirm_is_retried_by_the_engine_with_its_own_policy(engine: TccEngine) -> None:
    calls: list[float] = []

    @tcc("flaky-confirm")
    class FlakyConfirm:
        @tcc_participant("p")
        class P:
            @try_method
            async def t(self) -> str:
                return "held"

            @confirm_method(retry=3, backoff_ms=100)
            async def f(self, held: str) -> None:
                calls.append(time.perf_counter())
                if len(calls) < 3:
                    raise ConnectionError("gateway busy")

            @cancel_method
            async def x(self, held: str | None) -> None: ...

    result = await engine.execute(FlakyConfirm)
    assert result.status is TccStatus.CONFIRMED
    confirm = result.participants["p"].confirm_phase
    assert confirm.status is TccPhaseStatus.SUCCEEDED and confirm.attempts == 3 and confirm.error is None
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert all(gap >= 0.075 for gap in gaps), gaps


async def test_confirm_that_keeps_failing_is_confirm_failed_never_confirmed(engine: TccEngine) -> None:
    confirmed: list[str] = []
    raised: list[BaseException] = []

    @tcc("bad-confirm")
    class BadConfirm:
        @tcc_participant("payment", order=1)
        class Payment:
            @try_method
            def t(self) -> str:
                return "hold-1"

            @confirm_method(retry=1, backoff_ms=10)
            def f(self, hold: str) -> None:
                exc = OSError("capture refused")
                raised.append(exc)
                raise exc

            @cancel_method
            def x(self, hold: str | None) -> None: ...

        @tcc_participant("shipping", order=2)
        class Shipping:
            @try_method
            def t(self) -> str:
                return "slot-1"

            @confirm_method
            def f(self, slot: str) -> None:
                confirmed.append(slot)

            @cancel_method
            def x(self, slot: str | None) -> None: ...

    result = await engine.execute(BadConfirm)
    assert result.status is TccStatus.CONFIRM_FAILED
    assert not result.is_success and not result.is_confirmed and not result.is_canceled
    assert confirmed == ["slot-1"]  # the others are still confirmed
    payment = result.participants["payment"]
    assert payment.status is TccParticipantStatus.CONFIRM_FAILED
    assert payment.confirm_phase.attempts == 2 and payment.confirm_phase.status is TccPhaseStatus.FAILED
    assert payment.confirm_phase.error is not None and payment.confirm_phase.error.exception is raised[-1]
    assert result.failed_participant == "payment" and result.error is payment.confirm_phase.error
    assert set(result.confirm_errors) == {"payment"}
    assert result.participants["shipping"].status is TccParticipantStatus.CONFIRMED
    with pytest.raises(TccConfirmError) as info:
        result.raise_for_status()
    assert info.value.failures == {"payment": "OSError: capture refused"}


async def test_cancel_that_keeps_failing_is_cancel_failed_and_others_still_cancel(engine: TccEngine) -> None:
    cancelled: list[str] = []
    attempts: list[str] = []

    @tcc("bad-cancel")
    class BadCancel:
        @tcc_participant("a", order=1)
        class A:
            @try_method
            def t(self) -> str:
                return "A"

            @confirm_method
            def f(self, got: str) -> None: ...

            @cancel_method
            def x(self, got: str | None) -> None:
                cancelled.append(f"a:{got}")

        @tcc_participant("b", order=2)
        class B:
            @try_method
            async def t(self) -> str:
                return "B"

            @confirm_method
            async def f(self, got: str) -> None: ...

            @cancel_method(retry=2, backoff_ms=10)
            async def x(self, got: str | None) -> None:
                attempts.append("b")
                raise OSError("lock server down")

        @tcc_participant("c", order=3)
        class C:
            @try_method
            def t(self) -> None:
                raise ValueError("c refuses")

            @confirm_method
            def f(self) -> None: ...

            @cancel_method(retry=1, backoff_ms=10)
            def x(self, got: None) -> None:
                attempts.append("c")
                if attempts.count("c") == 1:
                    raise ConnectionError("flaky")
                cancelled.append(f"c:{got}")

    result = await engine.execute(BadCancel)
    assert result.status is TccStatus.CANCEL_FAILED and not result.is_canceled
    assert attempts == ["c", "c", "b", "b", "b"]  # each cancel retried by its own policy
    assert cancelled == ["c:None", "a:A"]
    b = result.participants["b"]
    assert b.status is TccParticipantStatus.CANCEL_FAILED and b.cancel_phase.attempts == 3
    assert b.cancel_phase.error is not None and b.cancel_phase.error.message == "lock server down"
    assert result.participants["c"].cancel_phase.attempts == 2
    assert result.participants["c"].status is TccParticipantStatus.CANCELED
    assert (
        result.failed_participant == "c" and result.error is not None and result.error.message == "c refuses"
    )
    with pytest.raises(TccCancelError) as info:
        result.raise_for_status()
    assert info.value.failures == {"b": "OSError: lock server down"}


async def test_try_timeout_cancels_an_async_try_then_cancels_the_participant(engine: TccEngine) -> None:
    events: list[str] = []

    @tcc("slow-async-try")
    class SlowAsyncTry:
        @tcc_participant("p")
        class P:
            @try_method(timeout_ms=200)
            async def t(self) -> str:
                try:
                    await asyncio.sleep(5)
                except asyncio.CancelledError:
                    events.append("try cancelled")
                    raise
                return "late"

            @confirm_method
            async def f(self, got: str) -> None: ...

            @cancel_method
            async def x(self, got: str | None) -> None:
                events.append(f"cancel {got}")

    started = time.perf_counter()
    result = await engine.execute(SlowAsyncTry)
    assert time.perf_counter() - started < 3
    assert events == ["try cancelled", "cancel None"]
    p = result.participants["p"]
    assert result.status is TccStatus.CANCELED and p.status is TccParticipantStatus.CANCELED
    assert p.try_phase.error is not None and isinstance(p.try_phase.error.exception, StepTimeoutError)


async def test_try_timeout_holds_for_sync_tries_and_is_retried(engine: TccEngine) -> None:
    finished = threading.Event()
    cancels: list[object] = []

    @tcc("slow-sync-try")
    class SlowSyncTry:
        @tcc_participant("p")
        class P:
            @try_method(timeout_ms=200, retry=1, backoff_ms=10)
            def t(self) -> str:
                time.sleep(1.0)
                finished.set()
                return "late"

            @confirm_method
            def f(self, got: str) -> None: ...

            @cancel_method
            def x(self, got: str | None) -> None:
                cancels.append(got)

    result = await engine.execute(SlowSyncTry)
    assert not finished.is_set(), "the result should arrive before the sync try finishes"
    p = result.participants["p"]
    assert result.status is TccStatus.CANCELED and p.try_phase.attempts == 2
    assert p.try_phase.error is not None and p.try_phase.error.type == "StepTimeoutError"
    assert p.try_result is None and cancels == [None]


@pytest.mark.parametrize("is_async", [True, False])
async def test_confirm_and_cancel_timeouts_hold_for_async_and_sync_methods(
    engine: TccEngine, is_async: bool
) -> None:
    confirm_calls: list[int] = []
    cancel_calls: list[int] = []

    async def slow_async(calls: list[int]) -> None:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(3)

    def slow_sync(calls: list[int]) -> None:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1)

    if is_async:

        @tcc("slow-phases")
        class Slow:
            @tcc_participant("p", timeout_ms=200)
            class P:
                @try_method(timeout_ms=0)
                async def t(self) -> str:
                    return "held"

                @confirm_method(retry=1, backoff_ms=10)
                async def f(self, held: str) -> None:
                    await slow_async(confirm_calls)

                @cancel_method(retry=0)
                async def x(self, held: str | None) -> None:
                    await slow_async(cancel_calls)

    else:

        @tcc("slow-phases")
        class Slow:  # type: ignore[no-redef]
            @tcc_participant("p", timeout_ms=200)
            class P:
                @try_method(timeout_ms=0)
                def t(self) -> str:
                    return "held"

                @confirm_method(retry=1, backoff_ms=10)
                def f(self, held: str) -> None:
                    slow_sync(confirm_calls)

                @cancel_method(retry=0)
                def x(self, held: str | None) -> None:
                    slow_sync(cancel_calls)

    started = time.perf_counter()
    result = await engine.execute(Slow)
    assert time.perf_counter() - started < 0.9
    confirm = result.participants["p"].confirm_phase
    assert result.status is TccStatus.CONFIRMED and confirm.attempts == 2
    assert (
        confirm.attempt_log[0].error is not None
        and "did not finish within 200 ms" in confirm.attempt_log[0].error.message
    )
    assert cancel_calls == []


async def test_optional_participant_whose_try_fails_is_cancelled_and_left_out(engine: TccEngine) -> None:
    log: list[str] = []

    @tcc("with-optional")
    class WithOptional:
        @tcc_participant("payment", order=1)
        class Payment:
            @try_method
            def t(self) -> str:
                log.append("try payment")
                return "hold"

            @confirm_method
            def f(self, hold: str) -> None:
                log.append(f"confirm payment {hold}")

            @cancel_method
            def x(self, hold: str | None) -> None:
                log.append(f"cancel payment {hold}")

        @tcc_participant("loyalty", order=2, optional=True)
        class Loyalty:
            @try_method(retry=1, backoff_ms=10)
            async def t(self) -> str:
                log.append("try loyalty")
                raise ConnectionError("points service down")

            @confirm_method
            async def f(self, points: str) -> None:
                log.append("confirm loyalty")

            @cancel_method
            async def x(self, points: str | None) -> None:
                log.append(f"cancel loyalty {points}")

        @tcc_participant("shipping", order=3)
        class Shipping:
            @try_method
            def t(self) -> str:
                log.append("try shipping")
                return "slot"

            @confirm_method
            def f(self, slot: str) -> None:
                log.append(f"confirm shipping {slot}")

            @cancel_method
            def x(self, slot: str | None) -> None:
                log.append(f"cancel shipping {slot}")

    result = await engine.execute(WithOptional)
    assert log == [
        "try payment",
        "try loyalty",
        "try loyalty",
        "cancel loyalty None",
        "try shipping",
        "confirm payment hold",
        "confirm shipping slot",
    ]
    assert result.status is TccStatus.CONFIRMED and result.is_success
    loyalty = result.participants["loyalty"]
    assert loyalty.optional and loyalty.status is TccParticipantStatus.CANCELED
    assert loyalty.try_phase.status is TccPhaseStatus.FAILED and loyalty.try_phase.attempts == 2
    assert loyalty.confirm_phase.status is TccPhaseStatus.NOT_RUN
    assert result.failed_participant is None


async def test_optional_participant_is_not_cancelled_twice_when_a_later_try_fails(engine: TccEngine) -> None:
    log: list[str] = []

    @tcc("optional-then-fail")
    class OptionalThenFail:
        @tcc_participant("a", order=1)
        class A:
            @try_method
            def t(self) -> str:
                return "A"

            @confirm_method
            def f(self, got: str) -> None: ...

            @cancel_method
            def x(self, got: str | None) -> None:
                log.append(f"cancel a {got}")

        @tcc_participant("opt", order=2, optional=True)
        class Opt:
            @try_method
            def t(self) -> str:
                raise ConnectionError("down")

            @confirm_method
            def f(self, got: str) -> None: ...

            @cancel_method
            def x(self, got: str | None) -> None:
                log.append(f"cancel opt {got}")

        @tcc_participant("c", order=3)
        class C:
            @try_method
            def t(self) -> str:
                raise ValueError("c refuses")

            @confirm_method
            def f(self, got: str) -> None: ...

            @cancel_method
            def x(self, got: str | None) -> None:
                log.append(f"cancel c {got}")

    result = await engine.execute(OptionalThenFail)
    assert log == ["cancel opt None", "cancel c None", "cancel a A"]
    assert result.status is TccStatus.CANCELED and result.failed_participant == "c"
    assert result.participants["opt"].cancel_phase.attempts == 1


async def test_optional_participant_whose_cancel_fails_is_reported(engine: TccEngine) -> None:
    @tcc("optional-bad-cancel")
    class OptionalBadCancel:
        @tcc_participant("main", order=1)
        class Main:
            @try_method
            def t(self) -> str:
                return "M"

            @confirm_method
            def f(self, got: str) -> None: ...

            @cancel_method
            def x(self, got: str | None) -> None: ...

        @tcc_participant("opt", order=2, optional=True)
        class Opt:
            @try_method
            def t(self) -> None:
                raise ConnectionError("down")

            @confirm_method
            def f(self) -> None: ...

            @cancel_method(retry=0)
            def x(self) -> None:
                raise OSError("cannot release")

    result = await engine.execute(OptionalBadCancel)
    assert result.participants["main"].status is TccParticipantStatus.CONFIRMED
    assert result.status is TccStatus.CANCEL_FAILED and result.failed_participant == "opt"
    assert not result.is_success


async def test_async_methods_run_on_the_callers_loop_and_sync_ones_off_it(engine: TccEngine) -> None:
    seen: dict[str, str] = {}
    loop_thread = threading.current_thread().name

    @tcc("threads")
    class Threads:
        @tcc_participant("p")
        class P:
            @try_method
            async def t(self) -> str:
                seen["try"] = threading.current_thread().name
                return "x"

            @confirm_method
            def f(self, got: str) -> None:
                time.sleep(0.2)
                seen["confirm"] = threading.current_thread().name

            @cancel_method
            def x(self, got: str | None) -> None: ...

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    result = await engine.execute(Threads)
    tick_task.cancel()
    assert result.is_confirmed
    assert seen["try"] == loop_thread
    assert seen["confirm"] != loop_thread and seen["confirm"].startswith("fireflytx-tcc")
    assert ticks >= 4, "the event loop was blocked while a sync confirm ran"


@pytest.mark.parametrize("refused", ["reserve", "commit", "release"])
async def test_a_phase_method_the_participant_refuses_to_look_up_fails_that_phase(
    engine: TccEngine, refused: str
) -> None:
    """Each phase's method is looked up for its attempts; a lookup that raises fails that phase."""

    @tcc(f"refusing-{refused}")
    class Refusing:
        @tcc_participant("first", order=1)
        class First:
            def __getattribute__(self, name: str) -> Any:
                if name == refused:
                    raise LookupError(f"no {name} here")
                return object.__getattribute__(self, name)

            @try_method
            async def reserve(self, value: int) -> int:
                return value

            @confirm_method
            async def commit(self, held: int) -> None: ...

            @cancel_method
            async def release(self, held: int | None) -> None: ...

        @tcc_participant("second", order=2)
        class Second:
            @try_method
            async def reserve(self, value: int) -> int:
                if refused == "release":
                    raise RuntimeError("second refuses, so first is cancelled")
                return value

            @confirm_method
            async def commit(self, held: int) -> None: ...

            @cancel_method
            async def release(self, held: int | None) -> None: ...

    result = await engine.execute(Refusing, 7)
    first = result.participants["first"]
    phases = {"reserve": first.try_phase, "commit": first.confirm_phase, "release": first.cancel_phase}
    phase = phases[refused]
    assert phase.status is TccPhaseStatus.FAILED, result
    assert phase.error is not None and phase.error.type == "LookupError", result
    assert f"no {refused}" in phase.error.message
    assert result.status is not TccStatus.CONFIRMED
