"""`fireflytx tx recover`: a transaction orphaned by a dead process is resumed from its checkpoints.

The orphan is written through the store API the way a journal writes it (a ``NewTransaction`` with
the saga's fingerprint and encoded input, a checkpoint for the step that finished) by an owner
whose lease has already expired, as when its process died; recovery runs on the real engine.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import tx_recover_sagas
from tx_recover_sagas import CALLS, Parcel, Shipping
from typer.testing import CliRunner

from fireflytx import definition_of
from fireflytx._persistence import Checkpoint, NewTransaction, SqliteStore, decode, encode, idempotency_key
from fireflytx._persistence._fingerprint import fingerprint_of
from fireflytx.cli import app

runner = CliRunner()
CID = "orphan-1"


async def _orphan(path: Path) -> None:
    store = SqliteStore(path)
    try:
        new = NewTransaction(
            correlation_id=CID,
            kind="saga",
            name="tx-recover-shipping",
            input=encode({"order_id": "O-7"}),
            fingerprint=fingerprint_of(definition_of(Shipping)),
        )
        await store.create(new, owner="crashed-process", lease_s=0)
        packed = Checkpoint(
            phase="step",
            unit_id="pack",
            attempts=1,
            idempotency_key=idempotency_key(CID, "step", "pack"),
            result=encode(Parcel(parcel_id="P-stored", weight_kg=2.0)),
            at=time.time(),
        )
        assert await store.append(CID, packed, owner="crashed-process")
    finally:
        await store.close()


@pytest.fixture
def orphaned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("FIREFLYTX_PERSISTENCE__URL", raising=False)
    CALLS.clear()
    path = tmp_path / "tx.db"
    asyncio.run(_orphan(path))
    return f"sqlite:///{path}"


def test_recover_resumes_an_orphan_from_its_checkpoint_and_shows_how_it_ended(orphaned: str) -> None:
    result = runner.invoke(app, ["tx", "recover", CID, "--import", "tx_recover_sagas", "--store", orphaned])
    assert result.exit_code == 0, result.stderr
    assert "recovered 1 transaction" in result.stdout
    line = next(line for line in result.stdout.splitlines() if CID in line)
    assert "tx-recover-shipping" in line and "SUCCEEDED" in line
    # The step with a checkpoint did not run again; the next one got its stored result back as a model.
    assert CALLS == [("label", Parcel(parcel_id="P-stored", weight_kg=2.0))]

    shown = runner.invoke(app, ["tx", "show", CID, "--json", "--store", orphaned])
    data = json.loads(shown.stdout)
    assert data["status"] == "SUCCEEDED" and data["recovery_attempts"] == 1
    label = next(c for c in data["checkpoints"] if c["unit_id"] == "label")
    assert decode(label["result"]) == "L-P-stored"


def test_recover_without_an_id_resumes_every_orphan_of_the_imported_sagas(orphaned: str) -> None:
    module = str(Path(tx_recover_sagas.__file__))
    result = runner.invoke(app, ["tx", "recover", "--import", "tx_recover_sagas", "--store", orphaned])
    assert result.exit_code == 0, result.stderr
    assert CID in result.stdout and "SUCCEEDED" in result.stdout
    again = runner.invoke(app, ["tx", "recover", "--import", module, "--store", orphaned])
    assert again.exit_code == 0, again.stderr
    assert "nothing to recover" in again.stdout and "saga 'tx-recover-shipping'" in again.stdout


def test_recover_refuses_what_it_cannot_recover_with_one_line(orphaned: str) -> None:
    store = ["--store", orphaned]
    missing = runner.invoke(app, ["tx", "recover", "nope", "--import", "tx_recover_sagas", *store])
    assert missing.exit_code == 1 and "no transaction 'nope'" in missing.stderr
    other = runner.invoke(app, ["tx", "recover", CID, "--import", "fireflytx._demo", *store])
    assert other.exit_code == 1
    assert "saga 'tx-recover-shipping', which none of the imported modules defines" in other.stderr
    no_import = runner.invoke(app, ["tx", "recover", CID, *store])
    assert no_import.exit_code == 2 and "--import is required" in no_import.stderr
    bad = runner.invoke(app, ["tx", "recover", "--import", "no_such_module_here", *store])
    assert bad.exit_code == 2 and "no module named 'no_such_module_here'" in bad.stderr
    memory = runner.invoke(app, ["tx", "recover", "--import", "tx_recover_sagas", "--store", "memory://"])
    assert memory.exit_code == 1 and "a memory store keeps nothing between processes" in memory.stderr
