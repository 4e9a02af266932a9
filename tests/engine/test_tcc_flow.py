"""TCC data flow, results, context, lifecycle and coexistence with sagas, against the real engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from jpype import JClass
from pydantic import BaseModel
from rich.console import Console

from fireflytx import (
    DefinitionError,
    FireflyTxError,
    InputValidationError,
    SagaEngine,
    TccContext,
    TccEngine,
    TccParticipantStatus,
    TccResult,
    TccStatus,
    UnsupportedResultError,
    cancel_method,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx._tcc._run import TccRun
from fireflytx.errors import EngineNotStartedError, JavaExecutionError


@pytest.fixture
async def engine() -> AsyncIterator[TccEngine]:
    async with TccEngine() as running:
        yield running


class Order(BaseModel):
    order_id: str
    amount: float


@dataclass
class Hold:
    hold_id: str
    amount: float


SEEN: list[tuple[str, object]] = []


@tcc("checkout")
class Checkout:
    @tcc_participant("payment", order=1)
    class Payment:
        @try_method
        async def hold(self, order: Order, ctx: TccContext) -> Hold:
            ctx.set_data("tenant_seen", ctx.get_header("tenant"))
            return Hold(f"H-{order.order_id}", order.amount)

        @confirm_method
        async def capture(self, hold: Hold, ctx: TccContext) -> None:
            SEEN.append(("capture", hold))
            ctx.put_header("captured", hold.hold_id)

        @cancel_method
        async def release(self, hold: Hold | None) -> None:
            SEEN.append(("release", hold))

    @tcc_participant("shipping", order=2)
    class Shipping:
        @try_method
        def book(self, raw: dict[str, object], ctx: TccContext) -> dict[str, object]:
            payment = ctx.get_try_result("payment")
            return {
                "slot": "S1",
                "raw": raw,
                "hold": payment.hold_id,
                "tcc": ctx.tcc_name,
                "cid": ctx.correlation_id,
            }

        @confirm_method
        def ship(self, booking: dict[str, object]) -> None:
            SEEN.append(("ship", booking["slot"]))

        @cancel_method
        def unbook(self, booking: dict[str, object] | None) -> None:
            SEEN.append(("unbook", booking))


async def test_inputs_try_results_context_and_headers(engine: TccEngine) -> None:
    SEEN.clear()
    result = await engine.execute(
        Checkout, {"order_id": "O1", "amount": 5}, correlation_id="cid-1", headers={"tenant": "acme"}
    )
    assert result.status is TccStatus.CONFIRMED
    assert result.correlation_id == "cid-1" and result.tcc_name == "checkout"
    assert result.try_result_of("payment") == Hold("H-O1", 5.0)
    assert result.try_result_of("shipping") == {
        "slot": "S1",
        "raw": {"order_id": "O1", "amount": 5},
        "hold": "H-O1",
        "tcc": "checkout",
        "cid": "cid-1",
    }
    assert SEEN == [("capture", Hold("H-O1", 5.0)), ("ship", "S1")]
    assert result.context == {
        "variables": {"tenant_seen": "acme"},
        "headers": {"tenant": "acme", "captured": "H-O1"},
    }
    payment = result.participants["payment"]
    assert payment.started_at is not None and payment.completed_at is not None
    assert payment.started_at <= payment.try_phase.completed_at <= payment.confirm_phase.started_at  # type: ignore[operator]
    assert payment.completed_at == payment.confirm_phase.completed_at
    assert result.started_at <= payment.started_at and result.duration_ms > 0
    with pytest.raises(KeyError, match="no participant 'nope'"):
        result.try_result_of("nope")
    assert result.raise_for_status() is result


async def test_result_views(engine: TccEngine) -> None:
    result = await engine.execute(Checkout, {"order_id": "O2", "amount": 1})
    assert repr(result).startswith("TccResult('checkout', status=CONFIRMED, participants=2")
    assert "<table>" in result._repr_html_() and "payment" in result._repr_html_()
    data = result.to_json_dict()
    json.dumps(data)
    assert data["is_success"] is True and data["status"] == "CONFIRMED"
    assert data["participants"]["payment"]["try_result"] == {"hold_id": "H-O2", "amount": 1.0}
    assert data["participants"]["payment"]["confirm_phase"]["status"] == "SUCCEEDED"
    assert "attempt_log" not in data["participants"]["payment"]["try_phase"]
    console = Console(width=140, record=True)
    console.print(result)
    text = console.export_text()
    assert "tcc checkout · CONFIRMED" in text and "shipping" in text and "ok ×1" in text


async def test_bad_input_is_rejected_before_any_try_runs(engine: TccEngine) -> None:
    SEEN.clear()
    with pytest.raises(InputValidationError) as info:
        await engine.execute(Checkout, {"order_id": "O1", "amount": "lots"})
    assert info.value.step_id == "payment" and info.value.kind == "tcc" and "Order" in str(info.value)
    assert SEEN == []


async def test_unsupported_try_result_fails_the_try_and_cancels(engine: TccEngine) -> None:
    cancels: list[object] = []

    @tcc("odd-result")
    class OddResult:
        @tcc_participant("p")
        class P:
            @try_method
            def t(self) -> object:
                return object()

            @confirm_method
            def f(self, got: object) -> None: ...

            @cancel_method
            def x(self, got: object) -> None:
                cancels.append(got)

    result = await engine.execute(OddResult)
    error = result.participants["p"].try_phase.error
    assert result.status is TccStatus.CANCELED and cancels == [None]
    assert error is not None and isinstance(error.exception, UnsupportedResultError)


async def test_python_exception_comes_back_as_the_same_object(engine: TccEngine) -> None:
    raised: list[BaseException] = []

    @tcc("raises")
    class Raises:
        @tcc_participant("p")
        class P:
            @try_method
            async def t(self) -> None:
                exc = LookupError("no such account")
                raised.append(exc)
                raise exc

            @confirm_method
            async def f(self) -> None: ...

            @cancel_method
            async def x(self) -> None: ...

    result = await engine.execute(Raises)
    assert result.error is not None and result.error.exception is raised[0]
    assert result.error.type == "LookupError" and "raise exc" in result.error.traceback


async def test_participants_are_fresh_per_run_and_runs_overlap(engine: TccEngine) -> None:
    created: list[int] = []

    @tcc("echo")
    class Echo:
        @tcc_participant("p")
        class P:
            def __init__(self) -> None:
                created.append(id(self))
                self.seen: list[int] = []

            @try_method
            async def t(self, n: int) -> int:
                self.seen.append(n)
                await asyncio.sleep(0.01)
                return n

            @confirm_method
            def f(self, n: int) -> None:
                assert self.seen == [n]

            @cancel_method
            def x(self, n: int | None) -> None: ...

    results = await asyncio.gather(*(engine.execute(Echo, n, correlation_id="same-id") for n in range(200)))
    assert [r.try_result_of("p") for r in results] == list(range(200))
    assert all(r.status is TccStatus.CONFIRMED for r in results)
    assert len(created) == 200


async def test_saga_and_tcc_engines_run_side_by_side(engine: TccEngine) -> None:
    @saga("side-saga")
    class SideSaga:
        @saga_step("a")
        async def a(self, n: int) -> int:
            await asyncio.sleep(0.05)
            return n + 1

    @tcc("side-tcc")
    class SideTcc:
        @tcc_participant("p")
        class P:
            @try_method
            async def t(self, n: int) -> int:
                await asyncio.sleep(0.05)
                return n * 2

            @confirm_method
            async def f(self, n: int) -> None: ...

            @cancel_method
            async def x(self, n: int | None) -> None: ...

    async with SagaEngine(engine.settings) as sagas:
        saga_result, tcc_result = await asyncio.gather(sagas.execute(SideSaga, 1), engine.execute(SideTcc, 1))
    assert saga_result.result_of("a") == 2 and tcc_result.try_result_of("p") == 2
    with pytest.raises(DefinitionError, match="is a saga, not a TCC"):
        await engine.execute(SideSaga)


def test_lifecycle_and_execute_sync() -> None:
    engine = TccEngine()
    with pytest.raises(EngineNotStartedError, match="TccEngine is not running"):
        engine.execute_sync(Checkout, {"order_id": "O3", "amount": 2})
    with engine:
        assert engine.is_running
        spec = engine.register(Checkout)
        assert [p.participant_id for p in spec.participants] == ["payment", "shipping"]
        result = engine.execute_sync(Checkout, {"order_id": "O3", "amount": 2})
        assert isinstance(result, TccResult) and result.is_confirmed
        assert result.participants["shipping"].status is TccParticipantStatus.CONFIRMED
    assert not engine.is_running
    engine.start()  # engines restart; the JVM stays
    try:
        assert engine.execute_sync(Checkout, {"order_id": "O4", "amount": 2}).is_success
        with pytest.raises(TypeError, match="takes the @tcc class itself"):
            engine.execute_sync(Checkout(), {"order_id": "O4", "amount": 2})  # type: ignore[arg-type]
    finally:
        engine.stop()


async def test_execute_sync_refuses_to_block_a_running_loop(engine: TccEngine) -> None:
    with pytest.raises(FireflyTxError, match="inside a running event loop"):
        engine.execute_sync(Checkout, {"order_id": "O5", "amount": 1})


async def test_shutdown_waits_for_runs_in_flight() -> None:
    finished: list[str] = []

    @tcc("slowish")
    class Slowish:
        @tcc_participant("p")
        class P:
            @try_method
            async def t(self) -> str:
                await asyncio.sleep(0.2)
                return "x"

            @confirm_method
            async def f(self, x: str) -> None:
                finished.append(x)

            @cancel_method
            async def x(self, x: str | None) -> None: ...

    engine = await TccEngine().initialize()
    run = asyncio.create_task(engine.execute(Slowish))
    await asyncio.sleep(0.05)
    await engine.shutdown()
    assert finished == ["x"] and run.done() and not engine.is_running


def _participants(ids: str, fail_last: bool) -> type:
    def participant(pid: str, order: int) -> type:
        class Participant:
            @try_method
            def t(self) -> str:
                if fail_last and pid == ids[-1]:
                    raise ValueError("c fails")
                return pid

            @confirm_method
            def f(self, got: str) -> None: ...

            @cancel_method
            def x(self, got: str | None) -> None: ...

        return tcc_participant(pid, order=order)(Participant)

    return tcc(f"tcc-{ids}")(type("Tcc", (), {pid: participant(pid, n) for n, pid in enumerate(ids, 1)}))


async def test_engine_failure_outside_participants_raises_java_execution_error(
    engine: TccEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine reports some failures as a result naming no failed participant: here, the NPE it
    # throws at the first confirm when its events are null.
    engine_class = JClass("org.fireflyframework.transactional.tcc.engine.TccEngine")
    monkeypatch.setattr(engine._bridge, "_engine", engine_class(engine._bridge._j.registry, None))
    with pytest.raises(JavaExecutionError) as info:
        await engine.execute(_participants("a", fail_last=False))
    assert info.value.java_class == "java.lang.NullPointerException"
    assert "tccEvents" in info.value.java_message


async def test_engine_cancel_phase_crash_is_only_tolerated_after_fireflytx_cancelled(
    engine: TccEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hand_over_without_cancelling(
        self: TccRun,
        part: object,
        error: BaseException | None,
        key: str,
    ) -> None:
        self.reply(key, error)

    monkeypatch.setattr(TccRun, "_after_last_try_failed", hand_over_without_cancelling)
    with pytest.raises(JavaExecutionError) as info:
        await engine.execute(_participants("abc", fail_last=True))
    assert info.value.java_class == "java.lang.UnsupportedOperationException"
