"""Observers and journals on both engines: the exact events of a run, and what a failing listener does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fireflytx import (
    JournalError,
    SagaEngine,
    SagaStatus,
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
from fireflytx.listeners import (
    AttemptFinished,
    AttemptStarted,
    DecisionMade,
    RunEvent,
    TransactionFinished,
    TransactionStarted,
)


class Recorder:
    """An observer keeping every event."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    def on_event(self, event: RunEvent) -> None:
        self.events.append(event)


class Journal:
    """A journal keeping every checkpoint; ``refuse`` makes it raise on matching ones."""

    def __init__(self, refuse: Any = None) -> None:
        self.events: list[RunEvent] = []
        self.refuse = refuse

    async def record(self, event: RunEvent) -> None:
        await asyncio.sleep(0)
        if self.refuse is not None and self.refuse(event):
            raise OSError("disk full")
        self.events.append(event)


def brief(event: RunEvent) -> str:
    """A short text per event, so that sequences compare as lists."""
    if isinstance(event, TransactionStarted):
        return "started"
    if isinstance(event, AttemptStarted):
        return f"{event.phase}:{event.unit_id}#{event.attempt}"
    if isinstance(event, AttemptFinished):
        outcome = "ok" if event.error is None else type(event.error).__name__
        return f"{event.phase}:{event.unit_id}#{event.attempt}={outcome}{'!' if event.final else ''}"
    if isinstance(event, DecisionMade):
        return f"decision:{event.decision}"
    assert isinstance(event, TransactionFinished)
    return f"finished:{event.status}"


def make_saga(fail_b: bool, flaky_a: int = 0) -> type:
    tries = {"a": 0}

    @saga("listened")
    class Listened:
        @saga_step("a", retry=1, backoff_ms=1)
        async def a(self) -> str:
            tries["a"] += 1
            if tries["a"] <= flaky_a:
                raise ConnectionError("flaky")
            return "A"

        @compensation_step("a")
        def undo_a(self, _: str) -> None: ...

        @saga_step("b", depends_on=["a"])
        def b(self) -> str:
            if fail_b:
                raise ValueError("b fails")
            return "B"

    return Listened


def make_tcc(fail_second: bool) -> type:
    @tcc("listened-tcc")
    class Listened:
        @tcc_participant("p1", order=1)
        class P1:
            @try_method
            async def t(self) -> str:
                return "r1"

            @confirm_method
            async def c(self, _: str) -> None: ...

            @cancel_method
            def x(self, _: str | None) -> None: ...

        @tcc_participant("p2", order=2)
        class P2:
            @try_method
            def t(self) -> str:
                if fail_second:
                    raise ValueError("p2 refuses")
                return "r2"

            @confirm_method
            def c(self, _: str) -> None: ...

            @cancel_method
            async def x(self, _: str | None) -> None: ...

    return Listened


SAGA_OK = [
    "started",
    "step:a#1", "step:a#1=ConnectionError",
    "step:a#2", "step:a#2=ok!",
    "step:b#1", "step:b#1=ok!",
    "finished:SUCCEEDED",
]
SAGA_COMPENSATED = [
    "started",
    "step:a#1", "step:a#1=ok!",
    "step:b#1", "step:b#1=ValueError!",
    "compensation:a#1", "compensation:a#1=ok!",
    "finished:COMPENSATED",
]
TCC_CONFIRMED = [
    "started",
    "try:p1#1", "try:p1#1=ok!",
    "try:p2#1", "try:p2#1=ok!",
    "decision:CONFIRM",
    "confirm:p1#1", "confirm:p1#1=ok!",
    "confirm:p2#1", "confirm:p2#1=ok!",
    "finished:CONFIRMED",
]
TCC_CANCELED = [
    "started",
    "try:p1#1", "try:p1#1=ok!",
    "try:p2#1", "try:p2#1=ValueError!",
    "decision:CANCEL",
    "cancel:p2#1", "cancel:p2#1=ok!",
    "cancel:p1#1", "cancel:p1#1=ok!",
    "finished:CANCELED",
]


def checkpoints(sequence: list[str]) -> list[str]:
    """What a journal receives of an observer's sequence: no attempt starts, no retried failures."""
    return [s for s in sequence if not s.startswith(("step:", "try:", "confirm:", "cancel:", "compensation:"))
            or s.endswith("!")]


@pytest.mark.parametrize(
    ("kind", "make", "expected"),
    [
        ("saga", lambda: make_saga(fail_b=False, flaky_a=1), SAGA_OK),
        ("saga", lambda: make_saga(fail_b=True), SAGA_COMPENSATED),
        ("tcc", lambda: make_tcc(fail_second=False), TCC_CONFIRMED),
        ("tcc", lambda: make_tcc(fail_second=True), TCC_CANCELED),
    ],
    ids=["saga-succeeded", "saga-compensated", "tcc-confirmed", "tcc-canceled"],
)
async def test_observer_and_journal_see_the_exact_sequence(kind: str, make: Any, expected: list[str]) -> None:
    observer, journal = Recorder(), Journal()
    engine_type = SagaEngine if kind == "saga" else TccEngine
    async with engine_type(listeners=[observer]) as engine:
        engine.add_listener(journal)
        result = await engine.execute(make(), correlation_id=f"{kind}-run")
        assert engine.flush_listeners(5)
    assert [brief(e) for e in observer.events] == expected
    assert [brief(e) for e in journal.events] == checkpoints(expected)
    assert {e.correlation_id for e in observer.events} == {f"{kind}-run"}
    finished = observer.events[-1]
    assert isinstance(finished, TransactionFinished) and finished.result is result


class Raising:
    def on_event(self, event: RunEvent) -> None:
        raise RuntimeError("observer broke")


class Slow:
    def __init__(self) -> None:
        self.seen = 0

    def on_event(self, event: RunEvent) -> None:
        import time

        time.sleep(0.01)
        self.seen += 1


@pytest.mark.parametrize("kind", ["saga", "tcc"])
async def test_a_raising_or_slow_observer_changes_nothing(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    slow, recorder = Slow(), Recorder()
    engine_type = SagaEngine if kind == "saga" else TccEngine
    make = (lambda: make_saga(fail_b=True)) if kind == "saga" else (lambda: make_tcc(fail_second=True))
    async with engine_type(listeners=[Raising(), slow, recorder]) as engine:
        result = await engine.execute(make())
        assert engine.flush_listeners(10)
        assert engine.listener_errors == len(recorder.events) > 0
    assert str(result.status) in (SagaStatus.COMPENSATED, TccStatus.CANCELED)
    assert slow.seen == len(recorder.events)
    assert "observer broke" in caplog.text or "observer" in caplog.text


async def test_a_raising_journal_fails_the_step_it_did_not_record() -> None:
    journal = Journal(
        refuse=lambda e: isinstance(e, AttemptFinished) and e.unit_id == "b" and e.error is None
    )
    async with SagaEngine(listeners=[journal]) as engine:
        result = await engine.execute(make_saga(fail_b=False))
    assert result.status is SagaStatus.COMPENSATED
    assert result.steps["b"].error is not None and result.steps["b"].error.type == "JournalError"
    assert isinstance(result.steps["b"].error.exception.__cause__, OSError)
    assert result.steps["a"].compensated


async def test_a_journal_refusing_the_confirm_decision_turns_it_into_a_cancel() -> None:
    journal = Journal(refuse=lambda e: isinstance(e, DecisionMade) and e.decision == "CONFIRM")
    async with TccEngine(listeners=[journal]) as engine:
        result = await engine.execute(make_tcc(fail_second=False))
    assert result.status is TccStatus.CANCELED
    assert {p.status.value for p in result.participants.values()} == {"CANCELED"}
    assert not any(p.confirm_phase.attempts for p in result.participants.values())


async def test_a_journal_refusing_the_start_runs_nothing() -> None:
    ran: list[str] = []

    @saga("never")
    class Never:
        @saga_step("a")
        def a(self) -> None:
            ran.append("a")

    journal = Journal(refuse=lambda e: isinstance(e, TransactionStarted))
    async with SagaEngine(listeners=[journal]) as engine:
        with pytest.raises(JournalError, match="TransactionStarted"):
            await engine.execute(Never)
    assert ran == []


def test_something_that_is_no_listener_is_refused_with_the_fix() -> None:
    with pytest.raises(TypeError, match="on_event"):
        SagaEngine(listeners=[object()])
