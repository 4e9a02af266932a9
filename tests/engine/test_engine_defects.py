"""The engine's defects (engine-facts.md) next to fireflytx's promise, on the same engine.

Each test first drives the raw engine to show the defect, then shows fireflytx holding its promise.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from jpype import JClass, JImplements, JOverride

from fireflytx import (
    DefinitionError,
    SagaEngine,
    StepStatus,
    compensation_step,
    definition_of,
    saga,
    saga_step,
)

P = "org.fireflyframework.transactional."


@JImplements(P + "saga.engine.step.StepHandler", deferred=True)
class _RawHandler:
    def __init__(self, fail: bool = False, sleep: float = 0.0) -> None:
        self.fail = fail
        self.sleep = sleep
        self.compensated: list[str] = []

    @JOverride
    def execute(self, _input: Any, _ctx: Any) -> Any:
        if self.sleep:
            time.sleep(self.sleep)
        mono = JClass("reactor.core.publisher.Mono")
        if self.fail:
            return mono.error(JClass("java.lang.RuntimeException")("raw failure"))
        return mono.just("ok")

    @JOverride
    def compensate(self, _arg: Any, _ctx: Any) -> Any:
        return JClass("reactor.core.publisher.Mono").empty()


def _raw_saga(steps: dict[str, tuple[list[str], _RawHandler, int]]) -> Any:
    definition = JClass(P + "saga.registry.SagaDefinition")("raw", None, None, 0)
    duration = JClass("java.time.Duration")
    for step_id, (deps, handler, timeout_ms) in steps.items():
        java_deps = JClass("java.util.ArrayList")()
        for dep in deps:
            java_deps.add(dep)
        step = JClass(P + "saga.registry.StepDefinition")(
            step_id,
            None,
            java_deps,
            0,
            duration.ofMillis(10),
            duration.ofMillis(timeout_ms),
            None,
            False,
            0.5,
            False,
            None,
        )
        step.handler = handler
        definition.steps.put(step_id, step)
    return definition


def _run_raw(definition: Any) -> Any:
    engine = JClass(P + "saga.engine.SagaEngine")(None, JClass("dev.fireflytx.bridge.NoOpSagaEvents")())
    ctx = JClass(P + "saga.core.SagaContext")("raw-run")
    return engine.execute(definition, JClass(P + "saga.engine.StepInputs").empty(), ctx).block()


@pytest.fixture(autouse=True)
def _jvm() -> None:
    SagaEngine().start()


def test_cycle_raw_engine_reports_success_fireflytx_rejects_it() -> None:
    raw = _raw_saga(
        {"a": (["b"], _RawHandler(), 0), "b": (["a"], _RawHandler(), 0), "c": ([], _RawHandler(), 0)}
    )
    result = _run_raw(raw)
    assert result.isSuccess()  # defect 6: the cycle's steps silently never ran
    assert result.steps().get("a").status() is None
    with pytest.raises(DefinitionError, match="dependency cycle"):

        @saga("cyclic")
        class Cyclic:
            @saga_step("a", depends_on=["b"])
            def a(self) -> None: ...

            @saga_step("b", depends_on=["a"])
            def b(self) -> None: ...


def test_unknown_dependency_raw_engine_throws_npe_fireflytx_rejects_it() -> None:
    raw = _raw_saga({"a": (["ghost"], _RawHandler(), 0)})
    with pytest.raises(JClass("java.lang.NullPointerException")):
        _run_raw(raw)
    with pytest.raises(DefinitionError, match="unknown step 'ghost'"):

        @saga("ghostly")
        class Ghostly:
            @saga_step("a", depends_on=["ghost"])
            def a(self) -> None: ...


def test_every_completed_step_compensated_raw_vs_fireflytx() -> None:
    raw = _raw_saga({"a": ([], _RawHandler(), 0), "b": (["a"], _RawHandler(fail=True), 0)})
    result = _run_raw(raw)
    # defect 17: a step with the default no-op compensation is reported COMPENSATED
    assert str(result.steps().get("a").status()) == "COMPENSATED"
    assert bool(result.steps().get("a").compensated())


async def test_no_compensation_is_not_reported_as_compensated() -> None:
    @saga("no-undo")
    class NoUndo:
        @saga_step("a")
        def a(self) -> None: ...

        @saga_step("b", depends_on=["a"])
        def b(self) -> None:
            raise RuntimeError("b fails")

    async with SagaEngine() as engine:
        result = await engine.execute(NoUndo)
    assert result.steps["a"].status is StepStatus.SUCCEEDED and not result.steps["a"].compensated
    assert result.compensated_steps == ()


def test_sync_handler_timeout_raw_engine_waits_for_the_handler() -> None:
    # defect 9: a synchronous handler blocks the subscribing thread, so the timeout cannot fire early
    raw = _raw_saga({"slow": ([], _RawHandler(sleep=0.6), 100)})
    started = time.perf_counter()
    _run_raw(raw)
    assert time.perf_counter() - started >= 0.6


async def test_compensation_failure_raw_is_success_blind_fireflytx_reports_it() -> None:
    @saga("undo-fails")
    class UndoFails:
        @saga_step("a")
        def a(self) -> None: ...

        @compensation_step("a")
        def undo(self, _: object) -> None:
            raise OSError("cannot undo")

        @saga_step("b", depends_on=["a"])
        def b(self) -> None:
            raise RuntimeError("b fails")

    async with SagaEngine() as engine:
        result = await engine.execute(UndoFails)
    assert result.status.value == "COMPENSATION_FAILED"
    assert result.steps["a"].compensation_error is not None


async def test_every_knob_reaches_the_engine() -> None:
    @saga("knobs", layer_concurrency=3)
    class Knobs:
        @saga_step(
            "a",
            retry=4,
            backoff_ms=250,
            timeout_ms=1500,
            jitter=True,
            jitter_factor=0.3,
            idempotency_key="key-a",
        )
        async def a(self) -> None: ...

        @compensation_step("a", backoff_ms=70, critical=True)
        async def undo(self, _: object) -> None: ...

        @saga_step("b", depends_on=["a"])
        async def b(self) -> None: ...

    async with SagaEngine() as engine:
        definition = engine._bridge.register(definition_of(Knobs))
    assert definition.name == "knobs" and definition.layerConcurrency == 3
    a = definition.steps.get("a")
    # The timeout stays with fireflytx, which times each attempt from when it starts running: the
    # engine's own timer would race a result that arrives at the limit and drop it.
    assert (a.retry, a.backoff.toMillis(), a.timeout.toMillis(), a.jitter) == (4, 250, 0, True)
    assert abs(a.jitterFactor - 0.3) < 1e-9 and a.idempotencyKey == "key-a"
    assert a.compensationBackoff.toMillis() == 70 and a.compensationCritical
    assert a.compensateName == "undo"
    assert list(definition.steps.get("b").dependsOn) == ["a"]
    await asyncio.sleep(0)
