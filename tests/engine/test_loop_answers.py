"""How answers reach the engine from the loop: at once when the loop is idle, batched when it is busy, and
with each failure the engine's next requests in the same call. Every path must end every run right."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from fireflytx import (
    SagaContext,
    SagaEngine,
    SagaStatus,
    StepStatus,
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


def chain(length: int) -> type:
    """Steps s0 → s1 → …, each returning one more than the step before it."""

    def step_at(index: int) -> Any:
        async def step(self: object, ctx: SagaContext) -> int:
            return 0 if index == 0 else int(ctx.get_result(f"s{index - 1}")) + 1

        return saga_step(f"s{index}", depends_on=[f"s{index - 1}"] if index else [])(step)

    namespace = {f"s{index}": step_at(index) for index in range(length)}
    return saga("answers-chain")(type("AnswersChain", (), namespace))


async def test_a_long_chain_on_an_idle_loop_runs_each_step_after_the_one_before(engine: SagaEngine) -> None:
    result = await engine.execute(chain(40))
    assert result.is_success
    assert [result.steps[f"s{i}"].result for i in range(40)] == list(range(40))


def wide(width: int, *, bad: str | None, name: str = "answers-wide") -> type:
    """``width`` undoable steps in one layer after ``root``; ``bad`` (if any) fails at once."""
    namespace: dict[str, Any] = {}

    async def root(self: Any) -> str:
        return "root"

    async def undo_root(self: Any, _: str) -> None:
        self.undone.append("root")

    namespace["root"] = saga_step("root")(root)
    namespace["undo_root"] = compensation_step("root")(undo_root)

    def add(name: str) -> None:
        async def step(self: Any) -> str:
            if name == bad:
                raise ValueError(f"{name} fails")
            return name

        async def undo(self: Any, _: str) -> None:
            self.undone.append(name)

        namespace[name] = saga_step(name, depends_on=["root"])(step)
        namespace[f"undo_{name}"] = compensation_step(name)(undo)

    for index in range(width):
        add(f"w{index}")
    namespace["__init__"] = lambda self: setattr(self, "undone", [])
    return saga(name)(type("AnswersWide", (), namespace))


async def test_one_failing_step_among_many_answered_in_one_turn_undoes_exactly_those_that_succeeded(
    engine: SagaEngine,
) -> None:
    instance = wide(12, bad="w5")()
    result = await engine.execute(instance)
    assert result.status is SagaStatus.COMPENSATED
    assert result.failed_steps == ("w5",)
    succeeded = {s for s, o in result.steps.items() if s != "w5" and o.status is StepStatus.COMPENSATED}
    assert succeeded == set(instance.undone)
    assert "root" in succeeded and instance.undone[-1] == "root"
    assert result.steps["w5"].status is StepStatus.FAILED


async def test_many_runs_at_once_some_failing_each_end_with_their_own_outcome(engine: SagaEngine) -> None:
    good, bad = wide(6, bad=None, name="answers-good"), wide(6, bad="w2", name="answers-bad")
    instances = [(bad if i % 3 == 0 else good)() for i in range(60)]
    results = await asyncio.gather(*(engine.execute(instance) for instance in instances))
    for i, (instance, result) in enumerate(zip(instances, results, strict=True)):
        if i % 3 == 0:
            assert result.status is SagaStatus.COMPENSATED and result.failed_steps == ("w2",)
            assert instance.undone[-1] == "root"
            assert set(result.compensated_steps) == set(instance.undone)
        else:
            assert result.is_success and instance.undone == []


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "def"])
async def test_a_step_retried_without_a_pause_succeeds_on_its_last_attempt(
    engine: SagaEngine, is_async: bool
) -> None:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(len(calls) + 1)
        if len(calls) < 5:
            raise ConnectionError(f"attempt {len(calls)}")
        return "done"

    if is_async:

        async def flaky(self: object) -> str:
            return attempt()
    else:

        def flaky(self: object) -> str:  # type: ignore[misc]
            return attempt()

    @saga("answers-retry")
    class Retried:
        step = saga_step("flaky", retry=4, backoff_ms=0)(flaky)

    result = await engine.execute(Retried)
    assert result.is_success and result.steps["flaky"].result == "done"
    assert calls == [1, 2, 3, 4, 5] and result.steps["flaky"].attempts == 5


async def test_a_failed_tcc_try_cancels_every_participant_tried_before_it() -> None:
    cancelled: list[str] = []

    def participant(name: str, order: int, fails: bool) -> type:
        class Participant:
            @try_method
            async def reserve(self) -> str:
                if fails:
                    raise ValueError(f"{name} declined")
                return name

            @confirm_method
            async def commit(self, _: str) -> None:
                raise AssertionError("nothing is confirmed after a failed try")

            @cancel_method
            async def release(self, _: str | None) -> None:
                cancelled.append(name)

        return tcc_participant(name, order=order)(Participant)

    @tcc("answers-tcc")
    class Three:
        first = participant("first", 1, False)
        second = participant("second", 2, False)
        third = participant("third", 3, True)

    async with TccEngine() as engine:
        for _ in range(3):
            cancelled.clear()
            result = await engine.execute(Three)
            assert result.status is TccStatus.CANCELED
            assert sorted(cancelled) == ["first", "second", "third"]


# -- run starts on a busy loop ride on the batch ----------------------------------------------------


@saga("answers-one")
class One:
    @saga_step("only")
    async def only(self, ctx: SagaContext) -> str:
        return ctx.correlation_id


def _crossings() -> int:
    from fireflytx._bridge._pump import CROSSINGS

    return CROSSINGS.into_java


async def test_runs_started_in_one_busy_loop_turn_start_with_one_crossing(engine: SagaEngine) -> None:
    await engine.execute(One)  # the launcher is made and registered once, beforehand
    before = _crossings()
    results = await asyncio.gather(*(engine.execute(One) for _ in range(100)))
    assert all(r.is_success and r.steps["only"].result == r.correlation_id for r in results)
    # Started one by one, 100 runs would cross 100 times for their starts alone.
    assert _crossings() - before < 10


async def test_correlation_ids_with_spaces_or_newlines_reach_their_runs_whole(engine: SagaEngine) -> None:
    ids = ["order 42 for ann", "line\nbreak", "  leading and trailing  ", "tab\there"] * 5
    ids = [f"{cid} #{i}" for i, cid in enumerate(ids)]
    results = await asyncio.gather(*(engine.execute(One, correlation_id=cid) for cid in ids))
    assert [r.correlation_id for r in results] == ids
    assert [r.steps["only"].result for r in results] == ids


async def test_two_classes_of_one_name_started_in_the_same_turn_each_run_their_own_steps(
    engine: SagaEngine,
) -> None:
    def named(value: str) -> type:
        @saga("answers-same-name")
        class Same:
            @saga_step("only")
            async def only(self) -> str:
                return value

        return Same

    first, second = named("first"), named("second")
    for _ in range(3):  # the definition is replaced back and forth, its launcher with it
        results = await asyncio.gather(*(engine.execute(cls) for cls in (first, second) * 10))
        assert [r.steps["only"].result for r in results] == ["first", "second"] * 10


async def test_a_run_whose_batched_start_the_engine_refuses_fails_alone(engine: SagaEngine) -> None:
    from fireflytx import JavaExecutionError

    await asyncio.gather(engine.execute(One), engine.execute(One))  # started with a batch: a launcher
    bridge: Any = engine._bridge  # white-box: make the launcher named for One's next start unknown to Java
    pump = bridge.pump_for(asyncio.get_running_loop())
    key = next(k for k in pump._launchers if k[1] == "answers-one")
    definition, name = pump._launchers[key]
    pump._launchers[key] = (definition, "0")
    try:
        outcomes = await asyncio.gather(
            asyncio.sleep(0), engine.execute(One), return_exceptions=True
        )
    finally:
        pump._launchers[key] = (definition, name)
    error = outcomes[1]
    assert isinstance(error, JavaExecutionError), error
    assert "no launcher 0" in str(error)
    assert engine.runs_in_flight == 0
    assert (await engine.execute(One)).is_success


def test_a_loop_closed_with_a_batch_still_queued_is_let_go() -> None:
    import gc
    import weakref

    engine = SagaEngine().start()
    try:
        loop = asyncio.new_event_loop()

        async def leave_a_batch_queued() -> None:
            await engine.execute(One)
            bridge: Any = engine._bridge
            bridge.pump_for(asyncio.get_running_loop())._batch("")  # runs only on a later turn

        loop.run_until_complete(leave_a_batch_queued())
        loop.close()
        gone = weakref.ref(loop)
        del loop
        gc.collect()
        assert gone() is None
    finally:
        engine.stop()


async def test_runs_cancelled_while_their_starts_wait_for_the_batch_end_cleanly(engine: SagaEngine) -> None:
    calls: list[str] = []

    @saga("answers-cancelled-early")
    class Early:
        @saga_step("a")
        async def a(self) -> None:
            calls.append("a")

    bridge: Any = engine._bridge
    runs = [asyncio.create_task(engine.execute(Early)) for _ in range(5)]
    await asyncio.sleep(0)  # each run reached its start, queued for the next turn's batch
    assert engine.runs_in_flight == 5
    assert len(bridge.pump_for(asyncio.get_running_loop())._starts) == 5
    for run in runs:
        run.cancel()
    outcomes = await asyncio.gather(*runs, return_exceptions=True)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes), outcomes
    assert calls == []  # cancelled before their first step began: no user code ran
    assert engine.runs_in_flight == 0 and bridge.runs == {}
    assert (await engine.execute(Early)).is_success


async def test_tccs_started_in_one_busy_loop_turn_start_with_the_batch() -> None:
    def holding(name: str, order: int) -> type:
        class Participant:
            @try_method
            async def reserve(self) -> str:
                return name

            @confirm_method
            async def commit(self, _: str) -> None: ...

            @cancel_method
            async def release(self, _: str | None) -> None: ...

        return tcc_participant(name, order=order)(Participant)

    @tcc("answers-tcc-batch")
    class Pair:
        left = holding("left", 1)
        right = holding("right", 2)

    async with TccEngine() as engine:
        await asyncio.gather(engine.execute(Pair), engine.execute(Pair))  # the launcher, made once
        before = _crossings()
        results = await asyncio.gather(*(engine.execute(Pair) for _ in range(50)))
        assert all(r.status is TccStatus.CONFIRMED for r in results)
        # Started one by one, 50 TCCs would cross 50 times for their starts alone.
        assert _crossings() - before < 50


# -- a call into Java that raises -------------------------------------------------------------------


@saga("answers-undone")
class Undone:
    """``a`` succeeds, ``b`` fails, ``a`` is undone; ``a`` and its undo call ``hooks[their name]`` first."""

    hooks: ClassVar[dict[str, Any]] = {}

    @saga_step("a")
    async def a(self) -> str:
        Undone.hooks.get("a", lambda: None)()
        return "a"

    @compensation_step("a")
    async def undo_a(self, _: str) -> None:
        Undone.hooks.get("undo_a", lambda: None)()

    @saga_step("b", depends_on=["a"])
    async def b(self) -> None:
        raise RuntimeError("b fails")


class _BrokenJvm:
    """Makes the pump's calls into Java raise a Java OutOfMemoryError once ``broken`` is set."""

    def __init__(self, engine: SagaEngine) -> None:
        from jpype import JClass

        bridge: Any = engine._bridge
        self.pump = bridge.pump_for(asyncio.get_running_loop())
        self.error = JClass("java.lang.OutOfMemoryError")
        self.broken = False
        names = ("_java_exchange", "_java_exchange_and_start")
        self.saved = {name: getattr(self.pump, name) for name in names}
        for name, call in self.saved.items():
            setattr(self.pump, name, self._wrap(call))

    def _wrap(self, call: Any) -> Any:
        def maybe_broken(*args: Any) -> Any:
            if self.broken:
                raise self.error("Java heap space")
            return call(*args)

        return maybe_broken

    def restore(self) -> None:
        for name, call in self.saved.items():
            setattr(self.pump, name, call)


@pytest.mark.parametrize("where", ["batched starts", "an idle loop's answer", "an undo's answer"])
async def test_a_call_into_java_that_raises_ends_the_loops_runs_with_that_error(
    engine: SagaEngine, where: str
) -> None:
    """Nobody knows what a failing JVM (out of memory, say) did with the answers or starts that the
    call carried: every run on that loop ends at once with the Java error, instead of waiting forever."""
    from fireflytx import JavaExecutionError

    await asyncio.gather(engine.execute(One), engine.execute(One))  # the pump and a launcher exist
    jvm = _BrokenJvm(engine)

    def break_now() -> None:
        jvm.broken = True

    try:
        if where == "batched starts":
            jvm.broken = True
            runs = [engine.execute(One) for _ in range(20)]
        else:
            Undone.hooks["a" if where == "an idle loop's answer" else "undo_a"] = break_now
            runs = [engine.execute(Undone)]
        outcomes = await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 10)
    finally:
        jvm.restore()
        Undone.hooks.clear()
    for outcome in outcomes:
        assert isinstance(outcome, JavaExecutionError), outcome
        assert (outcome.java_class, outcome.java_message) == ("java.lang.OutOfMemoryError", "Java heap space")
        assert any("every run on this event loop" in note for note in getattr(outcome, "__notes__", ()))
    assert engine.runs_in_flight == 0
    assert (await engine.execute(One)).is_success
    assert (await engine.execute(Undone)).status is SagaStatus.COMPENSATED
