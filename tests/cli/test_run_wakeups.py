"""``fireflytx run`` acts on a cancellation even when the wake-up of its loop is lost.

Ctrl-C cancels the run from a signal handler that then wakes the loop through its self-pipe. That
wake-up has been seen lost under load (the loop asleep in ``epoll_wait`` beside a readable
self-pipe), so the CLI's loop never sleeps longer than a tick. Here a cancellation is queued from
another thread without any wake-up at all, which is what a lost one leaves behind.
"""

from __future__ import annotations

import asyncio
import threading

from fireflytx.cli._run import _awake_while

GUARD_S = 30  # far beyond a tick; only a loop that never wakes reaches it


def _cancel_without_waking(task: asyncio.Task[None]) -> None:
    # Task.cancel() off the loop's thread queues the task's wake-up without writing to the loop's
    # self-pipe: a loop already asleep learns of it only when something else wakes it.
    task.cancel()


def test_a_cancellation_queued_without_a_wake_up_still_ends_the_wait() -> None:
    outcome: list[str] = []

    async def main() -> None:
        task = asyncio.ensure_future(_awake_while(asyncio.sleep(3600)))
        await asyncio.sleep(0)  # the ticker and the work have started
        # Later, so that the loop is asleep by then (without the ticker it would sleep an hour).
        threading.Timer(0.5, _cancel_without_waking, args=(task,)).start()
        try:
            await task
        except asyncio.CancelledError:
            outcome.append("cancelled")

    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(GUARD_S)
    assert not runner.is_alive(), "the loop slept through a cancellation that came without a wake-up"
    assert outcome == ["cancelled"]


def test_the_ticker_stops_with_the_work() -> None:
    async def main() -> int:
        value = await _awake_while(asyncio.sleep(0, result=7))
        await asyncio.sleep(0)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert all(t.cancelled() or t.done() or t.cancelling() for t in others)
        await asyncio.gather(*others, return_exceptions=True)
        return value

    assert asyncio.run(main()) == 7
