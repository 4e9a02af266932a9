"""A durable fan-out: every clone is checkpointed by its own id, and recovery re-runs only the rest.

A crashed run is made as in test_durable_runs: its record and checkpoints written through the store
by a process that does not exist, with an expired lease, which is what a SIGKILL between two
checkpoints leaves.
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
    FanOutItem,
    SagaContext,
    SagaEngine,
    SagaResult,
    SagaStatus,
    StepStatus,
    compensation_step,
    definition_of,
    saga,
    saga_step,
)
from fireflytx._persistence import Checkpoint, ErrorInfo, NewTransaction, TransactionStore, encode, open_store
from fireflytx._persistence._fingerprint import fingerprint_of
from fireflytx.config import FireflyTxSettings, PersistenceConfig

CALLS: list[tuple[str, str]] = []
_prefixes = itertools.count()


class Label(BaseModel):
    sku: str
    key: str


@saga("durable-fan-out")
class Fulfil:
    @saga_step("ship", fan_out=lambda skus: skus, max_parallel=2)
    def ship(self, sku: str, ctx: SagaContext) -> Label:
        CALLS.append(("ship", ctx.idempotency_key))
        return Label(sku=sku, key=ctx.idempotency_key)

    @compensation_step("ship")
    async def unship(self, label: Label, sku: Annotated[str, FanOutItem()], ctx: SagaContext) -> None:
        assert label.sku == sku
        CALLS.append(("unship", ctx.idempotency_key))

    @saga_step("bill", depends_on=["ship"])
    def bill(self, skus: list[str], ctx: SagaContext) -> int:
        CALLS.append(("bill", ctx.idempotency_key))
        if "declined" in skus:
            raise ValueError("card declined")
        return len(skus)


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
        url, prefix = server.url, f"fo{next(_prefixes)}:"
    return FireflyTxSettings(
        persistence=PersistenceConfig(url=url, key_prefix=prefix, lease_s=0.3, max_recoveries=2)
    )


@pytest.fixture
async def store(settings: FireflyTxSettings) -> AsyncIterator[TransactionStore]:
    opened = await open_store(settings.persistence)
    yield opened
    await opened.close()


async def _orphan(store: TransactionStore, cid: str, value: Any, checkpoints: list[Checkpoint]) -> None:
    spec = definition_of(Fulfil)
    new = NewTransaction(
        correlation_id=cid, kind="saga", name=spec.name, input=encode(value), fingerprint=fingerprint_of(spec)
    )
    await store.create(new, owner="dead-process", lease_s=0.05)
    for checkpoint in checkpoints:
        await store.append(cid, checkpoint, owner="dead-process")
    await asyncio.sleep(0.1)  # the lease expires


async def _recovered(settings: FireflyTxSettings, cid: str) -> SagaResult:
    """The result of recovering ``cid`` on a fresh engine that registered ``Fulfil``."""
    async with SagaEngine(settings) as engine:
        engine.register(Fulfil)
        (result,) = await engine.recover(cid)
    assert isinstance(result, SagaResult)
    return result


def _done(phase: str, unit: str, cid: str, result: Any = None, error: ErrorInfo | None = None) -> Checkpoint:
    key = f"{cid}:{phase}:{unit}"
    return Checkpoint(
        phase=phase, unit_id=unit, attempts=1, idempotency_key=key, result=encode(result), error=error
    )


def _label(cid: str, sku: str, index: int) -> Label:
    return Label(sku=sku, key=f"{cid}:step:ship#{index}")


async def test_a_durable_fan_out_checkpoints_every_clone_then_the_step(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    async with SagaEngine(settings) as engine:
        result = await engine.execute(Fulfil, ["a", "b", "c"], correlation_id="f1")
    assert result.status is SagaStatus.SUCCEEDED
    stored = await store.get("f1")
    assert stored is not None
    units = [(c.phase, c.unit_id) for c in stored.checkpoints]
    assert sorted(units[:3]) == [("step", "ship#0"), ("step", "ship#1"), ("step", "ship#2")]
    assert units[3:] == [("step", "ship"), ("step", "bill")]
    assert stored.checkpoint("step", "ship#1").result["value"] == {"sku": "b", "key": "f1:step:ship#1"}  # type: ignore[index,union-attr]
    async with SagaEngine(settings) as engine:
        view = await engine.stored_run("f1")
    assert view is not None and view.result is not None
    assert view.result.steps["ship#2"].result == Label(sku="c", key="f1:step:ship#2")
    assert view.result.steps["ship"].status is StepStatus.SUCCEEDED
    # Rebuilt from the store: each clone follows its step in item order, with its compensation.
    assert list(view.result.steps) == ["ship", "ship#0", "ship#1", "ship#2", "bill"]
    assert view.result.steps["ship#0"].has_compensation


async def test_a_crash_mid_fan_out_resumes_without_re_running_the_completed_clones(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    cid = "f2"
    skus = ["a", "b", "c", "d"]
    await _orphan(
        store,
        cid,
        skus,
        [
            _done("step", "ship#0", cid, _label(cid, "a", 0)),
            _done("step", "ship#2", cid, _label(cid, "c", 2)),
        ],
    )
    result = await _recovered(settings, cid)
    assert result.status is SagaStatus.SUCCEEDED
    assert sorted(CALLS) == [("bill", "f2:step:bill"), ("ship", "f2:step:ship#1"), ("ship", "f2:step:ship#3")]
    # Replayed clones come back as their own type, in item order with the ones that ran now.
    assert result.steps["ship"].result == [_label(cid, sku, i) for i, sku in enumerate(skus)]
    assert [result.steps[f"ship#{i}"].status for i in range(4)] == [StepStatus.SUCCEEDED] * 4
    assert result.steps["bill"].result == 4
    stored = await store.get(cid)
    assert stored is not None and stored.record.status == "SUCCEEDED"


async def test_a_crash_after_the_whole_fan_out_runs_none_of_its_clones_again(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    cid = "f3"
    labels = [_label(cid, "a", 0), _label(cid, "b", 1)]
    await _orphan(
        store,
        cid,
        ["a", "b"],
        [
            _done("step", "ship#1", cid, labels[1]),
            _done("step", "ship#0", cid, labels[0]),
            _done("step", "ship", cid, labels),
        ],
    )
    result = await _recovered(settings, cid)
    assert result.status is SagaStatus.SUCCEEDED
    assert CALLS == [("bill", "f3:step:bill")]
    assert result.steps["ship"].result == labels
    assert result.steps["ship#1"].status is StepStatus.SUCCEEDED


async def test_recovery_mid_compensation_undoes_only_the_clones_not_yet_undone(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    cid = "f4"
    skus = ["a", "b", "declined"]
    labels = [_label(cid, sku, i) for i, sku in enumerate(skus)]
    await _orphan(
        store,
        cid,
        skus,
        [
            *(_done("step", f"ship#{i}", cid, label) for i, label in enumerate(labels)),
            _done("step", "ship", cid, labels),
            _done("step", "bill", cid, error=ErrorInfo("ValueError", "card declined")),
            _done("compensation", "ship#2", cid),
        ],
    )
    result = await _recovered(settings, cid)
    assert result.status is SagaStatus.COMPENSATED
    # bill is not retried; ship#2's undo is not repeated; the other two are undone now.
    assert sorted(CALLS) == [("unship", "f4:compensation:ship#0"), ("unship", "f4:compensation:ship#1")]
    assert all(result.steps[f"ship#{i}"].status is StepStatus.COMPENSATED for i in range(3))
    assert result.steps["ship"].status is StepStatus.COMPENSATED
    stored = await store.get(cid)
    assert stored is not None and stored.record.status == "COMPENSATED"
    assert stored.checkpoint("compensation", "ship") is not None


async def test_a_clone_that_had_failed_for_good_is_not_retried_and_its_siblings_are_undone(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    cid = "f5"
    await _orphan(
        store,
        cid,
        ["a", "b", "c"],
        [
            _done("step", "ship#0", cid, _label(cid, "a", 0)),
            _done("step", "ship#1", cid, error=ErrorInfo("RuntimeError", "no courier")),
            _done("step", "ship#2", cid, _label(cid, "c", 2)),
        ],
    )
    result = await _recovered(settings, cid)
    assert result.status is SagaStatus.COMPENSATED
    assert sorted(CALLS) == [("unship", "f5:compensation:ship#0"), ("unship", "f5:compensation:ship#2")]
    assert result.steps["ship#1"].status is StepStatus.FAILED
    error = result.steps["ship"].error
    assert error is not None and error.type == "FanOutError" and "no courier" in error.message


async def test_a_clone_that_may_have_been_running_when_a_sibling_failed_runs_again_and_is_undone(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    # max_parallel=2: ship#1 failed for good (its lane stopped) while the other lane may already
    # have been running ship#2 (no checkpoint); ship#3 cannot have started. Recovery runs ship#2
    # again with its key, so that whatever it did is undone with ship#0.
    cid = "f6"
    await _orphan(
        store,
        cid,
        ["a", "b", "c", "d", "e", "f"],
        [
            _done("step", "ship#0", cid, _label(cid, "a", 0)),
            _done("step", "ship#1", cid, error=ErrorInfo("RuntimeError", "no courier")),
        ],
    )
    result = await _recovered(settings, cid)
    assert result.status is SagaStatus.COMPENSATED
    ran = [call for call in CALLS if call[0] == "ship"]
    assert ran == [("ship", "f6:step:ship#2")]
    assert sorted(call for call in CALLS if call[0] == "unship") == [
        ("unship", "f6:compensation:ship#0"),
        ("unship", "f6:compensation:ship#2"),
    ]
    assert result.steps["ship#3"].status is StepStatus.NOT_RUN


async def test_turning_a_step_into_a_fan_out_is_a_change_recovery_names() -> None:
    @saga("durable-fan-out")
    class Plain:
        @saga_step("ship")
        def ship(self, skus: list[str]) -> None: ...

        @compensation_step("ship")
        async def unship(self, label: Any) -> None: ...

        @saga_step("bill", depends_on=["ship"])
        def bill(self) -> None: ...

    from fireflytx._persistence._fingerprint import describe_change

    change = describe_change(fingerprint_of(definition_of(Plain)), fingerprint_of(definition_of(Fulfil)))
    assert change == "step 'ship' became a fan-out step"
    assert '"fan-out"]' not in fingerprint_of(definition_of(Plain))
