"""Sub-sagas killed with SIGKILL: a parent killed while its child runs, or while it undoes its child.

The ``nested`` saga runs before -> child (the ``chain`` saga a..e as a sub-saga, correlation id
``<parent>/child``) -> after. Children of ``crash_child.py`` run it and are killed at a known point;
another child recovers with ``engine.recover()``. The effects ledger says what ran how often, the
store what fireflytx recorded (see ``test_crash_matrix.py`` for the harness).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from crash_sagas import CHAIN
from harness import (
    Backend,
    Child,
    Ledger,
    checkpoint_keys,
    child_args,
    plans_arg,
    recover_all,
    stored,
    wait_until,
)

from fireflytx.persistence import RUNNING

pytestmark = pytest.mark.timeout(300)


def _kill_when_hung(ledger: Ledger, child: Child, plans: list[tuple[str, str, dict[str, Any]]]) -> None:
    wait_until(
        lambda: all(ledger.has(f"{cid}/child", *plan["hang"], pid=child.pid) for cid, _, plan in plans),
        "every child saga blocked at its kill point",
        child,
    )
    child.kill()
    assert child.process.returncode == -signal.SIGKILL


def test_parent_killed_mid_child_resumes_the_child_from_its_checkpoints(
    backend: Backend, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    plans: list[tuple[str, str, dict[str, Any]]] = [
        ("n-success", "nested", {"hang": ["step", "c"]}),
        ("n-failure", "nested", {"hang": ["step", "c"], "fail": "after"}),
    ]
    child = Child(child_args("run", backend.url, ledger.path, extra=plans_arg(plans)))
    _kill_when_hung(ledger, child, plans)

    cids = [cid for cid, _, _ in plans]
    everything = [*cids, *(f"{cid}/child" for cid in cids)]
    before = stored(backend.url, everything)
    for cid in cids:
        parent, inner = before[cid], before[f"{cid}/child"]
        assert parent is not None and parent.record.status == RUNNING
        assert checkpoint_keys(parent) == ["step/before"], cid
        assert inner is not None and inner.record.status == RUNNING and inner.record.name == "chain"
        assert checkpoint_keys(inner) == ["step/a", "step/b"], cid

    recovery = recover_all(backend.url, ledger.path, everything)
    after = stored(backend.url, everything)
    ledger.reload()

    success, failure = after["n-success"], after["n-failure"]
    assert success is not None and success.record.status == "SUCCEEDED"
    assert failure is not None and failure.record.status == "COMPENSATED"
    assert recovery.reported("FINAL") == {
        "n-success": "SUCCEEDED", "n-success/child": "SUCCEEDED",
        "n-failure": "COMPENSATED", "n-failure/child": "SUCCEEDED",
    }  # fmt: skip
    for cid in cids:
        inner_cid = f"{cid}/child"
        for unit in CHAIN:
            runs = ledger.runs(inner_cid, "step", unit)
            assert len(runs) == (2 if unit == "c" else 1), f"{inner_cid}: step {unit} ran {len(runs)} times"
        assert [r["pid"] for r in ledger.runs(inner_cid, "step", "c")] == [child.pid, recovery.pid]
        assert ledger.count(cid, "step", "before") == 1
        ledger.assert_one_key(cid)
        ledger.assert_one_key(inner_cid)
        inner = after[inner_cid]
        assert inner is not None and checkpoint_keys(inner) == [f"step/{u}" for u in CHAIN]
    # the finished child of the failed parent was undone as a whole, newest first, once each
    assert ledger.units("n-failure/child", "compensation") == ["e", "d", "c", "b", "a"]
    assert ledger.units("n-failure", "compensation") == ["before"]
    assert ledger.count("n-failure", "step", "after") == 1
    assert checkpoint_keys(failure) == [
        "step/before", "step/child", "step/after", "compensation/child", "compensation/before",
    ]  # fmt: skip
    assert ledger.units("n-success/child", "compensation") == []


def test_parent_killed_while_undoing_its_child_undoes_it_again_on_recovery(
    backend: Backend, tmp_path: Path
) -> None:
    """The parent's checkpoint records the child's undo as a whole: a crash inside it repeats it."""
    ledger = Ledger(tmp_path / "ledger.jsonl")
    plans: list[tuple[str, str, dict[str, Any]]] = [
        ("u-1", "nested", {"hang": ["compensation", "c"], "fail": "after"}),
    ]
    child = Child(child_args("run", backend.url, ledger.path, extra=plans_arg(plans)))
    _kill_when_hung(ledger, child, plans)

    before = stored(backend.url, ["u-1", "u-1/child"])
    parent, inner = before["u-1"], before["u-1/child"]
    assert parent is not None and parent.record.status == RUNNING
    assert checkpoint_keys(parent) == ["step/before", "step/child", "step/after"]
    assert inner is not None and inner.record.status == "SUCCEEDED"

    recover_all(backend.url, ledger.path, ["u-1"])
    after = stored(backend.url, ["u-1", "u-1/child"])
    ledger.reload()
    parent = after["u-1"]
    assert parent is not None and parent.record.status == "COMPENSATED"
    # replayed from the parent's checkpoint: the child's steps did not run again
    assert [ledger.count("u-1/child", "step", u) for u in CHAIN] == [1, 1, 1, 1, 1]
    assert ledger.units("u-1/child", "compensation") == ["e", "d", "c", "e", "d", "c", "b", "a"]
    assert ledger.units("u-1", "compensation") == ["before"]
    assert checkpoint_keys(parent)[-2:] == ["compensation/child", "compensation/before"]
    ledger.assert_one_key("u-1/child")
