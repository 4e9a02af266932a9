"""The store contract, run against every store in the repository (memory, SQLite, Redis).

A new store passes when it is added to ``STORES`` in ``conftest.py`` and this file passes.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from fireflytx._persistence import (
    DEAD,
    RUNNING,
    Checkpoint,
    ErrorInfo,
    NewTransaction,
    TransactionStore,
    encode,
)
from fireflytx._persistence._errors import LeaseLostError, PersistenceError, TransactionEndedError

A, B = "owner-a", "owner-b"
HELD = 60.0  # a lease that does not expire during a test
EXPIRED = 0.0  # a lease that has expired by the next operation


def new(cid: str = "tx-1", name: str = "order", value: object = None) -> NewTransaction:
    return NewTransaction(
        correlation_id=cid,
        kind="saga",
        name=name,
        input=encode({"order": cid, "amount": 10.5, "note": 'Zoë 🚀 "quoted"\n'} if value is None else value),
        headers={"tenant": "t1"},
        fingerprint="fp-1",
    )


def step(
    unit: str, result: object = None, *, phase: str = "step", error: ErrorInfo | None = None
) -> Checkpoint:
    return Checkpoint(
        phase=phase,
        unit_id=unit,
        attempts=2,
        idempotency_key=f"tx-1:{phase}:{unit}",
        result=encode(result),
        error=error,
    )


async def test_create_writes_a_running_record_owned_by_its_creator(store: TransactionStore) -> None:
    before = time.time() - 1
    record, created = await store.create(new(), owner=A, lease_s=HELD)
    assert created
    assert record.status == RUNNING and record.owner == A and record.recovery_attempts == 0
    assert record.lease_expires_at > record.created_at >= before
    stored = await store.get("tx-1")
    assert stored is not None and stored.checkpoints == ()
    assert stored.record == record
    assert stored.record.input == {"order": "tx-1", "amount": 10.5, "note": 'Zoë 🚀 "quoted"\n'}
    assert stored.record.headers == {"tenant": "t1"} and stored.record.fingerprint == "fp-1"


async def test_create_returns_the_existing_record_untouched(store: TransactionStore) -> None:
    first, _ = await store.create(new(), owner=A, lease_s=HELD)
    again, created = await store.create(new(value={"other": 1}), owner=B, lease_s=HELD)
    assert not created
    assert again == first and again.owner == A and again.input == first.input


async def test_racing_creates_of_one_id_create_it_once(
    store_pair: tuple[TransactionStore, TransactionStore],
) -> None:
    one, two = store_pair
    outcomes = await asyncio.gather(
        *(
            (one if i % 2 else two).create(new(value={"by": i}), owner=f"owner-{i}", lease_s=HELD)
            for i in range(8)
        )
    )
    winners = [record for record, created in outcomes if created]
    assert len(winners) == 1
    assert {record.owner for record, _ in outcomes} == {winners[0].owner}
    assert {str(record.input) for record, _ in outcomes} == {str(winners[0].input)}


async def test_checkpoints_are_kept_in_order_with_results_and_errors(store: TransactionStore) -> None:
    await store.create(new(), owner=A, lease_s=HELD)
    assert await store.append("tx-1", step("reserve", {"id": "R-1", "items": (1, 2), "ü": "🚀"}), owner=A)
    failed = step("charge", error=ErrorInfo("ValueError", "card declined"))
    assert await store.append("tx-1", failed, owner=A)
    assert await store.append("tx-1", step("reserve", phase="compensation"), owner=A)
    stored = await store.get("tx-1")
    assert stored is not None
    assert [(c.phase, c.unit_id, c.seq) for c in stored.checkpoints] == [
        ("step", "reserve", 1),
        ("step", "charge", 2),
        ("compensation", "reserve", 3),
    ]
    reserve = stored.checkpoint("step", "reserve")
    assert reserve is not None and reserve.result == encode({"id": "R-1", "items": (1, 2), "ü": "🚀"})
    assert reserve.attempts == 2 and reserve.idempotency_key == "tx-1:step:reserve" and reserve.at > 0
    charge = stored.checkpoint("step", "charge")
    assert charge is not None and charge.error == ErrorInfo("ValueError", "card declined")
    assert stored.record.updated_at >= stored.record.created_at


async def test_a_second_checkpoint_of_one_unit_is_not_written(store: TransactionStore) -> None:
    await store.create(new(), owner=A, lease_s=HELD)
    assert await store.append("tx-1", step("reserve", "first"), owner=A)
    assert not await store.append("tx-1", step("reserve", "second"), owner=A)
    stored = await store.get("tx-1")
    assert stored is not None and [c.result for c in stored.checkpoints] == ["first"]


async def test_only_the_owner_writes(store: TransactionStore) -> None:
    await store.create(new(), owner=A, lease_s=HELD)
    with pytest.raises(LeaseLostError) as lost:
        await store.append("tx-1", step("reserve"), owner=B)
    assert lost.value.current_owner == A and lost.value.owner == B
    with pytest.raises(LeaseLostError):
        await store.decide("tx-1", "CONFIRM", owner=B)
    with pytest.raises(LeaseLostError):
        await store.set_status("tx-1", "SUCCEEDED", owner=B)
    stored = await store.get("tx-1")
    assert stored is not None and stored.checkpoints == () and stored.record.status == RUNNING


async def test_writes_to_a_missing_or_finished_transaction_are_refused(store: TransactionStore) -> None:
    with pytest.raises(PersistenceError, match="no stored transaction"):
        await store.append("nope", step("reserve"), owner=A)
    with pytest.raises(PersistenceError, match="no stored transaction"):
        await store.set_status("nope", "SUCCEEDED", owner=None)
    await store.create(new(), owner=A, lease_s=HELD)
    await store.set_status("tx-1", "SUCCEEDED", owner=A)
    with pytest.raises(PersistenceError, match="SUCCEEDED") as refused:
        await store.append("tx-1", step("reserve"), owner=A)
    assert not isinstance(refused.value, LeaseLostError)
    assert isinstance(refused.value, TransactionEndedError)  # the writer must stop running it
    with pytest.raises(TransactionEndedError, match="SUCCEEDED, not RUNNING"):
        await store.set_status("tx-1", "FAILED", owner=None)


async def test_the_first_decision_is_the_one_kept(store: TransactionStore) -> None:
    await store.create(new(), owner=A, lease_s=HELD)
    assert await store.decide("tx-1", "CANCEL", owner=A) == "CANCEL"
    assert await store.decide("tx-1", "CONFIRM", owner=A) == "CANCEL"
    stored = await store.get("tx-1")
    assert stored is not None and stored.record.decision == "CANCEL"


async def test_finishing_keeps_the_result_and_drops_the_lease(store: TransactionStore) -> None:
    await store.create(new(), owner=A, lease_s=HELD)
    record = await store.set_status("tx-1", "COMPENSATED", owner=A, result=encode({"failed": "charge"}))
    assert record.status == "COMPENSATED" and record.finished
    assert record.owner is None and record.result == {"failed": "charge"}
    stored = await store.get("tx-1")
    assert stored is not None and stored.record == record
    assert await store.recoverable() == []
    assert await store.claim("tx-1", owner=B, lease_s=HELD) is None


async def test_an_expired_lease_is_claimed_once_and_fences_the_old_owner(store: TransactionStore) -> None:
    await store.create(new(), owner=A, lease_s=EXPIRED)
    record = await store.claim("tx-1", owner=B, lease_s=HELD)
    assert record is not None and record.owner == B and record.recovery_attempts == 1
    with pytest.raises(LeaseLostError):
        await store.append("tx-1", step("reserve"), owner=A)
    assert await store.append("tx-1", step("reserve"), owner=B)
    assert await store.claim("tx-1", owner=A, lease_s=HELD) is None
    again = await store.claim("tx-1", owner=B, lease_s=HELD)
    assert again is not None and again.recovery_attempts == 1, "renewing one's own claim is not a recovery"


async def test_a_held_lease_cannot_be_claimed(store: TransactionStore) -> None:
    await store.create(new(), owner=A, lease_s=HELD)
    assert await store.claim("tx-1", owner=B, lease_s=HELD) is None
    assert await store.claim("missing", owner=B, lease_s=HELD) is None
    assert await store.recoverable() == []


async def test_racing_claimers_one_wins(store_pair: tuple[TransactionStore, TransactionStore]) -> None:
    one, two = store_pair
    await one.create(new(), owner=A, lease_s=EXPIRED)
    claims = await asyncio.gather(
        *((one if i % 2 else two).claim("tx-1", owner=f"rec-{i}", lease_s=HELD) for i in range(10))
    )
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    stored = await two.get("tx-1")
    assert stored is not None and stored.record.owner == winners[0].owner
    assert stored.record.recovery_attempts == 1


async def test_too_many_recoveries_make_a_transaction_dead_until_retried_by_hand(
    store: TransactionStore,
) -> None:
    await store.create(new(), owner=A, lease_s=EXPIRED)
    for attempt in (1, 2):
        record = await store.claim("tx-1", owner=f"rec-{attempt}", lease_s=EXPIRED, max_recoveries=2)
        assert record is not None and record.status == RUNNING and record.recovery_attempts == attempt
    dead = await store.claim("tx-1", owner="rec-3", lease_s=HELD, max_recoveries=2)
    assert dead is not None and dead.status == DEAD and dead.owner is None and dead.recovery_attempts == 3
    assert await store.recoverable() == []
    assert await store.claim("tx-1", owner="rec-4", lease_s=HELD) is None
    await store.create(new("tx-2"), owner=A, lease_s=HELD)
    with pytest.raises(PersistenceError, match="only a DEAD"):
        await store.set_status("tx-2", RUNNING, owner=None)
    retried = await store.set_status("tx-1", RUNNING, owner=None)
    assert retried.status == RUNNING and retried.recovery_attempts == 0 and retried.owner is None
    assert [r.correlation_id for r in await store.recoverable()] == ["tx-1"]
    claimed = await store.claim("tx-1", owner="rec-5", lease_s=HELD, max_recoveries=2)
    assert claimed is not None and claimed.status == RUNNING and claimed.recovery_attempts == 1


async def test_renew_extends_only_the_owners_leases(store: TransactionStore) -> None:
    first, _ = await store.create(new("tx-1"), owner=A, lease_s=5.0)
    await store.create(new("tx-2"), owner=B, lease_s=5.0)
    await store.create(new("tx-3"), owner=A, lease_s=5.0)
    await store.set_status("tx-3", "SUCCEEDED", owner=A)
    assert await store.renew(A, ["tx-1", "tx-2", "tx-3", "missing"], lease_s=HELD) == {"tx-1"}
    assert await store.renew(A, [], lease_s=HELD) == set()
    stored = await store.get("tx-1")
    assert stored is not None and stored.record.lease_expires_at > first.lease_expires_at


async def test_release_makes_a_transaction_recoverable_at_once(store: TransactionStore) -> None:
    await store.create(new(), owner=A, lease_s=HELD)
    assert not await store.release("tx-1", owner=B)
    assert await store.release("tx-1", owner=A)
    [record] = await store.recoverable()
    assert record.correlation_id == "tx-1" and record.owner is None
    claimed = await store.claim("tx-1", owner=B, lease_s=HELD)
    assert claimed is not None and claimed.owner == B


async def test_recoverable_lists_only_running_transactions_with_expired_leases(
    store: TransactionStore,
) -> None:
    await store.create(new("held"), owner=A, lease_s=HELD)
    await store.create(new("orphan-1"), owner=A, lease_s=EXPIRED)
    await store.create(new("orphan-2"), owner=A, lease_s=EXPIRED)
    await store.create(new("done"), owner=A, lease_s=EXPIRED)
    await store.set_status("done", "SUCCEEDED", owner=A)
    await store.create(new("dead"), owner=A, lease_s=EXPIRED)
    await store.set_status("dead", DEAD, owner=None)
    found = await store.recoverable()
    assert sorted(r.correlation_id for r in found) == ["orphan-1", "orphan-2"]
    assert len(await store.recoverable(limit=1)) == 1


async def test_find_filters_by_status_name_and_time_newest_first(store: TransactionStore) -> None:
    await store.create(new("a", name="order"), owner=A, lease_s=HELD)
    await asyncio.sleep(0.01)
    middle = time.time()
    await asyncio.sleep(0.01)
    await store.create(new("b", name="refund"), owner=A, lease_s=HELD)
    await store.create(new("c", name="order"), owner=A, lease_s=HELD)
    await store.set_status("c", "SUCCEEDED", owner=A)
    assert [r.correlation_id for r in await store.find()][:1] in (["c"], ["b"])
    assert {r.correlation_id for r in await store.find()} == {"a", "b", "c"}
    assert [r.correlation_id for r in await store.find(name="order")] == ["c", "a"]
    assert [r.correlation_id for r in await store.find(status="SUCCEEDED")] == ["c"]
    assert {r.correlation_id for r in await store.find(since=middle)} == {"b", "c"}
    assert [r.correlation_id for r in await store.find(name="order", status=RUNNING)] == ["a"]
    assert len(await store.find(limit=2)) == 2


async def test_purge_deletes_only_finished_transactions_older_than_the_cutoff(
    store: TransactionStore,
) -> None:
    for cid in ("old-done", "old-running", "old-dead"):
        await store.create(new(cid), owner=A, lease_s=HELD)
    await store.set_status("old-done", "SUCCEEDED", owner=A)
    await store.set_status("old-dead", DEAD, owner=None)
    await asyncio.sleep(0.01)
    cutoff = time.time()
    await asyncio.sleep(0.01)
    await store.create(new("new-done"), owner=A, lease_s=HELD)
    await store.set_status("new-done", "FAILED", owner=A)
    assert await store.purge(cutoff) == 1
    assert await store.get("old-done") is None
    for kept in ("old-running", "old-dead", "new-done"):
        assert await store.get(kept) is not None
    assert {r.correlation_id for r in await store.find()} == {"old-running", "old-dead", "new-done"}
    assert await store.purge(cutoff) == 0


async def test_many_concurrent_writes_are_each_acknowledged_and_kept(store: TransactionStore) -> None:
    ids = [f"tx-{i}" for i in range(100)]
    await asyncio.gather(*(store.create(new(cid), owner=A, lease_s=HELD) for cid in ids))
    written = await asyncio.gather(
        *(store.append(cid, step(unit, {"n": n}), owner=A) for cid in ids for n, unit in enumerate("abc"))
    )
    assert all(written)
    await asyncio.gather(*(store.set_status(cid, "SUCCEEDED", owner=A) for cid in ids))
    for cid in ids:
        stored = await store.get(cid)
        assert stored is not None and stored.record.status == "SUCCEEDED"
        assert sorted(c.unit_id for c in stored.checkpoints) == ["a", "b", "c"]
        assert sorted(c.seq for c in stored.checkpoints) == [1, 2, 3]
