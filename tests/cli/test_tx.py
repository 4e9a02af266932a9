"""`fireflytx tx list / show / purge` on real stores: a SQLite file and a password-protected Valkey server.

Records are written through the store API with what the journal writes: a ``NewTransaction`` with
the definition's fingerprint and the encoded input, one ``Checkpoint`` per finished step or phase
with its encoded result, the TCC decision, and the final status with its summary.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner, Result

from fireflytx import (
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
from fireflytx._persistence import (
    Checkpoint,
    ErrorInfo,
    NewTransaction,
    TransactionStore,
    encode,
    idempotency_key,
)
from fireflytx._persistence._config import PersistenceConfig
from fireflytx._persistence._factory import open_store
from fireflytx._persistence._fingerprint import fingerprint_of
from fireflytx.cli import app

runner = CliRunner()
OWNER = "web-1"
_prefixes = itertools.count()


class Quote(BaseModel):
    order_id: str
    amount: float


@saga("cli-order")
class CliOrder:
    @saga_step("reserve")
    def reserve(self) -> str:
        return "R-1"

    @compensation_step("reserve")
    def release(self, _: str) -> None: ...

    @saga_step("quote", depends_on=["reserve"])
    def quote(self) -> Quote:
        return Quote(order_id="O-1", amount=5)

    @saga_step("charge", depends_on=["quote"])
    def charge(self) -> None: ...

    @saga_step("ship", depends_on=["charge"])
    def ship(self) -> None: ...


@tcc("cli-transfer")
class CliTransfer:
    @tcc_participant("debit", order=1)
    class Debit:
        @try_method
        def hold(self) -> str:
            return "H-1"

        @confirm_method
        def take(self) -> None: ...

        @cancel_method
        def free(self) -> None: ...


@dataclass
class Store:
    """A store the commands open by URL, and the same store for writing records in the test."""

    url: str
    config: PersistenceConfig

    def run(self, work: Callable[[TransactionStore], Awaitable[Any]]) -> Any:
        async def go() -> Any:
            store = await open_store(self.config)
            try:
                return await work(store)
            finally:
                await store.close()

        return asyncio.run(go())


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.delenv("FIREFLYTX_PERSISTENCE__URL", raising=False)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tx.db'}"
        config = PersistenceConfig(url=url)
    else:
        url = request.getfixturevalue("valkey_with_password")
        prefix = f"cli{next(_prefixes)}:"
        monkeypatch.setenv("FIREFLYTX_PERSISTENCE__KEY_PREFIX", prefix)
        config = PersistenceConfig(url=url, key_prefix=prefix)
    yield Store(url, config)


def _checkpoint(
    cid: str, phase: str, unit: str, result: Any = None, *, error: ErrorInfo | None = None, attempts: int = 1
) -> Checkpoint:
    return Checkpoint(
        phase=phase,
        unit_id=unit,
        attempts=attempts,
        idempotency_key=idempotency_key(cid, phase, unit),
        result=None if error is not None else encode(result),
        error=error,
        at=time.time(),
    )


def _summary(status: str, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "status": status,
        "duration_ms": 40.0,
        "started_at": (now - timedelta(milliseconds=40)).isoformat(),
        "completed_at": now.isoformat(),
        "context": encode({"variables": {}, "headers": {"tenant": "acme"}}),
        **fields,
    }


async def _fill(store: TransactionStore) -> None:
    saga_shape = fingerprint_of(definition_of(CliOrder))
    order_input = encode({"order_id": "O-1"})

    def new(cid: str) -> NewTransaction:
        return NewTransaction(
            correlation_id=cid,
            kind="saga",
            name="cli-order",
            input=order_input,
            headers={"tenant": "acme"},
            fingerprint=saga_shape,
        )

    await store.create(new("cli-ok"), owner=OWNER, lease_s=60)
    for step, value in (("reserve", "R-1"), ("quote", Quote(order_id="O-1", amount=5)), ("charge", None)):
        await store.append("cli-ok", _checkpoint("cli-ok", "step", step, value), owner=OWNER)
    await store.append("cli-ok", _checkpoint("cli-ok", "step", "ship"), owner=OWNER)
    ok = _summary("SUCCEEDED", failed_steps=[], compensated_steps=[])
    await store.set_status("cli-ok", "SUCCEEDED", owner=OWNER, result=ok)

    await store.create(new("cli-comp"), owner=OWNER, lease_s=60)
    await store.append("cli-comp", _checkpoint("cli-comp", "step", "reserve", "R-2"), owner=OWNER)
    quote = Quote(order_id="O-2", amount=900)
    await store.append("cli-comp", _checkpoint("cli-comp", "step", "quote", quote), owner=OWNER)
    declined = ErrorInfo("ValueError", "card declined")
    await store.append(
        "cli-comp", _checkpoint("cli-comp", "step", "charge", error=declined, attempts=3), owner=OWNER
    )
    await store.append("cli-comp", _checkpoint("cli-comp", "compensation", "reserve"), owner=OWNER)
    undone = _summary("COMPENSATED", failed_steps=["charge"], compensated_steps=["reserve"])
    await store.set_status("cli-comp", "COMPENSATED", owner=OWNER, result=undone)

    await store.create(new("cli-run"), owner=OWNER, lease_s=600)
    await store.append("cli-run", _checkpoint("cli-run", "step", "reserve", "R-3", attempts=2), owner=OWNER)

    tcc_new = NewTransaction(
        correlation_id="cli-tcc",
        kind="tcc",
        name="cli-transfer",
        input=None,
        fingerprint=fingerprint_of(tcc_definition_of(CliTransfer)),
    )
    await store.create(tcc_new, owner=OWNER, lease_s=60)
    await store.append("cli-tcc", _checkpoint("cli-tcc", "try", "debit", "H-1"), owner=OWNER)
    await store.decide("cli-tcc", "CONFIRM", owner=OWNER)
    await store.append("cli-tcc", _checkpoint("cli-tcc", "confirm", "debit"), owner=OWNER)
    await store.set_status(
        "cli-tcc", "CONFIRMED", owner=OWNER, result=_summary("CONFIRMED", failed_participant=None)
    )


@pytest.fixture
def filled(store: Store) -> Store:
    store.run(_fill)
    return store


def tx(store: Store, *args: str) -> Result:
    result = runner.invoke(app, ["tx", *args, "--store", store.url])
    password = urlsplit(store.url).password
    assert password is None or password not in result.stdout + result.stderr
    return result


def test_list_shows_every_transaction_newest_first_with_its_status(filled: Store) -> None:
    result = tx(filled, "list")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "4 transactions in" in out
    for cid, status in (("cli-ok", "SUCCEEDED"), ("cli-comp", "COMPENSATED"), ("cli-run", "RUNNING")):
        line = next(line for line in out.splitlines() if f" {cid} " in line)
        assert status in line and "cli-order" in line
    assert out.index("cli-tcc") < out.index("cli-run") < out.index("cli-ok")
    if filled.url.startswith("redis"):
        assert "redis://:***@127.0.0.1" in out


def test_list_filters_by_status_name_time_and_count(filled: Store) -> None:
    running = json.loads(tx(filled, "list", "--status", "running", "--json").stdout)
    assert [r["correlation_id"] for r in running] == ["cli-run"]
    assert running[0]["owner"] == OWNER and running[0]["input"] == {"order_id": "O-1"}
    tccs = json.loads(tx(filled, "list", "--name", "cli-transfer", "--json").stdout)
    assert [(r["kind"], r["decision"], r["status"]) for r in tccs] == [("tcc", "CONFIRM", "CONFIRMED")]
    assert len(json.loads(tx(filled, "list", "--since", "1h", "--json").stdout)) == 4
    assert json.loads(tx(filled, "list", "--since", "2999-01-01T00:00", "--json").stdout) == []
    assert len(json.loads(tx(filled, "list", "--limit", "2", "--json").stdout)) == 2
    nothing = tx(filled, "list", "--status", "DEAD")
    assert nothing.exit_code == 0 and "no transactions in" in nothing.stdout


def test_show_a_finished_saga_rebuilds_its_run_view_and_timeline(filled: Store) -> None:
    result = tx(filled, "show", "cli-comp")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "saga cli-order · COMPENSATED · correlation_id=cli-comp" in out
    for key in ("cli-comp:step:reserve", "cli-comp:step:charge", "cli-comp:compensation:reserve"):
        assert key in out
    assert "ValueError: card declined" in out
    assert "failed at: charge (ValueError: card declined)" in out and "undone: reserve" in out
    assert "not run: ship" in out
    assert "timeline cli-order · COMPENSATED" in out

    data = json.loads(tx(filled, "show", "cli-comp", "--json").stdout)
    assert data["status"] == "COMPENSATED" and data["headers"] == {"tenant": "acme"}
    assert [c["unit_id"] for c in data["checkpoints"]] == ["reserve", "quote", "charge", "reserve"]
    assert data["result"]["steps"]["quote"]["result"] == {"order_id": "O-2", "amount": 900.0}
    assert data["result"]["steps"]["charge"]["attempts"] == 3
    assert data["result"]["context"]["headers"] == {"tenant": "acme"}


def test_show_a_running_saga_lists_its_checkpoints_and_what_is_pending(filled: Store) -> None:
    result = tx(filled, "show", "cli-run")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "RUNNING" in out and f"owner {OWNER}" in out and "cli-run:step:reserve" in out
    for step in ("quote", "charge", "ship"):
        assert next(line for line in out.splitlines() if f" {step} " in line).count("PENDING") == 1
    assert "timeline cli-order · RUNNING" in out
    assert json.loads(tx(filled, "show", "cli-run", "--json").stdout)["result"] is None


def test_show_a_tcc(filled: Store) -> None:
    result = tx(filled, "show", "cli-tcc")
    assert result.exit_code == 0, result.stderr
    assert "decision CONFIRM" in result.stdout and "all 1 participant confirmed" in result.stdout


def test_show_an_unknown_id_fails_with_one_line(filled: Store) -> None:
    result = tx(filled, "show", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no transaction 'nope' in ") and result.stderr.count("\n") == 1


def test_purge_deletes_finished_transactions_older_than_the_duration_only(filled: Store) -> None:
    kept = tx(filled, "purge", "--older-than", "7d")
    assert kept.exit_code == 0 and "purged 0 finished transactions" in kept.stdout
    purged = tx(filled, "purge", "--older-than", "0s")
    assert (
        purged.exit_code == 0
        and "purged 3 finished transactions last updated more than 0s ago" in purged.stdout
    )
    left = json.loads(tx(filled, "list", "--json").stdout)
    assert [r["correlation_id"] for r in left] == ["cli-run"]


def test_the_settings_name_the_store_when_no_store_option_is_given(
    filled: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIREFLYTX_PERSISTENCE__URL", filled.url)
    result = runner.invoke(app, ["tx", "list", "--json"])
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 4


def test_a_memory_store_is_refused_because_it_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREFLYTX_PERSISTENCE__URL", raising=False)
    for args in (
        ["tx", "list"],
        ["tx", "show", "x", "--store", "memory://"],
        ["tx", "purge", "--older-than", "1d"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert "a memory store keeps nothing between processes" in result.stderr
        assert result.stderr.count("\n") == 1


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'absent.db'}"
    cases = {
        ("tx", "list", "--since", "yesterday", "--store", store): "--since takes a duration ago",
        ("tx", "list", "--status", "DONE", "--store", store): "--status 'DONE' is no transaction status",
        ("tx", "purge", "--older-than", "7 days", "--store", store): "--older-than takes a duration",
        ("tx", "list", "--store", "postgres://db/tx"): "names no transaction store",
    }
    for args, message in cases.items():
        result = runner.invoke(app, list(args))
        assert result.exit_code == 2, args
        assert message in result.stderr


def test_a_missing_sqlite_file_or_unreachable_redis_fails_with_one_line_and_no_password(
    tmp_path: Path,
) -> None:
    missing = runner.invoke(app, ["tx", "list", "--store", f"sqlite:///{tmp_path / 'absent.db'}"])
    assert missing.exit_code == 1 and "the file does not exist" in missing.stderr
    assert not (tmp_path / "absent.db").exists()
    # Port 1 on the loopback: nothing listens there.
    down = runner.invoke(app, ["tx", "list", "--store", "redis://app:hunter2@127.0.0.1:1/0"])
    assert down.exit_code == 1 and down.stderr.startswith("error: ")
    assert "hunter2" not in down.stderr and "app:***@127.0.0.1:1" in down.stderr
