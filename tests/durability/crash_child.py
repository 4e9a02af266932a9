"""One process of the crash matrix: ``python crash_child.py run|recover [options]``.

``run`` starts an engine on the given store and runs the transactions of ``--plans`` (a JSON list
of ``{"cid", "definition", "plan"}``), all at once, printing ``RESULT cid status`` as each ends.
Plans with a ``hang`` point block there until the test kills this process. ``--sequential`` runs
them one after another with ``execute_sync`` instead, and ``--kill-after-return`` makes the
process SIGKILL itself the moment the last ``execute_sync`` returned. ``--crash-after PHASE:UNIT``
installs ``fireflytx.testing.crash_after``.

``recover`` starts an engine, prints ``READY`` (and with ``--gate`` waits for a line on stdin, so
that several recoverers start together), then calls ``recover()`` until every id of ``--cids`` is
final in the store, printing ``RESULT cid status`` for each transaction a call resumed and
``FINAL cid status`` at the end. It exits 3 if that takes longer than ``--guard`` seconds.

Both print ``READY`` once the engine is up; a test that kills at a random moment counts from there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from crash_sagas import SAGAS, TCCS, configure

from fireflytx import SagaEngine, TccEngine
from fireflytx.config import FireflyTxSettings, JvmConfig, PersistenceConfig
from fireflytx.persistence import open_store


def _say(text: str) -> None:
    os.write(1, (text + "\n").encode())


def _settings(args: argparse.Namespace) -> FireflyTxSettings:
    persistence = PersistenceConfig(url=args.url, lease_s=args.lease, max_recoveries=args.max_recoveries)
    # C1 only: a child's JVM starts ~0.4 s sooner, and the matrix starts dozens of them.
    jvm = JvmConfig(options=("-XX:TieredStopAtLevel=1",))
    return FireflyTxSettings(persistence=persistence, jvm=jvm, sync_step_threads=64)


def _engine(args: argparse.Namespace) -> SagaEngine | TccEngine:
    return SagaEngine(_settings(args)) if args.engine == "saga" else TccEngine(_settings(args))


def _definitions(args: argparse.Namespace) -> dict[str, Any]:
    return dict(SAGAS) if args.engine == "saga" else dict(TCCS)


def _status(result: Any) -> str:
    return str(getattr(result.status, "value", result.status))


def _crash_after(engine: Any, spec: str | None) -> None:
    if spec is not None:
        from fireflytx.testing import crash_after

        phase, unit = spec.split(":")
        crash_after(engine, unit, phase=phase)


async def run(args: argparse.Namespace) -> None:
    plans = json.loads(args.plans)
    definitions = _definitions(args)
    async with _engine(args) as engine:
        for definition in definitions.values():
            engine.register(definition)
        _crash_after(engine, args.crash_after)
        _say("READY")

        async def one(item: dict[str, Any]) -> None:
            cls = definitions[item["definition"]]
            try:
                result = await engine.execute(cls, item["plan"], correlation_id=item["cid"])
            except (Exception, asyncio.CancelledError) as error:  # reported: the test judges it
                _say(f"ERROR {item['cid']} {type(error).__name__}: {error}".replace("\n", " "))
            else:
                _say(f"RESULT {item['cid']} {_status(result)}")

        await asyncio.gather(*(one(item) for item in plans))
    _say("DONE")


def run_sequential(args: argparse.Namespace) -> None:
    plans = json.loads(args.plans)
    definitions = _definitions(args)
    with _engine(args) as engine:
        for definition in definitions.values():
            engine.register(definition)
        _say("READY")
        for i, item in enumerate(plans):
            cls = definitions[item["definition"]]
            result = engine.execute_sync(cls, item["plan"], correlation_id=item["cid"])
            if args.kill_after_return and i == len(plans) - 1:
                os.kill(os.getpid(), signal.SIGKILL)
            _say(f"RESULT {item['cid']} {_status(result)}")
    _say("DONE")


async def recover(args: argparse.Namespace) -> int:
    cids = [cid for cid in args.cids.split(",") if cid]
    store = await open_store(args.url)
    try:
        async with _engine(args) as engine:
            for definition in _definitions(args).values():
                engine.register(definition)
            _say("READY")
            if args.gate:
                await asyncio.to_thread(sys.stdin.readline)
            deadline = time.monotonic() + args.guard
            while True:
                for result in await engine.recover():
                    _say(f"RESULT {result.correlation_id} {_status(result)}")
                stored = {cid: await store.get(cid) for cid in cids}
                if all(s is not None and s.record.finished for s in stored.values()):
                    break
                if time.monotonic() > deadline:
                    pending = {cid: (s.record.status if s else None) for cid, s in stored.items()}
                    pending = {
                        cid: st for cid, st in pending.items() if st is None or st in ("RUNNING", "DEAD")
                    }
                    print(f"not final after {args.guard} s: {pending}", file=sys.stderr, flush=True)
                    return 3
                await asyncio.sleep(0.05)
            for cid, s in stored.items():
                assert s is not None
                _say(f"FINAL {cid} {s.record.status}")
    finally:
        await store.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "recover"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--ledger", required=True, type=Path)
    parser.add_argument("--engine", choices=["saga", "tcc"], default="saga")
    parser.add_argument("--lease", type=float, default=0.5)
    parser.add_argument("--max-recoveries", type=int, default=5)
    parser.add_argument("--plans", default="[]")
    parser.add_argument("--crash-after")
    parser.add_argument("--sequential", action="store_true")
    parser.add_argument("--kill-after-return", action="store_true")
    parser.add_argument("--cids", default="")
    parser.add_argument("--gate", action="store_true")
    parser.add_argument("--guard", type=float, default=90.0)
    args = parser.parse_args()
    configure(args.ledger, hang=args.mode == "run")
    if args.mode == "recover":
        return asyncio.run(recover(args))
    if args.sequential:
        run_sequential(args)
    else:
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
