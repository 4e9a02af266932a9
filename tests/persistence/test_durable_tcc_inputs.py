"""Durable TCC runs whose participants have their own input: only the input is stored, parts are re-derived.

A crashed run is made as in test_durable_runs: its record and checkpoints are written through the
store by an owner that does not exist, with a lease that has expired.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from valkey_server import ValkeyProcess

from fireflytx import (
    TccContext,
    TccEngine,
    TccInputs,
    TccStatus,
    cancel_method,
    confirm_method,
    tcc,
    tcc_definition_of,
    tcc_participant,
    try_method,
)
from fireflytx._persistence import Checkpoint, NewTransaction, TransactionStore, decode, encode, open_store
from fireflytx._persistence._fingerprint import fingerprint_of
from fireflytx.config import FireflyTxSettings, PersistenceConfig

CALLS: list[tuple[str, Any]] = []
_prefixes = itertools.count()


class Parcel(BaseModel):
    weight: int


@tcc("durable-split")
class Split:
    @tcc_participant("first", order=1, input=lambda order: order["first"])
    class First:
        @try_method
        def t(self, n: int, ctx: TccContext) -> int:
            CALLS.append(("try first", n))
            return n

        @confirm_method
        def c(self, r: int) -> None:
            CALLS.append(("confirm first", r))

        @cancel_method
        def x(self, r: int | None) -> None:
            CALLS.append(("cancel first", r))

    @tcc_participant("second", order=2, input=lambda order: order["second"])
    @try_method
    async def try_second(self, parcel: Parcel) -> int:
        CALLS.append(("try second", parcel))
        return parcel.weight

    @confirm_method
    async def confirm_second(self, weight: int) -> None:
        CALLS.append(("confirm second", weight))

    @cancel_method
    async def cancel_second(self, weight: int | None) -> None:
        CALLS.append(("cancel second", weight))


@tcc("durable-entries")
class Entries:
    @try_method
    def try_first(self, n: int) -> int:
        CALLS.append(("try first", n))
        return n

    @confirm_method
    def confirm_first(self, r: int) -> None: ...

    @cancel_method
    def cancel_first(self, r: int | None) -> None: ...

    @try_method
    def try_second(self, parcel: object) -> object:
        CALLS.append(("try second", parcel))
        return parcel

    @confirm_method
    def confirm_second(self, r: object) -> None: ...

    @cancel_method
    def cancel_second(self, r: object) -> None: ...


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
        url, prefix = server.url, f"ti{next(_prefixes)}:"
    return FireflyTxSettings(persistence=PersistenceConfig(url=url, key_prefix=prefix, lease_s=0.3))


@pytest.fixture
async def store(settings: FireflyTxSettings) -> AsyncIterator[TransactionStore]:
    opened = await open_store(settings.persistence)
    yield opened
    await opened.close()


async def _orphan(store: TransactionStore, cid: str, spec: Any, value: Any, tried: int) -> None:
    """A run whose process died after the first participant's try: its record, one checkpoint."""
    new = NewTransaction(
        correlation_id=cid, kind="tcc", name=spec.name, input=encode(value), fingerprint=fingerprint_of(spec)
    )
    await store.create(new, owner="dead-process", lease_s=0.05)
    checkpoint = Checkpoint(
        phase="try", unit_id="first", attempts=1, idempotency_key=f"{cid}:try:first", result=encode(tried)
    )
    await store.append(cid, checkpoint, owner="dead-process")
    await asyncio.sleep(0.1)  # the lease expires


async def test_recovery_applies_the_selectors_again_to_the_stored_input(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    await _orphan(store, "s1", tcc_definition_of(Split), {"first": 3, "second": {"weight": 9}}, tried=3)
    async with TccEngine(settings) as engine:
        engine.register(Split)
        (result,) = await engine.recover()
    assert result.status is TccStatus.CONFIRMED
    # first's try is not run again; second's selector picks its part of the stored input.
    assert CALLS == [("try second", Parcel(weight=9)), ("confirm first", 3), ("confirm second", 9)]
    stored = await store.get("s1")
    assert stored is not None and stored.record.input == {"first": 3, "second": {"weight": 9}}


async def test_tcc_inputs_are_stored_as_themselves_and_resumed_entry_by_entry(
    settings: FireflyTxSettings, store: TransactionStore
) -> None:
    async with TccEngine(settings) as engine:
        done = await engine.execute(Entries, TccInputs(first=1, second=Parcel(weight=2)), correlation_id="e1")
    assert done.status is TccStatus.CONFIRMED
    stored = await store.get("e1")
    assert stored is not None
    assert decode(stored.record.input) == TccInputs(first=1, second=Parcel(weight=2))

    CALLS.clear()
    inputs = TccInputs(first=5, second=Parcel(weight=6))
    await _orphan(store, "e2", tcc_definition_of(Entries), inputs, tried=5)
    async with TccEngine(settings) as engine:
        engine.register(Entries)
        (result,) = await engine.recover("e2")
    assert result.status is TccStatus.CONFIRMED
    assert CALLS == [("try second", Parcel(weight=6))]  # an untyped try still gets the model back
