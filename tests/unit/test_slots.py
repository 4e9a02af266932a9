"""The admission line on its own: hand-offs, cancellation at every moment, closing, closed loops."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fireflytx._slots import Slots


class Full(Exception):
    pass


class Closed(Exception):
    pass


def opened(limit: int | None) -> Slots:
    slots = Slots(limit)
    slots.open()
    return slots


async def take(slots: Slots, wait: bool = True) -> None:
    await slots.acquire(wait, Full, Closed)


async def test_unbounded_slots_only_count() -> None:
    slots = opened(None)
    for _ in range(1000):
        await take(slots, wait=False)
    assert (slots.in_flight, slots.waiting) == (1000, 0)
    for _ in range(1000):
        slots.release()
    assert slots.in_flight == 0


async def test_a_closed_line_admits_nobody_and_a_full_one_refuses_callers_that_will_not_wait() -> None:
    slots = Slots(1)
    with pytest.raises(Closed):
        await take(slots)
    slots.open()
    await take(slots)
    with pytest.raises(Full):
        await take(slots, wait=False)
    assert (slots.in_flight, slots.rejected, slots.waiting) == (1, 1, 0)


async def test_a_freed_slot_goes_to_the_first_in_line_not_to_a_newcomer() -> None:
    slots = opened(1)
    await take(slots)
    first = asyncio.create_task(take(slots))
    await asyncio.sleep(0)
    slots.release()  # handed to `first`, which has not run yet
    with pytest.raises(Full):
        await take(slots, wait=False)  # a newcomer cannot take it meanwhile
    await first
    assert (slots.in_flight, slots.waiting) == (1, 0)


async def test_a_waiter_cancelled_in_the_instant_it_was_handed_a_slot_hands_it_on() -> None:
    slots = opened(1)
    await take(slots)
    doomed = asyncio.create_task(take(slots))
    next_in_line = asyncio.create_task(take(slots))
    await asyncio.sleep(0)
    assert slots.waiting == 2
    slots.release()  # granted to `doomed`...
    doomed.cancel()  # ...which is cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await next_in_line
    assert (slots.in_flight, slots.waiting) == (1, 0)
    slots.release()
    assert slots.in_flight == 0


async def test_cancelled_waiters_are_skipped_and_compacted_away() -> None:
    slots = opened(1)
    await take(slots)
    waiters = [asyncio.create_task(take(slots)) for _ in range(500)]
    await asyncio.sleep(0)
    for task in waiters[:-1]:
        task.cancel()
    await asyncio.gather(*waiters[:-1], return_exceptions=True)
    assert slots.waiting == 1 and len(slots._line) < 100
    slots.release()
    await waiters[-1]
    assert slots.in_flight == 1


async def test_closing_refuses_everyone_in_line_on_their_own_loops() -> None:
    slots = opened(1)
    await take(slots)
    here = asyncio.create_task(take(slots))
    outcome: list[BaseException] = []

    def other_loop() -> None:
        try:
            asyncio.run(take(slots))
        except Closed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=other_loop)
    thread.start()
    while slots.waiting < 2:
        await asyncio.sleep(0.001)
    slots.close(Closed)
    with pytest.raises(Closed):
        await here
    await asyncio.to_thread(thread.join)
    assert len(outcome) == 1 and slots.waiting == 0 and slots.in_flight == 1


async def test_a_slot_handed_to_a_waiter_whose_loop_closed_goes_to_the_next() -> None:
    slots = opened(1)
    await take(slots)
    abandoned: list[asyncio.Task[None]] = []

    def caller_whose_loop_closes() -> None:
        loop = asyncio.new_event_loop()
        abandoned.append(loop.create_task(take(slots)))
        loop.run_until_complete(asyncio.sleep(0))  # it is in line now
        loop.close()

    await asyncio.to_thread(caller_whose_loop_closes)
    alive = asyncio.create_task(take(slots))
    await asyncio.sleep(0)
    assert slots.waiting == 2
    slots.release()
    await alive
    assert (slots.in_flight, slots.waiting) == (1, 0)
    task = abandoned.pop()
    # Its loop is closed, so it stays pending for good: asyncio need not warn about that when it goes.
    task._log_destroy_pending = False
    task.get_coro().close()  # what collecting it does: its handler must not release again
    assert slots.in_flight == 1
