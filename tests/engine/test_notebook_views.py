"""What a notebook shows of engines and of many results at once, against the real engine."""

from __future__ import annotations

import asyncio
import sys

import pytest

from fireflytx import (
    SagaEngine,
    TccEngine,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx.frames import results_frame, results_rows
from fireflytx.testing import fail_step, fast_backoff

GATE: asyncio.Event | None = None


@saga("gated")
class Gated:
    @saga_step("wait")
    async def wait(self, value: int) -> int:
        assert GATE is not None
        await GATE.wait()
        return value

    @compensation_step("wait")
    async def undo(self, value: int) -> None:
        pass

    @saga_step("after", depends_on=["wait"])
    def after(self, value: int) -> int:
        return value + 1


@tcc("pair")
class Pair:
    @tcc_participant("left", order=1)
    class Left:
        @try_method
        async def hold(self, value: int) -> int:
            return value

        @confirm_method
        async def commit(self, held: int) -> None:
            pass

        @cancel_method
        async def release(self, held: int | None) -> None:
            pass


def test_a_stopped_engine_says_so() -> None:
    engine = SagaEngine()
    assert repr(engine) == "<SagaEngine stopped, 0 runs in flight>"
    html = engine._repr_html_()
    assert "<b>SagaEngine</b>" in html and ">stopped<" in html
    assert "no transaction registered or run yet" in html


async def test_the_engine_view_lists_transactions_and_runs_in_flight(saga_engine: SagaEngine) -> None:
    global GATE
    GATE = asyncio.Event()
    running = asyncio.create_task(saga_engine.execute(Gated, 1, correlation_id="run-in-flight"))
    while not saga_engine.runs_in_flight or "wait (step #1)" not in saga_engine._repr_html_():
        await asyncio.sleep(0.01)
    html = saga_engine._repr_html_()
    assert ">running<" in html and "1 runs in flight" in html
    assert "<td>gated</td><td>1</td>" in html
    assert "<code>run-in-flight</code>" in html and "wait (step #1)" in html
    assert repr(saga_engine) == "<SagaEngine running, 1 runs in flight>"
    with fast_backoff(saga_engine):
        assert "1 test interceptors" in saga_engine._repr_html_()
    GATE.set()
    assert (await running).is_success
    await saga_engine.shutdown()
    html = saga_engine._repr_html_()
    assert ">stopped<" in html and "0 runs in flight" in html and "<td>gated</td><td>1</td>" in html


def test_a_registered_transaction_is_listed_before_it_runs(tcc_engine: TccEngine) -> None:
    tcc_engine.register(Pair)
    assert "<td>pair</td><td>0</td>" in tcc_engine._repr_html_()


async def test_results_become_rows_and_a_frame(saga_engine: SagaEngine, tcc_engine: TccEngine) -> None:
    global GATE
    GATE = asyncio.Event()
    GATE.set()
    ok = await saga_engine.execute(Gated, 1, correlation_id="ok")
    with fail_step(saga_engine, "after", error=ValueError("no")):
        failed = await saga_engine.execute(Gated, 2, correlation_id="failed")
    with fail_step(tcc_engine, "left", error=KeyError("k")):
        cancelled = await tcc_engine.execute(Pair, 3, correlation_id="cancelled")
    rows = results_rows([ok, failed, cancelled])
    assert [(r["kind"], r["status"], r["failed_at"], r["error_type"], r["undone"]) for r in rows] == [
        ("saga", "SUCCEEDED", None, None, ()),
        ("saga", "COMPENSATED", "after", "ValueError", ("wait",)),
        ("tcc", "CANCELED", "left", "KeyError", ("left",)),
    ]
    assert [r["attempts"] for r in rows] == [2, 3, 2]  # steps + compensations, try + cancel
    assert rows[1]["error"] == "no" and rows[1]["duration_ms"] == failed.duration_ms
    frame = results_frame([ok, failed, cancelled])
    assert list(frame.columns) == list(rows[0])
    assert frame.groupby("status").size().to_dict() == {"CANCELED": 1, "COMPENSATED": 1, "SUCCEEDED": 1}


def test_results_frame_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'fireflytx\[notebook\]'"):
        results_frame([])


def test_results_rows_refuse_other_objects() -> None:
    with pytest.raises(TypeError, match="takes SagaResult and TccResult items, not dict"):
        results_rows([{}])  # type: ignore[list-item]
