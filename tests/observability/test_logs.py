"""Log records that say which run and step they belong to: Python's, inside steps, and the engine's."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from fireflytx import (
    SagaContext,
    SagaEngine,
    SagaStatus,
    TccContext,
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
from fireflytx.logs import JsonFormatter, set_java_log_level

app = logging.getLogger("tests.app")
ORCHESTRATOR = "org.fireflyframework.transactional.saga.engine.SagaExecutionOrchestrator"


class Keep(logging.Handler):
    """Keeps every record it sees."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)

    def matching(self, test: Callable[[logging.LogRecord], bool]) -> list[logging.LogRecord]:
        with self._lock:
            return [r for r in self.records if test(r)]

    def wait_for(self, test: Callable[[logging.LogRecord], bool], count: int) -> list[logging.LogRecord]:
        """The matching records once there are ``count`` (the engine's lines arrive on a drain thread)."""
        deadline = time.monotonic() + 30
        while len(found := self.matching(test)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return found


@pytest.fixture
def kept() -> Iterator[Keep]:
    handler = Keep()
    loggers = [logging.getLogger("tests.app"), logging.getLogger("fireflytx.java")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def run_of(record: logging.LogRecord) -> tuple[object, ...]:
    return (record.tx_correlation_id, record.tx_name, record.tx_step_id, record.tx_phase)


@saga("logged")
class Logged:
    @saga_step("reserve")
    async def reserve(self, order: dict, ctx: SagaContext) -> str:
        app.info("reserving for %s", ctx.correlation_id)

        async def child() -> None:
            await asyncio.sleep(0)
            app.info("child task of %s", ctx.correlation_id)

        await asyncio.create_task(child())
        return "R-1"

    @compensation_step("reserve")
    def release(self, reservation: str) -> None:
        app.info("releasing %s", reservation)

    @saga_step("charge", depends_on=["reserve"])
    def charge(self, order: dict, ctx: SagaContext) -> str:
        app.info("charging for %s", ctx.correlation_id)
        if order.get("decline"):
            raise ValueError("card declined")
        return "C-1"


async def test_python_records_inside_steps_carry_their_run_and_step(kept: Keep) -> None:
    async with SagaEngine() as engine:
        app.info("before any run")
        runs = [f"order-{i}" for i in range(8)]
        results = await asyncio.gather(
            *(engine.execute(Logged, {"decline": i % 2}, correlation_id=cid) for i, cid in enumerate(runs))
        )
    assert [r.status for r in results] == [SagaStatus.SUCCEEDED, SagaStatus.COMPENSATED] * 4
    (outside,) = kept.matching(lambda r: r.getMessage() == "before any run")
    assert run_of(outside) == (None, None, None, None)
    for cid in runs:
        # Each record names the run whose step wrote it, though eight runs shared the loop and workers.
        (reserving,) = kept.matching(lambda r, cid=cid: r.getMessage() == f"reserving for {cid}")
        assert run_of(reserving) == (cid, "logged", "reserve", "step")
        (child,) = kept.matching(lambda r, cid=cid: r.getMessage() == f"child task of {cid}")
        assert run_of(child) == (cid, "logged", "reserve", "step")
        (charging,) = kept.matching(lambda r, cid=cid: r.getMessage() == f"charging for {cid}")
        assert run_of(charging) == (cid, "logged", "charge", "step")
    releases = kept.matching(lambda r: r.getMessage() == "releasing R-1")
    assert sorted(r.tx_correlation_id for r in releases) == runs[1::2]
    assert {(r.tx_step_id, r.tx_phase) for r in releases} == {("reserve", "compensation")}


async def test_the_engines_lines_name_the_run_they_were_written_for(kept: Keep) -> None:
    runs = [f"declined-{i}" for i in range(10)]
    async with SagaEngine() as engine:
        results = await asyncio.gather(
            *(engine.execute(Logged, {"decline": True}, correlation_id=cid) for cid in runs)
        )
    assert {r.status for r in results} == {SagaStatus.COMPENSATED}
    # The engine warns once per failed step (its default level), on whichever thread completed the step.
    # (Lines of earlier tests' runs may still be arriving; an untagged line would count here.)
    failed = kept.wait_for(
        lambda r: '"step_failed"' in r.getMessage() and r.tx_correlation_id in (None, *runs), 10
    )
    assert sorted(r.tx_correlation_id for r in failed) == sorted(runs)
    assert {(r.tx_name, r.tx_step_id) for r in failed} == {("logged", "charge")}


@tcc("logged-tcc")
class LoggedTcc:
    @tcc_participant("payment", order=1)
    class Payment:
        @try_method
        async def hold(self, order: dict, ctx: TccContext) -> str:
            app.info("holding for %s", ctx.correlation_id)
            raise ValueError("no funds")

        @confirm_method
        async def capture(self, hold: str) -> None: ...

        @cancel_method
        def release(self, hold: str | None) -> None:
            app.info("cancelling")


async def test_tcc_phases_and_the_engines_tcc_lines(kept: Keep) -> None:
    async with TccEngine() as engine:
        result = await engine.execute(LoggedTcc, {}, correlation_id="tcc-1")
    assert result.status is TccStatus.CANCELED
    (holding,) = kept.matching(lambda r: r.getMessage() == "holding for tcc-1")
    assert run_of(holding) == ("tcc-1", "logged-tcc", "payment", "try")
    (cancelling,) = kept.matching(lambda r: r.getMessage() == "cancelling")
    assert run_of(cancelling) == ("tcc-1", "logged-tcc", "payment", "cancel")
    # The engine's errors about the failed try (its default level shows them).
    errors = kept.wait_for(
        lambda r: "TRY failed for participant" in r.getMessage() and r.tx_correlation_id in (None, "tcc-1"), 1
    )
    assert [(r.tx_correlation_id, r.tx_name) for r in errors] == [("tcc-1", "logged-tcc")]


def holding(participant_id: str, order: int, refusal: str | None = None) -> type:
    """A participant whose try holds something, or raises ``LookupError(refusal)``."""

    class Holds:
        @try_method
        async def hold(self, order: dict) -> str:
            if refusal is not None:
                raise LookupError(refusal)
            return f"H-{participant_id}"

        @confirm_method
        async def capture(self, hold: str) -> None: ...

        @cancel_method
        async def release(self, hold: str | None) -> None: ...

    return tcc_participant(participant_id, order=order)(Holds)


@tcc("two-tried")
class TwoTried:
    """Two participants tried before the third fails: the engine's own cancel phase would throw."""

    First = holding("first", 1)
    Second = holding("second", 2)
    Third = holding("third", 3, refusal="out of stock")


async def test_a_canceled_tcc_logs_its_failed_try_and_not_the_engines_cancel_phase_defect(kept: Keep) -> None:
    async with TccEngine() as engine:
        for cid in ("two-tried-1", "two-tried-2"):
            result = await engine.execute(TwoTried, {}, correlation_id=cid)
            assert result.status is TccStatus.CANCELED
            assert [p.status.value for p in result.participants.values()] == ["CANCELED"] * 3
    # The second run's line is here only after every line of the first (they arrive in order).
    kept.wait_for(lambda r: "TRY failed for participant 'third'" in r.getMessage()
                  and r.tx_correlation_id == "two-tried-2", 1)
    first = [r.getMessage() for r in kept.matching(java_line_of("two-tried-1"))]
    assert any("TRY failed for participant 'third'" in m for m in first), first
    assert not [m for m in first if "UnsupportedOperationException" in m], first


async def test_the_java_log_level_changes_while_the_engine_runs(kept: Keep) -> None:
    def executing(cid: str) -> Callable[[logging.LogRecord], bool]:
        return lambda r: r.tx_correlation_id == cid and '"executing_step"' in r.getMessage()

    def failed(cid: str) -> Callable[[logging.LogRecord], bool]:
        return lambda r: r.tx_correlation_id == cid and '"step_failed"' in r.getMessage()

    async with SagaEngine() as engine:
        set_java_log_level("INFO", ORCHESTRATOR)
        try:
            await engine.execute(Logged, {"decline": True}, correlation_id="loud")
            lines = kept.wait_for(executing("loud"), 2)
            assert sorted(r.tx_step_id for r in lines) == ["charge", "reserve"]
        finally:
            set_java_log_level("WARN", ORCHESTRATOR)
        await engine.execute(Logged, {"decline": True}, correlation_id="quiet")
        # The warning comes after any INFO line of the same run: once it is here, none is on its way.
        assert len(kept.wait_for(failed("quiet"), 1)) == 1
        assert kept.matching(executing("quiet")) == []
        with pytest.raises(ValueError, match="unknown Java log level 'LOUD'"):
            set_java_log_level("LOUD")


async def test_json_lines_carry_the_run(kept: Keep) -> None:
    async with SagaEngine() as engine:
        await engine.execute(Logged, {"decline": True}, correlation_id="json-1")
    formatter = JsonFormatter()
    (charging,) = kept.matching(lambda r: r.getMessage() == "charging for json-1")
    line = json.loads(formatter.format(charging))
    assert line["message"] == "charging for json-1"
    assert (line["level"], line["logger"]) == ("INFO", "tests.app")
    assert (line["correlation_id"], line["transaction"], line["step_id"], line["phase"]) == (
        "json-1", "logged", "charge", "step",
    )
    assert line["time"].endswith("+00:00")
    (java,) = kept.wait_for(lambda r: r.tx_correlation_id == "json-1" and r.name == "fireflytx.java", 1)
    line = json.loads(formatter.format(java))
    assert line["correlation_id"] == "json-1" and line["step_id"] == "charge" and "phase" not in line
    assert line["java_logger"] == ORCHESTRATOR
    try:
        raise OSError("disk full")
    except OSError:
        record = app.makeRecord(app.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert "correlation_id" not in line
    assert line["exception"].startswith("Traceback") and "OSError: disk full" in line["exception"]


@pytest.mark.parametrize(
    ("level", "topology", "chatty"),
    [
        ("INFO", False, "WARN"),
        ("DEBUG", False, "WARN"),
        ("WARN", False, "WARN"),
        ("ERROR", False, "ERROR"),
        ("OFF", False, "OFF"),
        ("INFO", True, "INFO"),
        ("OFF", True, "OFF"),
    ],
)
def test_the_per_step_loggers_are_never_louder_than_the_engine(
    level: str, topology: bool, chatty: str
) -> None:
    from fireflytx._bridge._logs import chatty_level

    assert chatty_level(level, topology) == chatty


def java_line_of(cid: str) -> Callable[[logging.LogRecord], bool]:
    return lambda r: r.tx_correlation_id == cid and r.name == "fireflytx.java"


async def test_a_quiet_engine_forwards_no_step_warnings(kept: Keep) -> None:
    from fireflytx._bridge import _logs

    async with SagaEngine() as engine:
        _logs.set_level("ERROR", topology=False)  # as LogConfig(level="ERROR") does when the JVM starts
        try:
            await engine.execute(Logged, {"decline": True}, correlation_id="hushed")
            await engine.execute(Logged, {"decline": True}, correlation_id="marker")
        finally:
            _logs.set_level("INFO", topology=False)
        await engine.execute(Logged, {"decline": True}, correlation_id="heard")
        # Lines arrive in order: once the later run's warning is here, the earlier ones would be too.
        assert len(kept.wait_for(java_line_of("heard"), 1)) == 1
    assert kept.matching(java_line_of("hushed")) == kept.matching(java_line_of("marker")) == []


def test_engine_lines_are_handed_on_only_at_levels_a_handler_hears() -> None:
    from fireflytx._bridge._logs import LOGGER, lowest_heard

    parent = logging.getLogger("fireflytx")
    assert any(type(h) is logging.NullHandler for h in parent.handlers)
    parent.propagate = False  # the chain is now fireflytx.java -> fireflytx, which holds a NullHandler
    handler = Keep()
    handler.setLevel(logging.WARNING)
    try:
        assert lowest_heard() is None
        LOGGER.addHandler(handler)
        assert lowest_heard() == logging.WARNING
        parent.addFilter(lambda record: True)  # a filter on the way sees every record
        assert lowest_heard() == 0
    finally:
        parent.propagate = True
        parent.filters.clear()
        LOGGER.removeHandler(handler)


async def test_a_handler_added_later_hears_the_next_lines() -> None:
    parent = logging.getLogger("fireflytx")
    java = logging.getLogger("fireflytx.java")
    parent.propagate = False  # nobody hears fireflytx.java: its lines are dropped unread
    handler = Keep()
    try:
        async with SagaEngine() as engine:
            await engine.execute(Logged, {"decline": True}, correlation_id="unheard")
            time.sleep(0.3)  # the drain thread's batch of that line goes by
            java.addHandler(handler)
            await engine.execute(Logged, {"decline": True}, correlation_id="heard-later")
            assert len(handler.wait_for(java_line_of("heard-later"), 1)) == 1
        assert handler.matching(java_line_of("unheard")) == []
    finally:
        parent.propagate = True
        java.removeHandler(handler)


async def test_a_burst_of_engine_lines_arrives_whole_and_in_order(kept: Keep) -> None:
    async with SagaEngine() as engine:
        runs = [f"burst-{i}" for i in range(300)]
        for cid in runs:
            await engine.execute(Logged, {"decline": True}, correlation_id=cid)
    lines = kept.wait_for(
        lambda r: r.name == "fireflytx.java" and str(r.tx_correlation_id).startswith("burst-"), 300
    )
    assert [r.tx_correlation_id for r in lines] == runs
    assert all('"step_failed"' in r.getMessage() and r.tx_step_id == "charge" for r in lines)


async def test_a_raising_handler_does_not_stop_the_engines_lines(kept: Keep) -> None:
    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("this handler is broken")

    broken = Broken()
    java = logging.getLogger("fireflytx.java")
    java.addHandler(broken)
    try:
        async with SagaEngine() as engine:
            for cid in ("broken-1", "broken-2", "broken-3"):
                await engine.execute(Logged, {"decline": True}, correlation_id=cid)
        # Each run's warning reaches the handler that works, though a handler raised on every line.
        assert len(kept.wait_for(java_line_of("broken-3"), 1)) == 1
        assert [len(kept.matching(java_line_of(cid))) for cid in ("broken-1", "broken-2")] == [1, 1]
    finally:
        java.removeHandler(broken)


@pytest.mark.parametrize(
    ("message", "step"),
    [
        ('{"event":"step_failed","step_id":"d","attempts":"1"}', "d"),
        ('{"event":"step_failed","step_id":"say \\"hi\\"","attempts":"1"}', 'say "hi"'),
        ('{"event":"step_failed","step_id":"caf\\u00e9"}', "café"),
        ('{"event": "step_failed", "step_id": "spaced"}', "spaced"),
        ('{"event":"saga_started"}', None),
        ("plain text naming \"step_id\" without JSON", None),
        ('{"step_id": 7}', None),
        (None, None),
    ],
)
def test_the_step_an_engine_line_names_is_read_with_or_without_escapes(
    message: str | None, step: str | None
) -> None:
    from fireflytx._bridge._logs import _step_named_in

    assert _step_named_in(message) == step
