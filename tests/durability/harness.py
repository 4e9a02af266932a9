"""The parent side of the crash matrix: child processes, SIGKILL, the ledger and the store.

Waits are guards against a hang, never measurements: each has a generous limit and, when it is
reached, fails with what the child printed so far.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from crash_sagas import read_ledger
from valkey_server import ValkeyProcess

from fireflytx.persistence import StoredTransaction, open_store

CHILD = Path(__file__).with_name("crash_child.py")
GUARD_S = 90.0


@dataclass(frozen=True)
class Backend:
    """Where a scenario's store lives; ``server`` is the Redis server (None for SQLite)."""

    kind: str
    url: str
    server: ValkeyProcess | None = None


STARTED: list[Child] = []
"""Every child started, so that a failed test leaves none running (see ``kill_leftovers``)."""


def kill_leftovers() -> None:
    """SIGKILL every child still running (frozen ones too) and forget them all."""
    while STARTED:
        child = STARTED.pop()
        if child.process.poll() is None:
            child.kill()


@dataclass
class Child:
    """A ``crash_child.py`` process whose output is collected as it comes."""

    args: list[str]
    stdin: bool = False
    process: subprocess.Popen[str] = field(init=False)
    lines: list[str] = field(default_factory=list, init=False)
    """Every line printed so far (appended by a reader thread)."""
    _cursor: int = field(default=0, init=False)
    _stderr: list[str] = field(default_factory=list, init=False)
    _pumps: list[threading.Thread] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), *self.args],
            stdin=subprocess.PIPE if self.stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self.lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, self._stderr), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()
        STARTED.append(self)

    @staticmethod
    def _pump(stream: IO[str], into: list[str]) -> None:
        with stream:
            for line in stream:
                into.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ended(self) -> bool:
        """The child exited and everything it printed has been read."""
        return not self._pumps[0].is_alive()

    def describe(self) -> str:
        err = "\n".join(self._stderr)[-3000:]
        head = f"child {self.args[0]} pid {self.pid} rc={self.process.poll()}"
        return f"{head}\nstdout: {self.lines}\nstderr: {err}"

    def printed(self, prefix: str) -> bool:
        """Whether the child printed a line starting with ``prefix`` so far."""
        return any(line.startswith(prefix) for line in list(self.lines))

    def wait_line(self, prefix: str, guard: float = GUARD_S) -> str:
        """The next line (after the last one this returned) that starts with ``prefix``."""
        deadline = time.monotonic() + guard
        while True:
            ended = self.ended
            while self._cursor < len(self.lines):
                line = self.lines[self._cursor]
                self._cursor += 1
                if line.startswith(prefix):
                    return line
            if ended:
                self.process.wait(timeout=30)
                raise AssertionError(f"the child ended before printing {prefix!r}\n{self.describe()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {prefix!r} line within {guard} s\n{self.describe()}")
            time.sleep(0.01)

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        """SIGKILL the child and reap it."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._close()

    def finish(self, guard: float = GUARD_S) -> int:
        """Wait for the child to end by itself; returns its exit code."""
        try:
            self.process.wait(timeout=guard)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the child did not end within {guard} s\n{self.describe()}") from None
        self._close()
        return self.process.returncode

    def _close(self) -> None:
        """Read what the ended child printed to the end and close its pipes."""
        for pump in self._pumps:
            pump.join(timeout=30)
        if self.process.stdin is not None:
            self.process.stdin.close()

    def reported(self, tag: str) -> dict[str, str]:
        """``{cid: status}`` from the child's ``TAG cid status`` lines (the last one wins)."""
        found: dict[str, str] = {}
        for line in self.lines:
            parts = line.split(" ", 2)
            if parts[0] == tag and len(parts) == 3:
                found[parts[1]] = parts[2]
        return found


def child_args(
    mode: str,
    url: str,
    ledger: Path,
    *,
    engine: str = "saga",
    lease: float = 0.5,
    max_recoveries: int = 5,
    extra: Sequence[str] = (),
) -> list[str]:
    return [
        mode,
        "--url", url,
        "--ledger", str(ledger),
        "--engine", engine,
        "--lease", str(lease),
        "--max-recoveries", str(max_recoveries),
        *extra,
    ]  # fmt: skip


def plans_arg(plans: Iterable[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """``--plans`` for (correlation id, definition name, plan) triples."""
    return ["--plans", json.dumps([{"cid": c, "definition": d, "plan": p} for c, d, p in plans])]


def wait_until(
    condition: Callable[[], bool], what: str, child: Child | None = None, guard: float = GUARD_S
) -> None:
    """Poll ``condition`` until true; fail (with the child's output) if the guard runs out."""
    deadline = time.monotonic() + guard
    while not condition():
        if child is not None and child.process.poll() is not None:
            child._close()
            raise AssertionError(f"the child ended while waiting for {what}\n{child.describe()}")
        if time.monotonic() > deadline:
            detail = child.describe() if child is not None else ""
            raise AssertionError(f"{what}: not reached within {guard} s\n{detail}")
        time.sleep(0.01)


def recover_all(
    url: str,
    ledger: Path,
    cids: Sequence[str],
    *,
    engine: str = "saga",
    lease: float = 0.5,
    max_recoveries: int = 5,
) -> Child:
    """Run one recovery process until every transaction of ``cids`` is final in the store."""
    child = Child(
        child_args("recover", url, ledger, engine=engine, lease=lease, max_recoveries=max_recoveries,
                   extra=["--cids", ",".join(cids)])
    )  # fmt: skip
    rc = child.finish()
    assert rc == 0, f"recovery did not bring every transaction to a final status\n{child.describe()}"
    return child


# -- the store -------------------------------------------------------------------------------------


def stored(url: str, cids: Iterable[str]) -> dict[str, StoredTransaction | None]:
    """What the store holds for each correlation id (read in this process, after the children)."""

    async def read() -> dict[str, StoredTransaction | None]:
        store = await open_store(url)
        try:
            return {cid: await store.get(cid) for cid in cids}
        finally:
            await store.close()

    return asyncio.run(read())


class StoreWatch:
    """A store the test keeps open to look at one transaction while children run it."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._store = self._loop.run_until_complete(open_store(url))

    def get(self, cid: str) -> StoredTransaction | None:
        return self._loop.run_until_complete(self._store.get(cid))

    def close(self) -> None:
        self._loop.run_until_complete(self._store.close())
        self._loop.close()


def checkpoint_keys(transaction: StoredTransaction) -> list[str]:
    return [c.key for c in transaction.checkpoints]


# -- the ledger ------------------------------------------------------------------------------------


class Ledger:
    """The effects ledger of one test, read after the children ran."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[dict[str, Any]] = []

    def reload(self) -> Ledger:
        self.lines = read_ledger(self.path)
        return self

    def runs(
        self, cid: str, phase: str, unit: str, *, pids: Iterable[int] | None = None
    ) -> list[dict[str, Any]]:
        wanted = None if pids is None else set(pids)
        return [
            line
            for line in self.lines
            if (line["cid"], line["phase"], line["unit"]) == (cid, phase, unit)
            and (wanted is None or line["pid"] in wanted)
        ]

    def count(self, cid: str, phase: str, unit: str, *, pids: Iterable[int] | None = None) -> int:
        return len(self.runs(cid, phase, unit, pids=pids))

    def units(self, cid: str, phase: str) -> list[str]:
        """The units of ``phase`` in the order they ran (repeats included)."""
        return [line["unit"] for line in self.lines if line["cid"] == cid and line["phase"] == phase]

    def has(self, cid: str, phase: str, unit: str, pid: int) -> bool:
        return self.reload().count(cid, phase, unit, pids=[pid]) > 0

    def counts(self, cid: str) -> Counter[tuple[str, str]]:
        return Counter((line["phase"], line["unit"]) for line in self.lines if line["cid"] == cid)

    def assert_one_key(self, cid: str) -> None:
        """Every run of a unit used the key ``<cid>:<phase>:<unit>``, and attempts count up from 1."""
        seen: Counter[tuple[str, str]] = Counter()
        for line in self.lines:
            if line["cid"] != cid:
                continue
            phase, unit = line["phase"], line["unit"]
            seen[(phase, unit)] += 1
            assert line["key"] == f"{cid}:{phase}:{unit}", (
                f"{cid} {phase} {unit} ran with key {line['key']!r}"
            )
            assert line["attempt"] == seen[(phase, unit)], line
