"""The crash matrix: durable sagas and TCCs killed with SIGKILL at every point that matters.

Every scenario runs on both durable stores, a SQLite file and a real Valkey server (``appendonly
yes``, ``appendfsync always``), except the server restart, which only Redis has. The transactions
run in child processes (``crash_child.py``), which the test kills with SIGKILL, or which kill
themselves through ``fireflytx.testing.crash_after``; another child then recovers them with
``engine.recover()``. Children use a 0.5 s lease, so a recoverer takes over soon after a kill
(the two racing recoverers of scenario 6 hold 10 s leases: only the dead owner's may run out).

What ran is read from an effects ledger outside fireflytx (``crash_sagas.py``): every step,
compensation and TCC phase appends one line (unit, phase, attempt, idempotency key, pid) before it
returns. What fireflytx recorded is read from the store.

The scenarios, and what must hold after recovery:

1. Killed during step k of a -> b -> c -> d -> e, for every k, on the success path and on the
   failure path (e fails for good): the saga ends SUCCEEDED or COMPENSATED; steps before k ran
   once, step k twice with one key, steps after k once; each compensation once.
2. Killed after a step's body returned, before its checkpoint (``crash_after``): the step re-ran
   exactly once more, with the same key.
3. Killed during compensation j of 3: the remaining ones run, the finished ones do not re-run.
4. Killed right after ``execute_sync()`` returned: the final status is in the store, and executing
   the same correlation id again runs nothing.
5. (Redis) The server killed mid-saga and restarted: one saga's step ends while it is down, the
   other's after it is back. The runs end cleanly, a recovery finishes what they left, no saga is
   SUCCEEDED without all its step checkpoints or with a compensation that ran, and every
   compensation that ran is recorded.
6. Two recoverers started at once on 50 orphaned sagas: every step ran at most once after the
   crash, each checkpoint was written once, all 50 end final.
7. A TCC of 3 participants killed in phase two (in the first confirm; in a cancel): recovery
   finishes phase two with the recorded decision, confirms only or cancels only.
8. 30 random kills during one 10-step saga, recovering between them: it ends final, no step ran
   more than (kills that hit it + 1) times, and always with one key.
9. An owner frozen (SIGSTOP) in a step past its lease, while another process recovers and
   finishes the saga, then thawed: it changes nothing in the store and undoes nothing.

Scenarios that kill at a known point run several transactions in one child (each blocks at its
own point, then the child is killed), so the matrix starts few JVMs besides the crash loop's 31
per store, where the next recoverer starts its JVM while the current child runs. Waits are guards
against hangs, never timings that are asserted.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from crash_sagas import CHAIN, PARTICIPANTS, TEN
from harness import (
    Backend,
    Child,
    Ledger,
    StoreWatch,
    checkpoint_keys,
    child_args,
    plans_arg,
    recover_all,
    stored,
    wait_until,
)

from fireflytx.persistence import RUNNING, StoredTransaction

pytestmark = pytest.mark.timeout(300)

KILLED = -signal.SIGKILL


def _steps(units: tuple[str, ...] | list[str]) -> list[str]:
    return [f"step/{u}" for u in units]


def _compensations(units: list[str]) -> list[str]:
    return [f"compensation/{u}" for u in units]


def _hung_all(ledger: Ledger, child: Child, plans: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Wait until every plan's unit wrote its line in ``child`` and blocked there, then kill it."""
    wait_until(
        lambda: all(ledger.has(cid, *plan["hang"], pid=child.pid) for cid, _, plan in plans),
        "every transaction blocked at its kill point",
        child,
    )
    child.kill()
    assert child.process.returncode == KILLED


# -- 1 -----------------------------------------------------------------------------------------------


def test_killed_during_step_k_resumes_at_step_k(backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    plans: list[tuple[str, str, dict[str, Any]]] = []
    for k, unit in enumerate(CHAIN, start=1):
        for failing in (False, True):
            definition = "chain" if (k + failing) % 2 else "async-chain"
            plan: dict[str, Any] = {"hang": ["step", unit]}
            if failing:
                plan["fail"] = "e"
            plans.append((f"k{k}-{'failure' if failing else 'success'}", definition, plan))
    cids = [cid for cid, _, _ in plans]

    child = Child(child_args("run", backend.url, ledger.path, extra=plans_arg(plans)))
    _hung_all(ledger, child, plans)

    before = stored(backend.url, cids)
    for cid, _, plan in plans:
        t = before[cid]
        assert t is not None and t.record.status == RUNNING, cid
        k = CHAIN.index(plan["hang"][1])
        assert checkpoint_keys(t) == _steps(CHAIN[:k]), f"{cid}: checkpoints of the steps before the kill"

    recovery = recover_all(backend.url, ledger.path, cids)
    after = stored(backend.url, cids)
    ledger.reload()
    for cid, _, plan in plans:
        failing = "fail" in plan
        status = "COMPENSATED" if failing else "SUCCEEDED"
        t = after[cid]
        assert t is not None and t.record.status == status, cid
        assert recovery.reported("RESULT").get(cid) == status, cid
        k = CHAIN.index(plan["hang"][1])
        for i, unit in enumerate(CHAIN):
            runs = ledger.runs(cid, "step", unit)
            assert len(runs) == (2 if i == k else 1), f"{cid}: step {unit} ran {len(runs)} times"
            if i == k:
                assert [r["pid"] for r in runs] == [child.pid, recovery.pid], cid
        undone = ["d", "c", "b", "a"] if failing else []
        assert ledger.units(cid, "compensation") == undone, cid
        ledger.assert_one_key(cid)
        assert checkpoint_keys(t) == _steps(CHAIN) + _compensations(undone), cid


# -- 2 -----------------------------------------------------------------------------------------------


def test_killed_after_step_returned_before_checkpoint_reruns_it_once(
    backend: Backend, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    runs = [("after-c-def", "chain"), ("after-c-async", "async-chain")]
    crashed: dict[str, int] = {}
    for cid, definition in runs:
        child = Child(
            child_args(
                "run",
                backend.url,
                ledger.path,
                extra=[*plans_arg([(cid, definition, {})]), "--crash-after", "step:c"],
            )
        )
        assert child.finish() == KILLED, child.describe()
        crashed[cid] = child.pid
        ledger.reload()
        assert ledger.count(cid, "step", "c", pids=[child.pid]) == 1, cid
        assert ledger.count(cid, "step", "d") == 0, cid
        t = stored(backend.url, [cid])[cid]
        assert t is not None and t.record.status == RUNNING, cid
        assert checkpoint_keys(t) == _steps(CHAIN[:2]), cid

    cids = [cid for cid, _ in runs]
    recovery = recover_all(backend.url, ledger.path, cids)
    after = stored(backend.url, cids)
    ledger.reload()
    for cid in cids:
        t = after[cid]
        assert t is not None and t.record.status == "SUCCEEDED", cid
        for unit in CHAIN:
            pids = [r["pid"] for r in ledger.runs(cid, "step", unit)]
            assert pids == ([crashed[cid], recovery.pid] if unit == "c" else pids[:1]), (
                f"{cid} {unit}: {pids}"
            )
            assert len(pids) == (2 if unit == "c" else 1), f"{cid} {unit}: {pids}"
        ledger.assert_one_key(cid)
        assert checkpoint_keys(t) == _steps(CHAIN), cid


# -- 3 -----------------------------------------------------------------------------------------------


def test_killed_during_compensation_j_runs_only_the_rest(backend: Backend, tmp_path: Path) -> None:
    # d fails for good, so c, b and a are compensated, in that order: compensation j of 3 is c, b or a.
    order = ["c", "b", "a"]
    ledger = Ledger(tmp_path / "ledger.jsonl")
    plans = [
        (f"j{j}-{definition}", definition, {"fail": "d", "hang": ["compensation", order[j - 1]]})
        for j in (1, 2, 3)
        for definition in ("chain", "async-chain")
    ]
    cids = [cid for cid, _, _ in plans]
    child = Child(child_args("run", backend.url, ledger.path, extra=plans_arg(plans)))
    _hung_all(ledger, child, plans)

    before = stored(backend.url, cids)
    for cid, _, plan in plans:
        j = order.index(plan["hang"][1]) + 1
        t = before[cid]
        assert t is not None and t.record.status == RUNNING, cid
        assert checkpoint_keys(t) == _steps(CHAIN[:4]) + _compensations(order[: j - 1]), cid

    recovery = recover_all(backend.url, ledger.path, cids)
    after = stored(backend.url, cids)
    ledger.reload()
    for cid, _, plan in plans:
        j = order.index(plan["hang"][1]) + 1
        t = after[cid]
        assert t is not None and t.record.status == "COMPENSATED", cid
        assert ledger.units(cid, "compensation") == order[:j] + order[j - 1 :], cid
        for done in order[: j - 1]:
            assert [r["pid"] for r in ledger.runs(cid, "compensation", done)] == [child.pid], f"{cid} {done}"
        assert [r["pid"] for r in ledger.runs(cid, "compensation", order[j - 1])] == [child.pid, recovery.pid]
        for unit in CHAIN[:4]:
            assert ledger.count(cid, "step", unit) == 1, f"{cid}: step {unit} re-ran"
        assert ledger.count(cid, "step", "e") == 0, cid
        ledger.assert_one_key(cid)
        assert checkpoint_keys(t) == _steps(CHAIN[:4]) + _compensations(order), cid


# -- 4 -----------------------------------------------------------------------------------------------


def test_killed_right_after_execute_returned_keeps_the_result(backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    cases = [
        ("returned-ok", "chain", {}, "SUCCEEDED"),
        ("returned-failed", "async-chain", {"fail": "e"}, "COMPENSATED"),
    ]
    for cid, definition, plan, status in cases:
        child = Child(
            child_args(
                "run",
                backend.url,
                ledger.path,
                extra=[*plans_arg([(cid, definition, plan)]), "--sequential", "--kill-after-return"],
            )
        )
        assert child.finish() == KILLED, child.describe()
        t = stored(backend.url, [cid])[cid]
        assert t is not None, cid
        assert t.record.status == status, cid
        assert t.record.result is not None, cid
        assert t.record.owner is None, f"{cid}: a finished transaction keeps no lease"

    ran = len(ledger.reload().lines)
    again = Child(
        child_args(
            "run",
            backend.url,
            ledger.path,
            extra=[*plans_arg((cid, d, p) for cid, d, p, _ in cases), "--sequential"],
        )
    )
    assert again.finish() == 0, again.describe()
    assert again.reported("RESULT") == {cid: status for cid, _, _, status in cases}
    assert len(ledger.reload().lines) == ran, "executing a finished correlation id ran steps again"


# -- 5 -----------------------------------------------------------------------------------------------


def test_redis_server_restarted_mid_saga(redis_backend: Backend, tmp_path: Path) -> None:
    server = redis_backend.server
    assert server is not None
    ledger = Ledger(tmp_path / "ledger.jsonl")
    # Both pass step a, then the server dies. It stays down until "quick" has finished step b (whose
    # checkpoint then finds no server) and the run has ended, or for 2 s after b's effect if the run
    # waits for the store instead; "slow" is still in its step b when the server is back.
    plans = [
        ("slow", "async-chain", {"delay": {"b": 3.0}}),
        ("quick", "chain", {"delay": {"b": 0.5}}),
    ]
    cids = [cid for cid, _, _ in plans]
    child = Child(child_args("run", redis_backend.url, ledger.path, extra=plans_arg(plans)))
    watch = StoreWatch(redis_backend.url)
    try:
        wait_until(
            lambda: all(_has_checkpoint(watch.get(cid), "step/a") for cid in cids), "step a of both", child
        )
    finally:
        watch.close()
    server.kill()
    wait_until(lambda: ledger.has("quick", "step", "b", pid=child.pid), "step b of quick", child)
    effect_at = time.monotonic()
    while not (child.printed("RESULT quick ") or child.printed("ERROR quick ")):
        if time.monotonic() - effect_at > 2.0:
            break
        time.sleep(0.01)
    server.start()
    assert child.finish() == 0, child.describe()
    outcome = {**child.reported("ERROR"), **child.reported("RESULT")}
    assert set(outcome) == set(cids), child.describe()

    after = stored(redis_backend.url, cids)
    for cid in cids:
        t = after[cid]
        if outcome[cid] == "SUCCEEDED" or (t is not None and t.record.status == "SUCCEEDED"):
            assert t is not None and t.record.status == "SUCCEEDED", f"{cid} reported {outcome[cid]}: {t}"
            assert checkpoint_keys(t) == _steps(CHAIN), f"{cid} SUCCEEDED without all its checkpoints"

    # Whatever the restart left unfinished, a recovery finishes. The end agrees with what happened
    # outside: a success has every step checkpoint and undid nothing, and every compensation that
    # ran is recorded.
    unfinished = [cid for cid, t in after.items() if t is not None and not t.record.finished]
    if unfinished:
        recover_all(redis_backend.url, ledger.path, unfinished)
    final = stored(redis_backend.url, cids)
    ledger.reload()
    for cid in cids:
        t = final[cid]
        if t is None:
            assert outcome[cid] != "SUCCEEDED", cid
            continue
        assert t.record.finished, cid
        ran = ledger.units(cid, "compensation")
        if t.record.status == "SUCCEEDED":
            assert checkpoint_keys(t) == _steps(CHAIN), f"{cid} SUCCEEDED without all its checkpoints"
            assert ran == [], (
                f"{cid} ended SUCCEEDED, yet compensations {ran} undid its steps: {ledger.lines}"
            )
        recorded = {c.unit_id for c in t.checkpoints if c.phase == "compensation"}
        assert set(ran) == recorded, f"{cid}: compensations ran {ran}, recorded {sorted(recorded)}"
        ledger.assert_one_key(cid)


# -- 6 -----------------------------------------------------------------------------------------------


def test_two_recoverers_on_fifty_orphans_run_each_step_once(backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    plans: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(50):
        plan: dict[str, Any] = {"hang": ["step", ("b", "c", "d")[i % 3]]}
        if i % 5 == 0:
            plan["fail"] = "e"
        plans.append((f"orphan{i:02d}", "chain" if i % 2 else "async-chain", plan))
    cids = [cid for cid, _, _ in plans]
    child = Child(child_args("run", backend.url, ledger.path, extra=plans_arg(plans)))
    _hung_all(ledger, child, plans)

    # The recoverers' own leases are long: only the dead owner's lease may run out.
    recoverers = [
        Child(
            child_args(
                "recover", backend.url, ledger.path, lease=10.0, extra=["--cids", ",".join(cids), "--gate"]
            ),
            stdin=True,
        )
        for _ in range(2)
    ]
    for r in recoverers:
        r.wait_line("READY")
    for r in recoverers:
        r.send("go")
    for r in recoverers:
        assert r.finish() == 0, r.describe()

    after = stored(backend.url, cids)
    ledger.reload()
    pids = [r.pid for r in recoverers]
    for cid, _, plan in plans:
        failing = "fail" in plan
        t = after[cid]
        assert t is not None and t.record.status == ("COMPENSATED" if failing else "SUCCEEDED"), cid
        hung = plan["hang"][1]
        for phase, unit in {*ledger.counts(cid)}:
            n = ledger.count(cid, phase, unit, pids=pids)
            assert n <= 1, f"{cid}: {phase} {unit} ran {n} times after the crash"
        assert ledger.count(cid, "step", hung, pids=pids) == 1, (
            f"{cid}: the step killed in flight did not re-run"
        )
        assert ledger.count(cid, "step", hung, pids=[child.pid]) == 1, cid
        undone = ["d", "c", "b", "a"] if failing else []
        assert checkpoint_keys(t) == _steps(CHAIN) + _compensations(undone), cid
        ledger.assert_one_key(cid)


# -- 7 -----------------------------------------------------------------------------------------------


def test_tcc_killed_in_phase_two_finishes_with_the_recorded_decision(
    backend: Backend, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    plans = [
        ("confirming", "three-party", {"hang": ["confirm", "p1"]}),
        # p3's try fails: p3 is cancelled first (with None), then p2, where the kill comes, then p1.
        ("canceling", "three-party", {"fail": "p3", "hang": ["cancel", "p2"]}),
    ]
    cids = [cid for cid, _, _ in plans]
    child = Child(child_args("run", backend.url, ledger.path, engine="tcc", extra=plans_arg(plans)))
    _hung_all(ledger, child, plans)

    before = stored(backend.url, cids)
    decisions = {}
    for cid in cids:
        t = before[cid]
        assert t is not None and t.record.status == RUNNING, cid
        assert t.record.decision is not None, f"{cid}: phase two began without a recorded decision"
        decisions[cid] = t.record.decision
        tried = [f"try/{p}" for p in PARTICIPANTS]
        assert checkpoint_keys(t) == (tried if cid == "confirming" else [*tried, "cancel/p3"]), cid
    assert decisions["confirming"] != decisions["canceling"]

    recovery = recover_all(backend.url, ledger.path, cids, engine="tcc")
    after = stored(backend.url, cids)
    ledger.reload()
    for cid in cids:
        t = after[cid]
        assert t is not None
        assert t.record.decision == decisions[cid], f"{cid}: the decision changed in recovery"
        for p in PARTICIPANTS:
            assert ledger.count(cid, "try", p) == 1, f"{cid}: try of {p} re-ran"
        ledger.assert_one_key(cid)

    confirming = after["confirming"]
    assert confirming is not None and confirming.record.status == "CONFIRMED"
    assert recovery.reported("RESULT").get("confirming") == "CONFIRMED"
    assert ledger.units("confirming", "confirm") == ["p1", "p1", "p2", "p3"]
    assert [r["pid"] for r in ledger.runs("confirming", "confirm", "p1")] == [child.pid, recovery.pid]
    assert ledger.units("confirming", "cancel") == []
    assert checkpoint_keys(confirming) == [f"try/{p}" for p in PARTICIPANTS] + [
        f"confirm/{p}" for p in PARTICIPANTS
    ]

    canceling = after["canceling"]
    assert canceling is not None and canceling.record.status == "CANCELED"
    assert recovery.reported("RESULT").get("canceling") == "CANCELED"
    assert ledger.units("canceling", "cancel") == ["p3", "p2", "p2", "p1"]
    assert [r["pid"] for r in ledger.runs("canceling", "cancel", "p2")] == [child.pid, recovery.pid]
    assert ledger.units("canceling", "confirm") == []
    assert checkpoint_keys(canceling) == [f"try/{p}" for p in PARTICIPANTS] + [
        "cancel/p3",
        "cancel/p2",
        "cancel/p1",
    ]


# -- 9 -----------------------------------------------------------------------------------------------


def test_paused_owner_that_lost_its_lease_changes_nothing(backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    cid = "paused"
    child = Child(
        child_args("run", backend.url, ledger.path, extra=plans_arg([(cid, "chain", {"delay": {"b": 1.0}})]))
    )
    watch = StoreWatch(backend.url)
    try:
        # Frozen (a long GC pause, a suspended VM) while b runs, until another process took over.
        wait_until(lambda: _has_checkpoint(watch.get(cid), "step/a"), "the checkpoint of a", child)
        os.kill(child.pid, signal.SIGSTOP)
        recovery = recover_all(backend.url, ledger.path, [cid])
        taken = watch.get(cid)
    finally:
        watch.close()
        os.kill(child.pid, signal.SIGCONT)
    assert child.finish() == 0, child.describe()

    assert taken is not None and taken.record.status == "SUCCEEDED"
    t = stored(backend.url, [cid])[cid]
    assert t is not None and t.record.status == "SUCCEEDED"
    assert t.checkpoints == taken.checkpoints, "the paused owner changed the store after losing its lease"
    ledger.reload()
    assert ledger.units(cid, "compensation") == [], (
        f"the paused owner undid steps of a saga another process finished: {ledger.lines}"
    )
    # a ran before the pause; the recoverer ran b to e. b was in flight when the owner froze, so
    # the thawed owner may finish it once more (with the same key): nothing can stop a call that runs.
    for unit in CHAIN:
        pids = [r["pid"] for r in ledger.runs(cid, "step", unit)]
        if unit == "a":
            assert pids == [child.pid], f"step a ran in {pids}"
        else:
            assert pids.count(recovery.pid) == 1, f"step {unit} ran in {pids}"
            assert len(pids) == (2 if unit == "b" and child.pid in pids else 1), f"step {unit} ran in {pids}"
    ledger.assert_one_key(cid)


def _has_checkpoint(t: StoredTransaction | None, key: str) -> bool:
    return t is not None and key in checkpoint_keys(t)


# -- 8 -----------------------------------------------------------------------------------------------

STEP_S = 0.3
"""One step of the crash loop: half before its ledger line, half after."""
KILLS = 30


def _taken_over(t: StoredTransaction | None, times: int) -> bool:
    return t is not None and (t.record.recovery_attempts >= times or t.record.finished)


@pytest.mark.timeout(600)
def test_crash_loop_of_thirty_kills_ends_final_without_extra_runs(backend: Backend, tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    ledger = Ledger(tmp_path / "ledger.jsonl")
    cid = "loop"
    plan = {"delay": {u: STEP_S / 2 for u in TEN}, "linger": {u: STEP_S / 2 for u in TEN}}
    many = 10 * KILLS  # no takeover limit in reach: this scenario is about re-runs, not DEAD
    killed: list[int] = []
    run = child_args(
        "run", backend.url, ledger.path, max_recoveries=many, extra=plans_arg([(cid, "ten", plan)])
    )
    recover = child_args(
        "recover", backend.url, ledger.path, max_recoveries=many, extra=["--cids", cid, "--gate"]
    )
    watch = StoreWatch(backend.url)
    try:
        child = Child(run)
        child.wait_line("READY")
        for i in range(KILLS):
            # The next recoverer starts its JVM while this child runs, and waits at its gate.
            following = Child(recover, stdin=True) if i < KILLS - 1 else None
            if i > 0:
                # Count from the takeover: each kill then falls on the running saga.
                wait_until(lambda n=i: _taken_over(watch.get(cid), n), f"takeover {i}", child)
            # Kill within the step in flight, unless the saga is behind a schedule that spreads the
            # 30 kills over its 10 steps: then let it finish a step or two first.
            reached = max((TEN.index(line["unit"]) for line in ledger.reload().lines), default=-1)
            behind = reached < i * len(TEN) // KILLS
            time.sleep((rng.uniform(1.0, 2.5) if behind else rng.uniform(0.0, 1.0)) * STEP_S)
            child.kill()
            killed.append(child.pid)
            if following is not None:
                following.wait_line("READY")
                following.send("go")
                child = following
    finally:
        watch.close()

    final = recover_all(backend.url, ledger.path, [cid], max_recoveries=many)
    t = stored(backend.url, [cid])[cid]
    ledger.reload()
    context = f"(seed {seed}, ledger {ledger.lines})"
    assert t is not None and t.record.status == "SUCCEEDED", context
    assert checkpoint_keys(t) == _steps(TEN), context
    hits: dict[str, int] = dict.fromkeys(TEN, 0)
    for pid in killed:
        last = [line["unit"] for line in ledger.lines if line["pid"] == pid]
        if last:
            hits[last[-1]] += 1
    for unit in TEN:
        runs = ledger.count(cid, "step", unit)
        assert 1 <= runs <= hits[unit] + 1, (
            f"step {unit} ran {runs} times, {hits[unit]} kills hit it {context}"
        )
    ledger.assert_one_key(cid)
    assert final.reported("FINAL") == {cid: "SUCCEEDED"}
