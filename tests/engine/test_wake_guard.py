"""A loop with runs in flight acts on a cancellation even when the wake-up that announces it is lost.

Ctrl-C cancels ``asyncio.run``'s main task from a signal handler that wakes the loop through its
self-pipe; under load that wake-up has been seen lost with the JVM in the process. Here the
caller's task is cancelled from another thread, which queues the cancellation without waking the
loop at all: what a lost wake-up leaves behind. The run's only step waits an hour, so a loop that
is not woken by the engine sleeps through the test's bound.
"""

from __future__ import annotations

import asyncio
import threading
import time

from fireflytx import SagaEngine, saga, saga_step
from fireflytx._wakeful import TICK_S, WakeGuard

GUARD_S = 30  # far beyond a tick; only a loop that never wakes reaches it


@saga("hangs-until-cancelled")
class HangsUntilCancelled:
    @saga_step("wait")
    async def wait(self) -> None:
        await asyncio.sleep(3600)


def test_a_cancellation_queued_without_a_wake_up_ends_a_hung_run() -> None:
    outcome: list[str] = []
    hung: list[asyncio.Future[object]] = []
    ready = threading.Event()

    async def main() -> None:
        async with SagaEngine() as engine:
            run = asyncio.ensure_future(engine.execute(HangsUntilCancelled))
            while engine.runs_in_flight == 0:
                await asyncio.sleep(0.01)
            hung.append(run)
            ready.set()
            try:
                await run
            except asyncio.CancelledError:
                outcome.append("cancelled")
            outcome.append(f"in flight after: {engine.runs_in_flight}")

    def cancel_without_waking() -> None:
        ready.wait(GUARD_S)
        time.sleep(0.5)  # the loop is asleep by now: nothing of the run has anything left to do
        # Future.cancel() off the loop's thread queues the wake-up without writing to the self-pipe.
        hung[0].cancel()

    threading.Thread(target=cancel_without_waking, daemon=True).start()
    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(GUARD_S)
    assert not runner.is_alive(), "the loop slept through a cancellation that came without a wake-up"
    assert outcome == ["cancelled", "in flight after: 0"]


def test_the_ticker_stops_once_nothing_is_in_flight() -> None:
    busy = [True]
    guard = WakeGuard(lambda: busy[0])

    async def main() -> int:
        loop = asyncio.get_running_loop()
        guard.keep_awake(loop)
        guard.keep_awake(loop)  # one ticker per loop, however many runs
        await asyncio.sleep(TICK_S * 2.5)
        ticking = len(loop._scheduled)  # type: ignore[attr-defined]
        busy[0] = False
        await asyncio.sleep(TICK_S * 1.5)
        return ticking * 10 + len(loop._scheduled)  # type: ignore[attr-defined]

    assert asyncio.run(main()) == 10  # one timer while busy, none a tick after


def test_a_loop_whose_ticker_stopped_gets_a_new_one_with_its_next_run() -> None:
    busy = [True]
    guard = WakeGuard(lambda: busy[0])

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        timers = []
        guard.keep_awake(loop)
        busy[0] = False
        await asyncio.sleep(TICK_S * 1.5)  # idle: the ticker ended
        timers.append(len(loop._scheduled))  # type: ignore[attr-defined]
        busy[0] = True
        guard.keep_awake(loop)  # the same loop as the last run's, whose ticker is gone
        timers.append(len(loop._scheduled))  # type: ignore[attr-defined]
        return timers

    assert asyncio.run(main()) == [0, 1]

    async def other() -> int:  # a second loop, after the first: a ticker of its own
        guard.keep_awake(asyncio.get_running_loop())
        return len(asyncio.get_running_loop()._scheduled)  # type: ignore[attr-defined]

    assert asyncio.run(other()) == 1
