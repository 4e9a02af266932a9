"""One system, one group of cases, in a fresh process: ``python -m benchmarks._worker``.

``__main__`` runs every system in its own process so that neither memory figures nor background
threads of one system leak into another's numbers; memory and leak cases get a process of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from . import _calls, _drivers, _durable, _events, _split
from ._drivers import log, rss_mb
from ._plan import MODULES, Sizes, sizes


async def _guarded(
    rows: list[dict[str, Any]], case: str, name: str, body: Callable[[], Awaitable[Any]]
) -> None:
    """Run one measurement; a failure becomes an ``error`` row instead of ending the suite."""
    try:
        row = await body()
    except Exception as exc:
        traceback.print_exc()
        row = {"name": name, "error": f"{type(exc).__name__}: {exc}"[:300]}
    row["case"] = case
    rows.append(row)
    log(f"  {row['name']}: {_brief(row)}")


def _brief(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"ERROR {row['error']}"
    if "unavailable" in row:
        return row["unavailable"]
    if row["case"] == "chain":
        return f"{row['us_per_step']['median']:.1f} µs/step, {row['sagas_per_s']:,.0f} sagas/s"
    if row["case"] == "calls":
        java = (
            f", {row['into_java_per_saga']:.1f} calls into Java, {row['from_java_per_saga']:.1f} from Java"
            if "into_java_per_saga" in row
            else ""
        )
        return f"{row['python_calls_per_saga']:.0f} Python calls per saga{java}"
    if row["case"] == "events":
        return (
            f"{row['sagas_per_s']:,.0f} sagas/s with events, {row['events_off_sagas_per_s']:,.0f} without: "
            f"{row['ratio']:.0%} (Kafka alone {row['alone_ratio']:.0%}, run events with fixed messages "
            f"{row['floor_ratio']:.0%}); "
            f"publisher {row['publisher']}; CPU µs/saga on "
            + ", ".join(f"{k} {v:.0f}" for k, v in row["cpu_us_per_saga_on_by"].items())
            + "; off "
            + ", ".join(f"{k} {v:.0f}" for k, v in row["cpu_us_per_saga_off_by"].items())
        )
    if row["case"] == "durable":
        if "orphans" in row:
            seconds, rate = row["seconds"], row["sagas_per_s"]
            return f"{row['orphans']:,} orphans recovered in {seconds:.2f} s ({rate:,.0f}/s)"
        ratio = f", {row['ratio_to_memory']:.0%} of in-memory" if "ratio_to_memory" in row else ""
        rounds = ", ".join(f"{r:,.0f}" for r in row["rounds"])
        return f"{row['sagas_per_s']:,.0f} sagas/s (rounds {rounds}){ratio}"
    if row["case"] == "split":
        inside = f"{row['java_us_per_saga']:.1f} inside {row['calls_per_saga']:.1f} Java calls"
        jpype = f"JPype {row['empty_call_us']:.2f} µs each"
        python = f"{row['python_us_per_saga']:.1f} in Python"
        return f"{row['us_per_saga']:.1f} µs/saga: {inside} ({jpype}), {python}"
    if "sagas_per_s" in row and "latency_ms" in row:
        lat = row["latency_ms"]
        return f"{row['sagas_per_s']:,.0f} sagas/s, p50 {lat['median']:.2f} ms, p99 {lat['p99']:.2f} ms"
    return json.dumps({k: v for k, v in row.items() if not isinstance(v, list | dict)})


async def perf(system: Any, cases: set[str], plan: Sizes) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    log(f"[{system.name}] warm-up: {plan.warmup} diamonds")
    await _drivers.warm(system.diamond(False), plan.warmup, 10)
    await _drivers.warm(system.diamond(True), plan.warmup // 5, 10)
    if "chain" in cases:
        for length, runs in plan.chain_runs.items():
            for use_async in (True, False):
                name = f"chain-{length}-{'async' if use_async else 'sync'}"
                run = system.chain(length, use_async)
                await _guarded(
                    rows,
                    "chain",
                    name,
                    lambda name=name, run=run, length=length, runs=runs: _drivers.sequential(
                        name, run, length, runs, max(3, runs // 3)
                    ),
                )
    if "throughput" in cases:
        run = system.diamond(False)
        for concurrency in plan.concurrencies:
            await _throughput(rows, "throughput", f"diamond-c{concurrency}", run, concurrency, plan)
    if "failure" in cases:
        run = system.diamond(True)
        try:
            await system.check_failing_diamond()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            rows.append({"case": "failure", "name": "diamond-failing", "error": error})
        else:
            for concurrency in plan.failure_concurrencies:
                await _throughput(rows, "failure", f"diamond-failing-c{concurrency}", run, concurrency, plan)
    if "tcc" in cases:
        for cancel in (False, True):
            kind = "canceled" if cancel else "confirmed"
            tcc = system.tcc(cancel)
            if isinstance(tcc, str):
                for concurrency in plan.tcc_concurrencies:
                    rows.append({"case": "tcc", "name": f"tcc-{kind}-c{concurrency}", "unavailable": tcc})
                continue
            for concurrency in plan.tcc_concurrencies:
                await _throughput(rows, "tcc", f"tcc-{kind}-c{concurrency}", tcc, concurrency, plan)
    if "calls" in cases and system.name == "dbos":
        unavailable = "counted for fireflytx and the floor only"
        rows.append({"case": "calls", "name": "calls", "unavailable": unavailable})
    elif "calls" in cases:
        crossings = getattr(system, "crossings", None)
        for name, run, concurrency in _calls.shapes(system):
            await _guarded(
                rows,
                "calls",
                name,
                lambda name=name, run=run, c=concurrency: _calls.count(name, run, c, crossings),
            )
    if "split" in cases and not hasattr(system, "timed_java"):
        rows.append({"case": "split", "name": "split", "unavailable": "fireflytx only"})
    elif "split" in cases:
        for name, run, sagas in _split.shapes(system):
            await _guarded(
                rows, "split", name, lambda name=name, run=run, n=sagas: _split.measure(name, run, n, system)
            )
    if "events" in cases:
        make_on = getattr(system, "diamond_on", None)
        if make_on is None:
            rows.append({"case": "events", "name": "diamond-c100-events", "unavailable": "fireflytx only"})
        else:
            await _guarded(
                rows,
                "events",
                "diamond-c100-events",
                lambda: _events.measure(
                    system.diamond(False), make_on, plan.per_round, max(plan.rounds, 3), plan.per_round // 5
                ),
            )
    if "durable" in cases:
        make_on = getattr(system, "diamond_on", None)
        if make_on is None:
            names = (*_durable.RATE_NAMES, *_durable.RECOVERY_NAMES)
            rows.extend({"case": "durable", "name": name, "unavailable": "fireflytx only"} for name in names)
        else:
            per_round = plan.durable_per_round
            measured = await _durable.measure(
                system.diamond(False), make_on, per_round, plan.durable_rounds, per_round // 2, plan.orphans
            )
            for row in measured:
                row["case"] = "durable"
                rows.append(row)
                log(f"  {row['name']}: {_brief(row)}")
    return rows


async def _throughput(
    rows: list[dict[str, Any]], case: str, name: str, run: Any, concurrency: int, plan: Sizes
) -> None:
    total = max(plan.per_round, 10 * concurrency)
    warmup = max(concurrency * 2, plan.per_round // 10)
    await _guarded(
        rows, case, name, lambda: _drivers.throughput(name, run, concurrency, total, plan.rounds, warmup)
    )


async def memory(system: Any, plan: Sizes, rss_bare: float, rss_imported: float) -> list[dict[str, Any]]:
    rss_started = rss_mb()
    row: dict[str, Any] = {"name": "memory", "in_flight_count": plan.in_flight}

    async def body() -> dict[str, Any]:
        held = await _drivers.in_flight_memory(system, plan.in_flight, min(plan.warmup, 2000))
        return {
            **row,
            "rss_mb": {"bare": rss_bare, "imported": rss_imported, "started": rss_started, **held},
            **_extra(system),
        }

    rows: list[dict[str, Any]] = []
    await _guarded(rows, "memory", "memory", body)
    return rows


async def leak(system: Any, plan: Sizes) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not plan.leak_sagas:
        return [{"case": "leak", "name": "leak", "unavailable": "not measured (too slow for 100,000 sagas)"}]
    await _guarded(
        rows,
        "leak",
        "leak",
        lambda: _drivers.leak(system, plan.leak_sagas, plan.leak_warmup, 100, 10, lambda: _extra(system)),
    )
    return rows


def _extra(system: Any) -> dict[str, Any]:
    probe = getattr(system, "probe", None)
    return probe() if probe is not None else {}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    rss_bare = rss_mb()
    module = importlib.import_module(f"benchmarks.{MODULES[args.system]}")
    system = module.create()
    rss_imported = rss_mb()
    plan = sizes(args.system, args.quick)
    log(f"[{args.system}] {args.group}: starting")
    await system.start()
    info: dict[str, Any] = {}
    try:
        info = getattr(system, "info", dict)()
        if args.group == "perf":
            rows = await perf(system, set(args.cases.split(",")), plan)
        elif args.group == "memory":
            await asyncio.sleep(0.5)
            rows = await memory(system, plan, rss_bare, rss_imported)
        else:
            rows = await leak(system, plan)
    finally:
        await system.stop()
    for row in rows:
        row["system"] = args.system
    return {"rows": rows, "info": info, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--system", required=True, choices=sorted(MODULES))
    parser.add_argument("--group", required=True, choices=("perf", "memory", "leak"))
    parser.add_argument("--cases", default="chain,throughput,failure,tcc")
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    with open(args.out, "w") as out:
        json.dump(report, out)


if __name__ == "__main__":
    main()
