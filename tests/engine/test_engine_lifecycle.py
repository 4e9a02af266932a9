"""Engine lifecycle, sync API, log forwarding and Java error mapping."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from fireflytx import FireflyTxError, JavaExecutionError, SagaEngine, saga, saga_step
from fireflytx.errors import EngineNotStartedError


@saga("tiny")
class Tiny:
    @saga_step("a")
    async def a(self, n: int) -> int:
        await asyncio.sleep(0)
        return n + 1

    @saga_step("b", depends_on=["a"])
    def b(self, n: int) -> int:
        return n * 10


async def test_engines_start_and_stop_repeatedly_in_one_process() -> None:
    for round_ in range(3):
        engine = SagaEngine()
        await engine.initialize()
        assert engine.is_running
        result = await engine.execute(Tiny, round_)
        assert result.result_of("a") == round_ + 1
        await engine.shutdown()
        assert not engine.is_running
        with pytest.raises(EngineNotStartedError, match="initialize"):
            await engine.execute(Tiny, 1)


async def test_shutdown_waits_for_runs_in_flight() -> None:
    release = asyncio.Event()

    @saga("waits")
    class Waits:
        @saga_step("a")
        async def a(self) -> str:
            await release.wait()
            return "done"

    engine = await SagaEngine().initialize()
    run = asyncio.create_task(engine.execute(Waits))
    await asyncio.sleep(0.05)
    stopping = asyncio.create_task(engine.shutdown())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    release.set()
    await stopping
    assert (await run).result_of("a") == "done"


def test_execute_sync_from_a_script_and_a_thread() -> None:
    with SagaEngine() as engine:
        assert engine.execute_sync(Tiny, 1).result_of("b") == 10
        out: list[int] = []
        worker = threading.Thread(target=lambda: out.append(engine.execute_sync(Tiny, 2).result_of("a")))
        worker.start()
        worker.join(10)
        assert out == [3]


async def test_execute_sync_inside_a_running_loop_is_refused() -> None:
    with SagaEngine() as engine:
        with pytest.raises(FireflyTxError, match="await engine.execute"):
            engine.execute_sync(Tiny, 1)


async def test_bad_arguments_get_typed_errors(engine: SagaEngine) -> None:
    with pytest.raises(ValueError, match="must not contain '\\|'"):
        await engine.execute(Tiny, 1, correlation_id="a|b")
    # An unpaired surrogate cannot cross to Java; refused alone, whether the loop is busy or idle.
    refused = [engine.execute(Tiny, 1, correlation_id=cid) for cid in ("bad \ud800", "ok \u00e9")]
    outcomes = await asyncio.gather(*refused, return_exceptions=True)
    assert isinstance(outcomes[0], ValueError) and "unpaired surrogate" in str(outcomes[0])
    assert outcomes[1].correlation_id == "ok \u00e9"  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="headers must map str to str"):
        await engine.execute(Tiny, 1, headers={"n": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        await engine.execute(Tiny, 1, compensation_policy="SOMETIMES")


async def test_engine_logs_reach_python_logging(engine: SagaEngine, caplog: pytest.LogCaptureFixture) -> None:
    @saga("logs")
    class Logs:
        @saga_step("boom")
        def boom(self) -> None:
            raise RuntimeError("visible in the java log")

    caplog.set_level(logging.INFO, logger="fireflytx.java")
    await engine.execute(Logs)
    for _ in range(50):
        if any("visible in the java log" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    records = [r for r in caplog.records if r.name == "fireflytx.java"]
    assert any("visible in the java log" in r.getMessage() for r in records)
    assert all("topology" not in r.getMessage().lower() for r in records)


def test_java_exceptions_map_to_java_execution_error() -> None:
    SagaEngine().start()  # makes sure the JVM runs
    from jpype import JClass

    from fireflytx._bridge._errors import map_java_errors

    with pytest.raises(JavaExecutionError) as info, map_java_errors():
        JClass("java.lang.Integer").parseInt("not a number")
    error = info.value
    assert error.java_class == "java.lang.NumberFormatException"
    assert "not a number" in error.java_message
    assert "at java.base/java.lang.Integer.parseInt" in error.java_stacktrace
    assert error.__cause__ is not None
