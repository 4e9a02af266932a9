"""A fan-out step killed with SIGKILL mid-way: recovery re-runs only the clones the crash left unfinished.

The saga (``crash_sagas.FanOut``): ``prep`` -> ``each`` (4 clones, one at a time, ledger units
``each#0``..``each#3``) -> ``after``, run in a child process that is killed, or kills itself through
``crash_after``; another child recovers it. The ledger says what ran and how often; the store what
fireflytx recorded.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
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

KILLED = -signal.SIGKILL
CLONES = [f"each#{i}" for i in range(4)]


def _kill_when_hung(ledger: Ledger, child: Child, plans: list[tuple[str, str, dict[str, Any]]]) -> None:
    wait_until(
        lambda: all(ledger.has(cid, *plan["hang"], pid=child.pid) for cid, _, plan in plans),
        "every fan-out blocked at its kill point",
        child,
    )
    child.kill()
    assert child.process.returncode == KILLED


def test_killed_during_a_clone_resumes_at_that_clone(backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    plans: list[tuple[str, str, dict[str, Any]]] = [
        ("mid-success", "fan-out", {"hang": ["step", "each#2"]}),
        ("mid-failure", "fan-out", {"hang": ["step", "each#1"], "fail": "after"}),
    ]
    cids = [cid for cid, _, _ in plans]
    child = Child(child_args("run", backend.url, ledger.path, extra=plans_arg(plans)))
    _kill_when_hung(ledger, child, plans)

    before = stored(backend.url, cids)
    hung = {"mid-success": 2, "mid-failure": 1}
    for cid in cids:
        t = before[cid]
        assert t is not None and t.record.status == RUNNING, cid
        done = [f"step/each#{i}" for i in range(hung[cid])]
        assert checkpoint_keys(t) == ["step/prep", *done], cid

    recovery = recover_all(backend.url, ledger.path, cids)
    after = stored(backend.url, cids)
    ledger.reload()
    for cid in cids:
        failing = cid == "mid-failure"
        t = after[cid]
        assert t is not None and t.record.status == ("COMPENSATED" if failing else "SUCCEEDED"), cid
        assert ledger.count(cid, "step", "prep") == 1, cid
        for i, unit in enumerate(CLONES):
            runs = [r["pid"] for r in ledger.runs(cid, "step", unit)]
            if i < hung[cid]:
                assert runs == [child.pid], f"{cid} {unit}: {runs}"
            elif i == hung[cid]:
                assert runs == [child.pid, recovery.pid], f"{cid} {unit}: {runs}"
            else:
                assert runs == [recovery.pid], f"{cid} {unit}: {runs}"
        undone = ledger.units(cid, "compensation")
        assert undone == (["each#3", "each#2", "each#1", "each#0", "prep"] if failing else []), cid
        ledger.assert_one_key(cid)
        keys = checkpoint_keys(t)
        assert {f"step/{u}" for u in CLONES} | {"step/each"} <= set(keys), cid


def test_killed_after_a_clone_returned_before_its_checkpoint_reruns_only_it(
    backend: Backend, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    cid = "after-each-1"
    child = Child(
        child_args(
            "run",
            backend.url,
            ledger.path,
            extra=[*plans_arg([(cid, "fan-out", {})]), "--crash-after", "step:each#1"],
        )
    )
    assert child.finish() == KILLED, child.describe()
    t = stored(backend.url, [cid])[cid]
    assert t is not None and checkpoint_keys(t) == ["step/prep", "step/each#0"]

    recovery = recover_all(backend.url, ledger.path, [cid])
    t = stored(backend.url, [cid])[cid]
    ledger.reload()
    assert t is not None and t.record.status == "SUCCEEDED"
    counts = {unit: [r["pid"] for r in ledger.runs(cid, "step", unit)] for unit in CLONES}
    assert counts == {
        "each#0": [child.pid],
        "each#1": [child.pid, recovery.pid],
        "each#2": [recovery.pid],
        "each#3": [recovery.pid],
    }
    ledger.assert_one_key(cid)


def test_killed_while_undoing_clones_undoes_only_the_rest(backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    # each#3 fails for good; the clones are undone last first, and the process dies undoing each#1.
    plans: list[tuple[str, str, dict[str, Any]]] = [
        ("undoing", "fan-out", {"fail": "each#3", "hang": ["compensation", "each#1"]}),
    ]
    child = Child(child_args("run", backend.url, ledger.path, extra=plans_arg(plans)))
    _kill_when_hung(ledger, child, plans)

    recovery = recover_all(backend.url, ledger.path, ["undoing"])
    t = stored(backend.url, ["undoing"])["undoing"]
    ledger.reload()
    assert t is not None and t.record.status == "COMPENSATED"
    assert ledger.count("undoing", "step", "each#3") == 1  # failed for good: not retried
    assert [r["pid"] for r in ledger.runs("undoing", "compensation", "each#2")] == [child.pid]
    assert [r["pid"] for r in ledger.runs("undoing", "compensation", "each#1")] == [child.pid, recovery.pid]
    assert [r["pid"] for r in ledger.runs("undoing", "compensation", "each#0")] == [recovery.pid]
    assert [r["pid"] for r in ledger.runs("undoing", "compensation", "prep")] == [recovery.pid]
    ledger.assert_one_key("undoing")
