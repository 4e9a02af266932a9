"""StepWorkers: hung calls are abandoned and replaced, within a bound, and never keep the process alive."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest

from fireflytx import WorkersStoppedError
from fireflytx._workers import StepWorkers, WorkerStats

WAIT = 30  # seconds: a guard against hanging, never a measured expectation


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def _until(condition: object) -> None:
    done = threading.Event()
    for _ in range(WAIT * 100):
        if callable(condition) and condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not reached")


def test_calls_run_on_named_daemon_threads() -> None:
    workers = StepWorkers(2, max_abandoned=1, name_prefix="unit-step")
    job = workers.submit(lambda: (threading.current_thread().name, threading.current_thread().daemon))
    name, daemon = job.result(WAIT)
    assert name.startswith("unit-step-") and daemon
    workers.stop()


def test_an_abandoned_call_is_replaced_so_other_calls_still_run(release: threading.Event) -> None:
    workers = StepWorkers(1, max_abandoned=2, name_prefix="unit-step")
    stuck = workers.submit(release.wait)
    _until(stuck.running)
    waiting = workers.submit(lambda: "ran")
    assert workers.stats() == WorkerStats(size=1, busy=1, queued=1, abandoned=0, abandoned_total=0)
    stuck.abandon()
    assert waiting.result(WAIT) == "ran"
    _until(lambda: workers.stats().busy == 0)
    assert workers.stats() == WorkerStats(size=1, busy=0, queued=0, abandoned=1, abandoned_total=1)
    release.set()
    _until(lambda: workers.stats().abandoned == 0)
    assert workers.stats().abandoned_total == 1
    workers.stop()


def test_beyond_max_abandoned_no_replacement_starts_and_an_error_is_logged(
    release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    workers = StepWorkers(2, max_abandoned=1, name_prefix="unit-step")
    with caplog.at_level(logging.WARNING, logger="fireflytx.workers"):
        first = workers.submit(release.wait)
        _until(first.running)
        first.abandon()
        second = workers.submit(release.wait)
        third = workers.submit(release.wait)
        _until(lambda: second.running() and third.running())
        second.abandon()
        third.abandon()
        # Three stuck, one replaced: the two beyond the limit take both slots, so nothing more runs.
        late = workers.submit(lambda: "late")
        assert workers.stats() == WorkerStats(size=2, busy=0, queued=1, abandoned=3, abandoned_total=3)
        assert not late.done()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(warnings) == 3 and all("unit-step-" in r.getMessage() for r in warnings)
    assert len(errors) == 1 and "max_abandoned_threads=1" in errors[0].getMessage()
    release.set()
    assert late.result(WAIT) == "late"
    workers.stop()


def test_a_call_abandoned_while_queued_counts_as_abandoned_once_it_runs(release: threading.Event) -> None:
    workers = StepWorkers(1, max_abandoned=1, name_prefix="unit-step")
    busy = workers.submit(release.wait)
    _until(busy.running)
    queued = workers.submit(release.wait)
    queued.abandon()
    busy.abandon()
    _until(queued.running)
    assert workers.stats().abandoned == 2
    release.set()
    workers.stop()


def test_stop_refuses_new_calls_but_queued_ones_still_run(release: threading.Event) -> None:
    workers = StepWorkers(1, max_abandoned=0, name_prefix="unit-step")
    running = workers.submit(release.wait)
    _until(running.running)
    queued = workers.submit(lambda: "queued")
    workers.stop()
    with pytest.raises(WorkersStoppedError, match="has stopped"):
        workers.submit(lambda: None)
    release.set()
    assert queued.result(WAIT) == "queued"


def test_errors_reach_the_future() -> None:
    workers = StepWorkers(1, max_abandoned=0, name_prefix="unit-step")

    def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        workers.submit(boom).result(WAIT)
    workers.stop()


def test_run_in_executor_works_and_a_timed_out_call_is_abandoned(release: threading.Event) -> None:
    workers = StepWorkers(1, max_abandoned=1, name_prefix="unit-step")

    async def main() -> str:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(loop.run_in_executor(workers, release.wait), 0.05)
        return await loop.run_in_executor(workers, lambda: "after")

    assert asyncio.run(main()) == "after"
    assert workers.stats().abandoned_total == 1
    workers.stop()


def test_a_later_engine_gets_the_threads_an_earlier_one_used() -> None:
    import time

    from fireflytx._workers import StepWorkers

    first = StepWorkers(1, max_abandoned=1, name_prefix="test-reuse")
    thread = first.submit(threading.current_thread).result(timeout=10)
    assert thread.name.startswith("test-reuse") and thread.daemon
    first.stop()
    deadline = time.monotonic() + 10
    while thread.name != "fireflytx-kept" and time.monotonic() < deadline:  # back in the reservoir
        time.sleep(0.005)
    existing = set(threading.enumerate())
    second = StepWorkers(1, max_abandoned=1, name_prefix="test-again")
    again = second.submit(threading.current_thread).result(timeout=10)
    # A kept thread (this one, or another that went back to the reservoir): no new thread.
    assert again in existing and again.name.startswith("test-again")
    second.stop()


def test_a_released_loop_serves_the_next_engine_and_keeps_running() -> None:
    import asyncio

    from fireflytx._workers import LoopThread

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


def test_stop_with_settle_waits_for_a_live_call_to_finish_but_not_for_an_abandoned_one(
    release: threading.Event,
) -> None:
    workers = StepWorkers(2, max_abandoned=1, name_prefix="unit-step")
    stuck = workers.submit(threading.Event().wait)  # never returns
    _until(stuck.running)
    stuck.abandon()
    tail_done = threading.Event()

    def tail() -> None:
        release.wait(WAIT)
        tail_done.set()

    workers.submit(tail)
    threading.Timer(0.2, release.set).start()
    workers.stop(settle_s=WAIT)
    assert tail_done.is_set()  # returned only after the live call left, and did not wait for the stuck one
    assert workers.stats().busy == 0


def test_stop_with_settle_gives_up_after_its_bound(release: threading.Event) -> None:
    workers = StepWorkers(1, max_abandoned=0, name_prefix="unit-step")
    running = workers.submit(release.wait)
    _until(running.running)
    workers.stop(settle_s=0.05)
    assert running.running()
