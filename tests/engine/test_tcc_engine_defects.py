"""The engine's TCC defects (engine-facts.md rows 7, 21, 22) next to fireflytx's promise, on the same engine.

Each test first drives the raw Java ``TccEngine`` through JPype to show the defect, then shows
fireflytx holding its promise.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from jpype import JClass, JImplements, JOverride  # noqa: TID251 - these tests drive the raw engine

from fireflytx import (
    StepTimeoutError,
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
from fireflytx._bridge._facade import facade

P = "org.fireflyframework.transactional."


@JImplements("dev.fireflytx.bridge.PyTccParticipant", deferred=True)
class _RawParticipant:
    """A participant of the raw engine that records every call and returns plain values."""

    def __init__(
        self, name: str, calls: list[tuple[str, str, Any]], try_value: Any = "ok", **faults: Any
    ) -> None:
        self.name = name
        self.calls = calls
        self.try_value = try_value
        self.faults = faults

    def _record(self, phase: str, value: Any) -> None:
        self.calls.append((self.name, phase, None if value is None else str(value)))
        if self.faults.get(f"sleep_{phase}"):
            time.sleep(self.faults[f"sleep_{phase}"])
        failures = self.faults.get(f"fail_{phase}", 0)
        if failures and sum(1 for c in self.calls if c[:2] == (self.name, phase)) <= failures:
            raise RuntimeError(f"{self.name} {phase} fails")

    @JOverride
    def tryPhase(self, value: Any, _ctx: Any) -> Any:
        self._record("try", value)
        return self.try_value

    @JOverride
    def confirmPhase(self, value: Any, _ctx: Any) -> Any:
        self._record("confirm", value)
        return "confirmed"

    @JOverride
    def cancelPhase(self, value: Any, _ctx: Any) -> Any:
        self._record("cancel", value)
        return "cancelled"


def _participant(raw: _RawParticipant, order: int, optional: bool = False, timeout_ms: int = -1) -> Any:
    iface = JClass("dev.fireflytx.bridge.PyTccParticipant").class_
    signature = (JClass("java.lang.Object").class_, JClass(P + "tcc.core.TccContext").class_)
    methods = [iface.getMethod(name, *signature) for name in ("tryPhase", "confirmPhase", "cancelPhase")]
    return JClass(P + "tcc.registry.TccParticipantDefinition")(
        raw.name,
        order,
        timeout_ms,
        optional,
        raw,
        raw,
        methods[0],
        -1,
        -1,
        10,
        methods[1],
        -1,
        -1,
        10,
        methods[2],
        -1,
        -1,
        10,
    )


def _definition(*participants: Any, timeout_ms: int = -1, max_retries: int = 0) -> Any:
    definition = JClass(P + "tcc.registry.TccDefinition")(
        "raw", None, None, timeout_ms, True, max_retries, 10
    )
    for participant in participants:
        definition.addParticipant(participant)
    return definition


def _run_raw(definition: Any, events: Any = "noop", inputs: Any = "empty") -> Any:
    spring = JClass("org.springframework.context.support.GenericApplicationContext")()
    spring.refresh()
    registry = JClass(P + "tcc.registry.TccRegistry")(spring)
    if events == "noop":
        events = JClass("dev.fireflytx.bridge.NoOpTccEvents")()
    if inputs == "empty":
        inputs = JClass(P + "tcc.core.TccInputs").empty()
    engine = JClass(P + "tcc.engine.TccEngine")(registry, events)
    return engine.execute(definition, inputs, JClass(P + "tcc.core.TccContext")("raw-run")).block()


def _status(result: Any, participant_id: str) -> tuple[bool, bool, bool]:
    part = result.getParticipantResult(participant_id)
    return bool(part.isTrySucceeded()), bool(part.isConfirmSucceeded()), bool(part.isCancelSucceeded())


@pytest.fixture
async def engine() -> AsyncIterator[TccEngine]:
    async with TccEngine() as running:
        yield running


def _tcc(log: list[str], **behaviour: Any) -> type:
    """Participants a, b, c; `behaviour` says which try returns None or fails, which confirm fails."""

    def participant(pid: str, order: int) -> type:
        class Participant:
            @try_method
            def t(self, value: object) -> object:
                log.append(f"try {pid} {value}")
                if behaviour.get("fail_try") == pid:
                    raise RuntimeError(f"{pid} try fails")
                return None if behaviour.get("none_try") == pid else pid.upper()

            @confirm_method(retry=1, backoff_ms=10)
            def f(self, got: object) -> None:
                log.append(f"confirm {pid} {got}")
                if behaviour.get("fail_confirm") == pid:
                    raise RuntimeError(f"{pid} confirm fails")

            @cancel_method
            def x(self, got: object) -> None:
                log.append(f"cancel {pid} {got}")

        return tcc_participant(pid, order=order, optional=behaviour.get("optional") == pid)(Participant)

    namespace = {pid: participant(pid, n) for n, pid in enumerate("abc", 1)}
    return tcc(behaviour.get("name", "defects"))(type("Defects", (), namespace))


# -- row 21 -----------------------------------------------------------------------------------


async def test_empty_try_raw_engine_never_settles_it_fireflytx_confirms_and_cancels_it(
    engine: TccEngine,
) -> None:
    calls: list[tuple[str, str, Any]] = []
    raw = _run_raw(_definition(_participant(_RawParticipant("a", calls, try_value=None), 1)))
    assert raw.isSuccess()  # yet "a" was left in TRYING: never confirmed, never cancelled
    assert calls == [("a", "try", None)]
    assert _status(raw, "a") == (False, False, False)

    log: list[str] = []
    result = await engine.execute(_tcc(log, none_try="b"), 1)
    assert result.status is TccStatus.CONFIRMED and "confirm b None" in log
    assert result.participants["b"].status is TccParticipantStatus.CONFIRMED
    log.clear()
    result = await engine.execute(_tcc(log, none_try="b", fail_try="c"), 1)
    assert result.status is TccStatus.CANCELED
    assert log[-3:] == ["cancel c None", "cancel b None", "cancel a A"]


async def test_failed_confirm_raw_engine_reports_success_fireflytx_reports_confirm_failed(
    engine: TccEngine,
) -> None:
    calls: list[tuple[str, str, Any]] = []
    raw = _run_raw(_definition(_participant(_RawParticipant("a", calls, fail_confirm=99), 1)))
    assert raw.isSuccess() and raw.isConfirmed() and raw.getError() is None
    assert _status(raw, "a") == (False, False, False)  # the participant says CONFIRM_FAILED
    assert [c[1] for c in calls] == ["try", "confirm", "confirm", "confirm", "confirm"]

    log: list[str] = []
    result = await engine.execute(_tcc(log, fail_confirm="a"), 1)
    assert result.status is TccStatus.CONFIRM_FAILED and not result.is_success and not result.is_confirmed
    confirm = result.participants["a"].confirm_phase
    assert confirm.status is TccPhaseStatus.FAILED and confirm.attempts == 2
    assert confirm.error is not None and confirm.error.message == "a confirm fails"


# -- row 22 -----------------------------------------------------------------------------------


async def test_null_events_raw_engine_fails_at_confirm_fireflytx_always_passes_events(
    engine: TccEngine,
) -> None:
    calls: list[tuple[str, str, Any]] = []
    raw = _run_raw(_definition(_participant(_RawParticipant("a", calls), 1)), events=None)
    assert not raw.isSuccess() and "NullPointerException" in str(raw.getError().getClass().getName())
    assert calls == [("a", "try", None)]  # tried, then neither confirmed nor cancelled

    log: list[str] = []
    assert (await engine.execute(_tcc(log), 1)).is_confirmed
    assert log[-3:] == ["confirm a A", "confirm b B", "confirm c C"]


async def test_null_inputs_raw_engine_fails_before_any_try_fireflytx_passes_none(engine: TccEngine) -> None:
    calls: list[tuple[str, str, Any]] = []
    raw = _run_raw(_definition(_participant(_RawParticipant("a", calls), 1)), inputs=None)
    assert not raw.isSuccess() and "NullPointerException" in str(raw.getError().getClass().getName())
    assert calls == []

    log: list[str] = []
    result = await engine.execute(_tcc(log))
    assert result.is_confirmed and log[0] == "try a None"


async def test_confirm_and_cancel_receive_the_try_result_never_the_input(engine: TccEngine) -> None:
    calls: list[tuple[str, str, Any]] = []
    inputs = JClass(P + "tcc.core.TccInputs").of("a", "INPUT")
    _run_raw(_definition(_participant(_RawParticipant("a", calls, try_value="RESULT"), 1)), inputs=inputs)
    assert calls == [("a", "try", "INPUT"), ("a", "confirm", "RESULT")]

    log: list[str] = []
    await engine.execute(_tcc(log), "INPUT")
    assert log == [
        "try a INPUT",
        "try b INPUT",
        "try c INPUT",
        "confirm a A",
        "confirm b B",
        "confirm c C",
    ]


async def test_failed_try_raw_engine_never_cancels_it_fireflytx_does_first(engine: TccEngine) -> None:
    calls: list[tuple[str, str, Any]] = []
    raw = _run_raw(
        _definition(
            _participant(_RawParticipant("a", calls), 1),
            _participant(_RawParticipant("b", calls, fail_try=1), 2),
        )
    )
    assert raw.isCanceled() and raw.getFailedParticipantId() == "b"
    assert calls == [("a", "try", None), ("b", "try", None), ("a", "cancel", "ok")]  # b is never cancelled

    log: list[str] = []
    result = await engine.execute(_tcc(log, fail_try="b"), 1)
    assert log == ["try a 1", "try b 1", "cancel b None", "cancel a A"]
    assert result.participants["b"].status is TccParticipantStatus.CANCELED


async def test_two_participants_to_cancel_raw_engine_throws_fireflytx_cancels_both(engine: TccEngine) -> None:
    # Not in engine-facts.md: the cancel phase calls Collections.reverse on an immutable list.
    calls: list[tuple[str, str, Any]] = []
    definition = _definition(
        _participant(_RawParticipant("a", calls), 1),
        _participant(_RawParticipant("b", calls), 2),
        _participant(_RawParticipant("c", calls, fail_try=1), 3),
    )
    with pytest.raises(JClass("java.lang.UnsupportedOperationException")):
        _run_raw(definition)
    assert [c[1] for c in calls] == ["try", "try", "try"]  # nobody was cancelled

    log: list[str] = []
    result = await engine.execute(_tcc(log, fail_try="c"), 1)
    assert result.status is TccStatus.CANCELED
    assert log[3:] == ["cancel c None", "cancel b B", "cancel a A"]


# -- row 7 (TCC items) ------------------------------------------------------------------------


async def test_tcc_level_timeout_raw_engine_ignores_it_fireflytx_applies_it(engine: TccEngine) -> None:
    calls: list[tuple[str, str, Any]] = []
    slow = _RawParticipant("a", calls, sleep_try=0.3)
    raw = _run_raw(_definition(_participant(slow, 1), timeout_ms=100))
    assert raw.isSuccess()  # a 300 ms try under a 100 ms TCC timeout

    @tcc("tcc-timeout", timeout_ms=100)
    class TccTimeout:
        @tcc_participant("a")
        class A:
            @try_method
            def t(self) -> str:
                time.sleep(0.3)
                return "late"

            @confirm_method
            def f(self, got: str) -> None: ...

            @cancel_method
            def x(self, got: str | None) -> None: ...

    result = await engine.execute(TccTimeout)
    error = result.participants["a"].try_phase.error
    assert result.status is TccStatus.CANCELED
    assert (
        error is not None
        and isinstance(error.exception, StepTimeoutError)
        and error.exception.timeout_ms == 100
    )


async def test_tcc_level_retry_raw_engine_ignores_it_fireflytx_retries_per_method(engine: TccEngine) -> None:
    calls: list[tuple[str, str, Any]] = []
    raw = _run_raw(_definition(_participant(_RawParticipant("a", calls, fail_try=1), 1), max_retries=3))
    assert raw.isCanceled() and calls == [("a", "try", None)]  # retryEnabled, maxRetries=3: one attempt

    with pytest.raises(TypeError):
        tcc("no-tcc-level-retry", max_retries=3)  # type: ignore[call-overload]

    attempts: list[int] = []

    @tcc("method-retry")
    class MethodRetry:
        @tcc_participant("a")
        class A:
            @try_method(retry=3, backoff_ms=10)
            def t(self) -> str:
                attempts.append(1)
                if len(attempts) == 1:
                    raise ConnectionError("once")
                return "ok"

            @confirm_method
            def f(self, got: str) -> None: ...

            @cancel_method
            def x(self, got: str | None) -> None: ...

    result = await engine.execute(MethodRetry)
    assert result.is_confirmed and result.participants["a"].try_phase.attempts == 2


async def test_optional_raw_engine_ignores_it_fireflytx_leaves_the_participant_out(engine: TccEngine) -> None:
    calls: list[tuple[str, str, Any]] = []
    raw = _run_raw(
        _definition(
            _participant(_RawParticipant("a", calls), 1),
            _participant(_RawParticipant("b", calls, fail_try=1), 2, optional=True),
        )
    )
    assert raw.isCanceled() and raw.getFailedParticipantId() == "b"

    log: list[str] = []
    result = await engine.execute(_tcc(log, optional="b", fail_try="b"), 1)
    assert log == ["try a 1", "try b 1", "cancel b None", "try c 1", "confirm a A", "confirm c C"]
    assert result.status is TccStatus.CONFIRMED
    assert result.participants["b"].status is TccParticipantStatus.CANCELED


async def test_phase_timeout_raw_engine_cannot_disable_it_fireflytx_gives_no_limit(engine: TccEngine) -> None:
    calls: list[tuple[str, str, Any]] = []
    unlimited = _participant(_RawParticipant("a", calls), 1, timeout_ms=0)
    # "0" and "-1" both mean the engine's 30 s default; there is no way to say "no timeout".
    assert unlimited.getEffectiveTryTimeout(30000) == 30000
    assert unlimited.getEffectiveConfirmTimeout(30000) == 30000
    assert unlimited.getEffectiveCancelTimeout(30000) == 30000

    log: list[str] = []
    definition = engine._bridge.register(engine.register(_tcc(log, name="no-limits")))
    no_limit = facade().NO_LIMIT_MS
    for pid in "abc":
        participant = definition.getParticipant(pid)
        assert participant.getEffectiveTryTimeout(30000) == no_limit
        assert participant.getEffectiveConfirmTimeout(30000) == no_limit
        assert participant.getEffectiveCancelTimeout(30000) == no_limit
    assert no_limit > 50 * 365 * 24 * 3600 * 1000
    assert (await engine.execute(_tcc(log, name="no-limits"), 1)).is_confirmed
