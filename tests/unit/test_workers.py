"""Engines' worker threads and private loops: borrowed from the process, limited per engine."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError, Future

import pytest

from fireflytx._workers import EngineWorkers, LoopThread


def test_tasks_of_one_engine_never_exceed_its_max_workers() -> None:
    workers = EngineWorkers(2, "test-cap")
    lock = threading.Lock()
    running = 0
    peak = 0
    gate = threading.Event()
    two_in = threading.Barrier(3)

    def task(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        if n < 2:
            two_in.wait(timeout=10)
        gate.wait(timeout=10)
        with lock:
            running -= 1
        return n

    futures = [workers.submit(task, n) for n in range(6)]
    two_in.wait(timeout=10)  # the first two are running, the other four queued behind them
    gate.set()
    assert [f.result(timeout=10) for f in futures] == list(range(6))
    assert peak == 2
    workers.shutdown()


def test_one_worker_runs_tasks_in_submission_order() -> None:
    workers = EngineWorkers(1, "test-order")
    order: list[int] = []
    futures = [workers.submit(order.append, n) for n in range(50)]
    for future in futures:
        future.result(timeout=10)
    assert order == list(range(50))
    workers.shutdown()


def test_a_later_engine_gets_the_threads_an_earlier_one_used() -> None:
    first = EngineWorkers(1, "test-reuse")
    thread = first.submit(threading.current_thread).result(timeout=10)
    first.shutdown()
    second = EngineWorkers(1, "test-reuse")
    assert second.submit(threading.current_thread).result(timeout=10) is thread
    assert thread.name.startswith("test-reuse")
    second.shutdown()


def test_an_error_reaches_the_future() -> None:
    workers = EngineWorkers(1, "test-error")

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        workers.submit(fail).result(timeout=10)
    workers.shutdown()


def test_shutdown_refuses_new_tasks_but_runs_the_queued_ones() -> None:
    workers = EngineWorkers(1, "test-shutdown")
    gate = threading.Event()
    blocker = workers.submit(gate.wait, 10)
    queued = workers.submit(lambda: "ran")
    workers.shutdown(wait=False)
    with pytest.raises(RuntimeError, match="after shutdown"):
        workers.submit(lambda: None)
    gate.set()
    assert blocker.result(timeout=10) is True
    assert queued.result(timeout=10) == "ran"


def test_shutdown_with_cancel_futures_cancels_the_queued_tasks_and_waits_for_the_running_one() -> None:
    workers = EngineWorkers(1, "test-cancel")
    gate = threading.Event()
    started = threading.Event()

    def block() -> str:
        started.set()
        gate.wait(timeout=10)
        return "done"

    running = workers.submit(block)
    queued: Future[str] = workers.submit(lambda: "never")
    started.wait(timeout=10)
    threading.Timer(0.05, gate.set).start()
    workers.shutdown(wait=True, cancel_futures=True)
    assert running.done() and running.result() == "done"
    with pytest.raises(CancelledError):
        queued.result(timeout=0)


def test_at_least_one_worker_is_required() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EngineWorkers(0, "test-zero")


def test_a_released_loop_serves_the_next_engine_and_keeps_running() -> None:
    first = LoopThread.acquire()
    other = LoopThread.acquire()
    assert first is not other and first.loop is not other.loop

    async def where() -> threading.Thread:
        return threading.current_thread()

    thread = asyncio.run_coroutine_threadsafe(where(), first.loop).result(timeout=10)
    first.release()
    again = LoopThread.acquire()
    assert again is first
    assert asyncio.run_coroutine_threadsafe(where(), again.loop).result(timeout=10) is thread
    again.release()
    other.release()
