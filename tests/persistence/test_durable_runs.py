"""Durable runs in one process: what a run writes, and how recovery resumes what a dead owner left.

A crashed run is made here by writing its record and checkpoints through the store, owned by a
process that does not exist, with a lease that has expired: exactly what a run leaves behind when
its process is killed between two checkpoints. (Real SIGKILLs are in tests/durability.)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel
from valkey_server import ValkeyProcess

from fireflytx import (
    FromStep,
    SagaContext,
    SagaEngine,
    SagaStatus,
    StepStatus,
    TccContext,
    TccEngine,
    TccStatus,
    cancel_method,
    compensation_step,
    confirm_method,
    definition_of,
    saga,
    saga_step,
    tcc,
    tcc_definition_of,
    tcc_participant,
    try_method,
)
from fireflytx._persistence import Checkpoint, ErrorInfo, NewTransaction, TransactionStore, encode, open_store
from fireflytx._persistence._errors import RecoveryError
from fireflytx._persistence._fingerprint import fingerprint_of
from fireflytx.config import FireflyTxSettings, PersistenceConfig

CALLS: list[tuple[str, str]] = []
_prefixes = itertools.count()


class Parcel(BaseModel):
    weight: int


@saga("durable-chain")
class Chain:
    @saga_step("a")
    def a(self, x: int, ctx: SagaContext) -> Parcel:
        CALLS.append(("a", ctx.idempotency_key))
        return Parcel(weight=x)

    @compensation_step("a")
    def undo_a(self, parcel: Parcel, ctx: SagaContext) -> None:
        CALLS.append(("undo a", ctx.idempotency_key))

    @saga_step("b", depends_on=["a"])
    async def b(self, parcel: Annotated[Parcel, FromStep("a")], ctx: SagaContext) -> int:
        CALLS.append(("b", ctx.idempotency_key))
        return parcel.weight * 2

    @compensation_step("b")
    async def undo_b(self, doubled: int, ctx: SagaContext) -> None:
        CALLS.append(("undo b", ctx.idempotency_key))

    @saga_step("c", depends_on=["b"])
    def c(self, x: int, ctx: SagaContext) -> str:
        CALLS.append(("c", ctx.idempotency_key))
        if x < 0:
            raise ValueError("negative")
        return "done"


@tcc("durable-pay")
class Pay:
    @tcc_participant("p1", order=1)
    class P1:
        @try_method
        def t(self, x: int, ctx: TccContext) -> int:
            CALLS.append(("try p1", ctx.idempotency_key))
            return x

        @confirm_method
        def c(self, r: int, ctx: TccContext) -> None:
            CALLS.append(("confirm p1", ctx.idempotency_key))

        @cancel_method
        def x(self, r: int, ctx: TccContext) -> None:
            CALLS.append(("cancel p1", ctx.idempotency_key))

    @tcc_participant("p2", order=2)
    class P2:
        @try_method
        async def t(self, x: int, ctx: TccContext) -> int:
            CALLS.append(("try p2", ctx.idempotency_key))
            return x + 1

        @confirm_method
        async def c(self, r: int, ctx: TccContext) -> None:
            CALLS.append(("confirm p2", ctx.idempotency_key))

        @cancel_method
        async def x(self, r: int, ctx: TccContext) -> None:
            CALLS.append(("cancel p2", ctx.idempotency_key))


@pytest.fixture(autouse=True)
def _calls() -> None:
    CALLS.clear()


@pytest.fixture(params=["sqlite", "redis"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> FireflyTxSettings:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tx.db'}"
        prefix = "fireflytx:"
    else:
        server: ValkeyProcess = request.getfixturevalue("valkey")
        url, prefix = server.url, f"dr{next(_prefixes)}:"
    return FireflyTxSettings(
        persistence=PersistenceConfig(url=url, key_prefix=prefix, lease_s=0.3, max_recoveries=2)
    )


@pytest.fixture
async def store(settings: FireflyTxSettings) -> AsyncIterator[TransactionStore]:
    opened = await open_store(settings.persistence)
    yield opened
    await opened.close()


async def _orphan(
    store: TransactionStore, cid: str, spec: Any, value: Any, checkpoints: list[Checkpoint], **extra: Any
) -> None:
    """What a run leaves when its process dies: a RUNNING record, some checkpoints, a lease running out."""
    kind = "saga" if hasattr(spec, "steps") else "tcc"
    new = NewTransaction(
        correlation_id=cid, kind=kind, name=spec.name, input=encode(value), fingerprint=fingerprint_of(spec)
    )
    await store.create(new, owner="dead-process", lease_s=0.05)
    for checkpoint in checkpoints:
        await store.append(cid, checkpoint, owner="dead-process")
    if "decision" in extra:
        await store.decide(cid, extra["decision"], owner="dead-process")
    await asyncio.sleep(0.1)  # the lease expires


def _done(phase: str, unit: str, cid: str, result: Any = None, error: ErrorInfo | None = None) -> Checkpoint:
    return Checkpoint(
        phase=phase,
        unit_id=unit,
        attempts=1,
        idempotency_key=f"{cid}:{phase}:{unit}",
        result=encode(result),
        error=error,
    )


async def test_a_durable_run_writes_its_start_every_step_and_its_end(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    async with SagaEngine(settings) as engine:
        result = await engine.execute(Chain, 3, correlation_id="w1")
    assert result.status is SagaStatus.SUCCEEDED
    stored = await store.get("w1")
    assert stored is not None
    assert stored.record.status == "SUCCEEDED" and stored.record.owner is None
    assert [(c.phase, c.unit_id) for c in stored.checkpoints] == [("step", "a"), ("step", "b"), ("step", "c")]
    assert stored.checkpoint("step", "b").result == 6  # type: ignore[union-attr]
    assert stored.record.result["status"] == "SUCCEEDED"


async def test_recovery_runs_only_what_the_dead_owner_had_not_finished_and_restores_types(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    await _orphan(store, "r1", definition_of(Chain), 4, [_done("step", "a", "r1", Parcel(weight=4))])
    async with SagaEngine(settings) as engine:
        engine.register(Chain)
        results = await engine.recover()
    assert [r.correlation_id for r in results] == ["r1"]
    result = results[0]
    assert result.status is SagaStatus.SUCCEEDED
    assert CALLS == [("b", "r1:step:b"), ("c", "r1:step:c")]  # a was not called again
    assert result.steps["a"].result == Parcel(weight=4)  # its stored result, as its own type
    assert result.steps["b"].result == 8
    stored = await store.get("r1")
    assert stored is not None and stored.record.status == "SUCCEEDED"
    assert stored.record.recovery_attempts == 1
    async with SagaEngine(settings) as engine:
        view = await engine.stored_run("r1")
    assert view is not None and view.result is not None
    # The transaction began before the crash: nothing stored of it may come before its start.
    ends = [o.completed_at for o in view.result.steps.values() if o.completed_at is not None]
    assert view.result.started_at <= min(ends)


async def test_recovery_of_a_failed_run_compensates_what_remains_and_never_retries_the_failure(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    cid = "r2"
    await _orphan(
        store,
        cid,
        definition_of(Chain),
        -1,
        [
            _done("step", "a", cid, Parcel(weight=-1)),
            _done("step", "b", cid, -2),
            _done("step", "c", cid, error=ErrorInfo("ValueError", "negative")),
            _done("compensation", "b", cid),
        ],
    )
    async with SagaEngine(settings) as engine:
        engine.register(Chain)
        (result,) = await engine.recover(cid)
    assert result.status is SagaStatus.COMPENSATED
    assert CALLS == [("undo a", "r2:compensation:a")]  # c not retried, b's undo not repeated
    assert result.steps["c"].status is StepStatus.FAILED
    assert result.steps["c"].error is not None
    assert (result.steps["c"].error.type, result.steps["c"].error.message) == ("ValueError", "negative")
    assert result.compensated_steps == ("b", "a")


async def test_a_tcc_resumes_phase_two_with_its_recorded_decision(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    cid = "t1"
    await _orphan(
        store,
        cid,
        tcc_definition_of(Pay),
        1,
        [_done("try", "p1", cid, 1), _done("try", "p2", cid, 2), _done("confirm", "p1", cid)],
        decision="CONFIRM",
    )
    async with TccEngine(settings) as engine:
        engine.register(Pay)
        (result,) = await engine.recover()
    assert result.status is TccStatus.CONFIRMED
    assert CALLS == [("confirm p2", "t1:confirm:p2")]


async def test_a_recorded_cancel_decision_is_kept_even_when_every_try_had_succeeded(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    cid = "t2"
    await _orphan(
        store,
        cid,
        tcc_definition_of(Pay),
        1,
        [_done("try", "p1", cid, 1), _done("try", "p2", cid, 2)],
        decision="CANCEL",
    )
    async with TccEngine(settings) as engine:
        engine.register(Pay)
        (result,) = await engine.recover()
    assert result.status is TccStatus.CANCELED
    assert sorted(CALLS) == [("cancel p1", "t2:cancel:p1"), ("cancel p2", "t2:cancel:p2")]


async def test_a_changed_definition_fails_recovery_saying_what_changed(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    new = NewTransaction(
        correlation_id="c1",
        kind="saga",
        name="durable-chain",
        input=1,
        fingerprint='{"saga":"durable-chain","steps":[["a",[],true],["old",["a"],false]]}',
    )
    await store.create(new, owner="dead-process", lease_s=0.05)
    await asyncio.sleep(0.1)
    async with SagaEngine(settings) as engine:
        engine.register(Chain)
        with pytest.raises(RecoveryError) as caught:
            await engine.recover("c1")
    message = str(caught.value)
    assert "step 'old' was removed" in message and "step 'b' was added" in message
    assert CALLS == []
    stored = await store.get("c1")
    assert stored is not None and stored.record.status == "RUNNING" and stored.record.owner is None


async def test_a_transaction_whose_recoveries_keep_dying_goes_dead_and_can_be_retried_by_hand(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    await _orphan(store, "d1", definition_of(Chain), 2, [])
    for attempt in range(2):  # max_recoveries=2: two takeovers that "die" (never finish)
        claimed = await store.claim("d1", owner=f"dying-{attempt}", lease_s=0.05, max_recoveries=2)
        assert claimed is not None and claimed.status == "RUNNING"
        await asyncio.sleep(0.1)
    async with SagaEngine(settings) as engine:
        engine.register(Chain)
        assert await engine.recover() == []  # the third takeover makes it DEAD instead
        stored = await store.get("d1")
        assert stored is not None and stored.record.status == "DEAD"
        with pytest.raises(RecoveryError, match="DEAD"):
            await engine.recover("d1")
        (result,) = await engine.recover("d1", retry_dead=True)
    assert result.status is SagaStatus.SUCCEEDED


async def test_recovering_a_transaction_a_live_process_owns_is_refused(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    new = NewTransaction(
        correlation_id="l1",
        kind="saga",
        name="durable-chain",
        input=1,
        fingerprint=fingerprint_of(definition_of(Chain)),
    )
    await store.create(new, owner="live-process", lease_s=60)
    async with SagaEngine(settings) as engine:
        engine.register(Chain)
        with pytest.raises(RecoveryError, match="still holds its lease"):
            await engine.recover("l1")
        assert await engine.recover() == []
    assert CALLS == []


async def test_a_result_that_cannot_be_stored_fails_its_step_naming_the_type(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    @saga("durable-opaque")
    class Unstorable:
        @saga_step("make")
        def make(self) -> Any:
            return {"ratio": float("nan")}

    async with SagaEngine(settings) as engine:
        result = await engine.execute(Unstorable, correlation_id="u1")
    assert result.status is SagaStatus.COMPENSATED
    error = result.steps["make"].error
    assert error is not None and "cannot be stored" in error.message
    stored = await store.get("u1")
    assert stored is not None and stored.record.status == "COMPENSATED"


async def test_recover_without_a_durable_store_says_how_to_get_one() -> None:
    async with SagaEngine() as engine:
        with pytest.raises(Exception, match="FIREFLYTX_PERSISTENCE__URL"):
            await engine.recover()


async def test_executing_a_finished_correlation_id_returns_the_stored_result_and_runs_nothing(
    settings: FireflyTxSettings,
) -> None:
    async with SagaEngine(settings) as engine:
        first = await engine.execute(Chain, 5, correlation_id="i1")
        calls = list(CALLS)
        again = await engine.execute(Chain, 5, correlation_id="i1")
    assert CALLS == calls
    assert (again.status, again.correlation_id) == (first.status, "i1")
    assert again.steps["a"].result == Parcel(weight=5)
    assert again.steps["c"].result == "done"


async def test_two_concurrent_executions_with_one_correlation_id_run_once_and_agree(
    settings: FireflyTxSettings,
) -> None:
    async with SagaEngine(settings) as engine:
        one, two = await asyncio.gather(
            engine.execute(Chain, 6, correlation_id="i2"), engine.execute(Chain, 6, correlation_id="i2")
        )
    assert [name for name, _ in CALLS] == ["a", "b", "c"]
    assert one.status is two.status is SagaStatus.SUCCEEDED
    assert one.steps["b"].result == two.steps["b"].result == 12


async def test_a_correlation_id_of_another_transaction_is_refused_clearly(
    settings: FireflyTxSettings,
) -> None:
    async with SagaEngine(settings) as sagas, TccEngine(settings) as tccs:
        await sagas.execute(Chain, 1, correlation_id="i3")
        with pytest.raises(RecoveryError, match="belongs to saga 'durable-chain'"):
            await tccs.execute(Pay, 1, correlation_id="i3")


async def test_stored_run_shows_a_finished_run_with_its_checkpoints_and_result(
    settings: FireflyTxSettings,
) -> None:
    from fireflytx.persistence import StoredRun

    async with SagaEngine(settings) as engine:
        await engine.execute(Chain, 2, correlation_id="v1")
        view = await engine.stored_run("v1")
        assert await engine.stored_run("nope") is None
    assert isinstance(view, StoredRun)
    assert view.result is not None and view.result.status is SagaStatus.SUCCEEDED
    assert [(row.unit, row.status) for row in view.rows()] == [
        ("a", "SUCCEEDED"),
        ("b", "SUCCEEDED"),
        ("c", "SUCCEEDED"),
    ]
    assert "v1:step:b" in view._repr_html_()


async def test_a_store_of_ones_own_is_opened_through_store_factory(tmp_path: Path) -> None:
    import own_store

    url = f"mine://{tmp_path / 'mine.db'}"
    settings = FireflyTxSettings(persistence=PersistenceConfig(url=url, store_factory="own_store:open_mine"))
    async with SagaEngine(settings) as engine:
        result = await engine.execute(Chain, 1, correlation_id="own1")
        view = await engine.stored_run("own1")
    assert result.is_success and own_store.OPENED == [url]
    assert view is not None and view.record.status == "SUCCEEDED"


def test_a_store_factory_that_returns_no_store_is_refused_at_start(tmp_path: Path) -> None:
    settings = FireflyTxSettings(
        persistence=PersistenceConfig(url="mine://x", store_factory="own_store:open_nothing")
    )
    with pytest.raises(TypeError, match="does not implement fireflytx.persistence.TransactionStore"):
        SagaEngine(settings).start()


def test_an_unknown_store_url_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="use memory://, sqlite:///path/file.db or redis://host:port"):
        PersistenceConfig(url="postgres://db/tx")


async def test_recover_on_start_finishes_orphans_of_each_definition_as_it_is_registered(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    await _orphan(store, "s1", definition_of(Chain), 7, [_done("step", "a", "s1", Parcel(weight=7))])
    persistence = settings.persistence.model_copy(update={"recover_on_start": True})
    engine = SagaEngine(settings.model_copy(update={"persistence": persistence})).start()
    try:
        engine.register(Chain)
        for _ in range(600):  # a guard against hanging, not a measured expectation
            stored = await store.get("s1")
            assert stored is not None
            if stored.record.finished:
                break
            await asyncio.sleep(0.05)
        assert stored.record.status == "SUCCEEDED"
        assert [name for name, _ in CALLS] == ["b", "c"]
    finally:
        engine.stop()


@saga("durable-slow")
class Slow:
    @saga_step("first")
    def first(self, ctx: SagaContext) -> int:
        CALLS.append(("first", ctx.idempotency_key))
        return 1

    @compensation_step("first")
    def undo_first(self, _: int, ctx: SagaContext) -> None:
        CALLS.append(("undo first", ctx.idempotency_key))

    @saga_step("slow", depends_on=["first"])
    async def slow(self, ctx: SagaContext) -> int:
        CALLS.append(("slow", ctx.idempotency_key))
        await asyncio.sleep(0.6)
        return 2

    @saga_step("last", depends_on=["slow"])
    def last(self, ctx: SagaContext) -> int:
        CALLS.append(("last", ctx.idempotency_key))
        return 3


async def test_a_process_that_lost_its_lease_runs_nothing_more_of_that_transaction(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    from fireflytx import JournalError
    from fireflytx.persistence import LeaseLostError

    # A heartbeat slower than the lease: as if this process had stalled for longer than its lease.
    persistence = settings.persistence.model_copy(update={"lease_s": 0.1, "heartbeat_s": 30.0})
    async with SagaEngine(settings.model_copy(update={"persistence": persistence})) as engine:
        running = asyncio.ensure_future(engine.execute(Slow, correlation_id="lost1"))
        while ("slow", "lost1:step:slow") not in CALLS:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the lease has expired: another process takes the transaction over
        assert await store.claim("lost1", owner="other-process", lease_s=60) is not None
        with pytest.raises(JournalError) as caught:
            await running
    assert isinstance(caught.value.__cause__, LeaseLostError)
    assert [name for name, _ in CALLS] == ["first", "slow"]  # neither "last" nor "undo first" ran here
    stored = await store.get("lost1")
    assert stored is not None and stored.record.owner == "other-process"
    assert stored.record.status == "RUNNING"


async def test_recovering_more_orphans_than_the_store_has_connections_finishes_them_all(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    spec = definition_of(Chain)
    count = 300  # more than a Redis store's connection pool and the recovery concurrency
    for i in range(count):
        new = NewTransaction(
            correlation_id=f"many-{i}",
            kind="saga",
            name=spec.name,
            input=encode(1),
            fingerprint=fingerprint_of(spec),
        )
        await store.create(new, owner="dead-process", lease_s=0.05)
    await asyncio.sleep(0.1)
    async with SagaEngine(settings) as engine:
        engine.register(Chain)
        results = await engine.recover()
    assert len(results) == count
    assert {r.status for r in results} == {SagaStatus.SUCCEEDED}


@saga("durable-typed")
class Typed:
    @saga_step("weigh")
    def weigh(self, parcel: Parcel) -> int:
        return parcel.weight


async def test_a_claimed_transaction_that_cannot_start_gives_its_lease_up(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    from fireflytx import InputValidationError

    await _orphan(store, "bad1", definition_of(Typed), "not a parcel", [])
    async with SagaEngine(settings) as engine:
        engine.register(Typed)
        with pytest.raises(InputValidationError):
            await engine.recover("bad1")
    stored = await store.get("bad1")
    assert stored is not None and stored.record.status == "RUNNING"
    assert stored.record.owner is None  # released, not held (and renewed) by an engine that gave up
