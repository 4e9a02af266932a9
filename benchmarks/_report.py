"""The Markdown report: machine, targets (computed from the numbers), and one table per case."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PEERS = (("asyncio-floor", "asyncio floor"), ("dbos", "DBOS"))
LEAK_TOLERANCE_MB = 5.0  # RSS noise allowed across 100,000 sagas (allocator and heap bookkeeping)


def _find(rows: list[dict[str, Any]], system: str, name: str) -> dict[str, Any] | None:
    for row in rows:
        if row.get("system") == system and row.get("name") == name:
            return row
    return None


def _failed(row: dict[str, Any] | None) -> str | None:
    if row is None:
        return "—"
    if "error" in row:
        return f"error: {row['error']}"
    if "unavailable" in row:
        return str(row["unavailable"])
    return None


def _num(value: float, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(ours: dict[str, Any] | None, peer: dict[str, Any] | None) -> str:
    if _failed(ours) or _failed(peer):
        return "—"
    assert ours is not None and peer is not None
    ratio = ours["sagas_per_s"] / peer["sagas_per_s"]
    return f"{ratio:.2g}×" if ratio < 10 else f"{ratio:,.0f}×"


def _rate(row: dict[str, Any] | None) -> str:
    return _failed(row) or _num(row["sagas_per_s"])  # type: ignore[index]


def _cpu(row: dict[str, Any] | None) -> str:
    if _failed(row) or row is None or "cpu_us_per_saga" not in row:
        return "—"
    return f"{row['cpu_us_per_saga']:,.0f}"


def _latency(row: dict[str, Any] | None) -> str:
    if _failed(row):
        return "—"
    assert row is not None
    lat = row["latency_ms"]
    return f"{lat['median']:.2f} / {lat['p99']:.2f}"


# -- targets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    text: str
    check: Callable[[list[dict[str, Any]]], tuple[str, bool | None]]


def _per_step(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
    row = _find(rows, "fireflytx", "chain-50-async")
    if _failed(row):
        return _failed(row) or "", None
    assert row is not None
    median = row["us_per_step"]["median"]
    text = f"{median:.1f} µs/step (chain-50-async median, whole saga ÷ 50)"
    marginal = _marginal(rows, "fireflytx", "async")
    if marginal is not None:
        text += f"; marginal {marginal:.1f} µs per added step"
    return text, median <= 25


def _marginal(rows: list[dict[str, Any]], system: str, kind: str) -> float | None:
    """µs each added step costs: (median latency of chain-50 − chain-1) ÷ 49."""
    short, long = _find(rows, system, f"chain-1-{kind}"), _find(rows, system, f"chain-50-{kind}")
    if _failed(short) or _failed(long):
        return None
    assert short is not None and long is not None
    return (long["latency_ms"]["median"] - short["latency_ms"]["median"]) * 1e3 / 49


def _throughput(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
    row = _find(rows, "fireflytx", "diamond-c100")
    if _failed(row):
        return _failed(row) or "", None
    assert row is not None
    return f"{row['sagas_per_s']:,.0f} diamond sagas/s at concurrency 100", row["sagas_per_s"] >= 10_000


def _cold(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
    row = _find(rows, "fireflytx", "cold-start")
    if _failed(row):
        return _failed(row) or "", None
    assert row is not None
    wall = row["wall_ms"]["median"]
    return f"{wall / 1e3:.2f} s to the first saga result (median of {row['runs']})", wall <= 1500


def _rss(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
    row = _find(rows, "fireflytx", "memory")
    if _failed(row):
        return _failed(row) or "", None
    assert row is not None
    held = row["rss_mb"]["in_flight"]
    return f"{held:.0f} MiB with {row['in_flight_count']:,} diamonds in flight", held <= 300


def _leak(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
    row = _find(rows, "fireflytx", "leak")
    if _failed(row):
        return _failed(row) or "", None
    assert row is not None
    text = (
        f"{row['growth_mb']:+.1f} MiB over {row['sagas']:,} sagas ({row['bytes_per_saga']:,.0f} B/saga; "
        f"tolerance {LEAK_TOLERANCE_MB:g} MiB)"
    )
    if row["sagas"] < 100_000:
        return text + "; not judged: fewer than 100,000 sagas (--quick)", None
    return text, row["growth_mb"] <= LEAK_TOLERANCE_MB


def _events(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
    row = _find(rows, "fireflytx", "diamond-c100-events")
    if _failed(row):
        return _failed(row) or "", None
    assert row is not None
    text = (
        f"{row['sagas_per_s']:,.0f} sagas/s with events, {row['events_off_sagas_per_s']:,.0f} without: "
        f"{row['ratio']:.0%}"
    )
    if "alone_ratio" in row:
        text += (
            f" (Kafka alone: {row['alone_ratio']:.0%}; "
            f"run events with fixed messages: {row['floor_ratio']:.0%}"
        )
        if "ceiling_ratio" in row:
            text += f"; ceiling with free run events: {row['ceiling_ratio']:.0%}"
        text += ")"
    return text, row["ratio"] >= 0.8


def _dbos_best(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """DBOS's fastest diamond row of this run (the throughput case runs it at concurrency 1 and 10)."""
    measured = [
        row
        for row in rows
        if row.get("system") == "dbos" and row.get("case") == "throughput" and not _failed(row)
    ]
    return max(measured, key=lambda row: row["sagas_per_s"], default=None)


def _durable_of_memory(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
    row, memory = (
        _find(rows, "fireflytx", "diamond-c100-redis"),
        _find(rows, "fireflytx", "diamond-c100-memory"),
    )
    if _failed(row) or _failed(memory):
        return _failed(row) or _failed(memory) or "", None
    assert row is not None and memory is not None
    text = (
        f"{row['sagas_per_s']:,.0f} sagas/s on Redis, {memory['sagas_per_s']:,.0f} in memory (same process, "
        f"alternating rounds): {row['ratio_to_memory']:.0%}"
    )
    return text, row["ratio_to_memory"] >= 0.25


def _durable_vs_dbos(
    store: str, label: str, factor: float
) -> Callable[[list[dict[str, Any]]], tuple[str, bool | None]]:
    def check(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
        row = _find(rows, "fireflytx", f"diamond-c100-{store}")
        if _failed(row):
            return _failed(row) or "", None
        assert row is not None
        dbos = _dbos_best(rows)
        ours = f"{row['sagas_per_s']:,.0f} sagas/s on {label}"
        if dbos is None:
            return (
                ours + "; DBOS not measured in this run (needs the throughput case, without --skip-peers)",
                None,
            )
        ratio = row["sagas_per_s"] / dbos["sagas_per_s"]
        text = (
            f"{ours}, DBOS's best diamond {dbos['sagas_per_s']:,.0f} sagas/s ({dbos['name']}): {ratio:,.1f}×"
        )
        return text, ratio >= factor

    return check


def _of_floor(minimums: dict[str, float]) -> Callable[[list[dict[str, Any]]], tuple[str, bool | None]]:
    """fireflytx's sagas/s over the asyncio floor's, case by case in one run, each against its minimum."""

    def check(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
        parts, short = [], []
        for name, minimum in minimums.items():
            ours, floor = _find(rows, "fireflytx", name), _find(rows, "asyncio-floor", name)
            failed = _failed(ours) or _failed(floor)
            if failed:
                return f"{name}: {failed}", None
            assert ours is not None and floor is not None
            ratio = ours["sagas_per_s"] / floor["sagas_per_s"]
            parts.append(f"{ratio:.3g}×")
            if ratio < minimum:
                short.append(name)
        text = " / ".join(parts) + " (" + ", ".join(minimums) + ")"
        if short:
            text += "; short: " + ", ".join(short)
        return text, not short

    return check


def _per_step_of_floor(rows: list[dict[str, Any]]) -> tuple[str, bool | None]:
    ours, floor = _marginal(rows, "fireflytx", "async"), _marginal(rows, "asyncio-floor", "async")
    if ours is None or floor is None or floor <= 0:
        return "— (needs the chain case of fireflytx and the asyncio floor)", None
    text = f"{ours:.1f} µs against the floor's {floor:.2f} µs: {ours / floor:.1f}×"
    split = _split_per_step(rows)
    if split is not None:
        text += (
            f"; inside Java calls {split['java']:.1f} µs per added step, alone {split['java'] / floor:.1f}× "
            "the floor's (split case)"
        )
    return text, ours <= 10 * floor


TARGETS = (
    Target("≤ 25 µs engine+bridge overhead per no-op async step", _per_step),
    Target(
        "diamond at concurrency 100 ≥ 0.33× the asyncio floor (same run)", _of_floor({"diamond-c100": 0.33})
    ),
    Target(
        "failing diamond ≥ 0.18 / 0.24 / 0.28× the asyncio floor at concurrency 1 / 10 / 100",
        _of_floor({"diamond-failing-c1": 0.18, "diamond-failing-c10": 0.24, "diamond-failing-c100": 0.28}),
    ),
    Target(
        "TCC confirmed ≥ 0.028 / 0.048 / 0.044× the asyncio floor at concurrency 1 / 10 / 100",
        _of_floor({"tcc-confirmed-c1": 0.028, "tcc-confirmed-c10": 0.048, "tcc-confirmed-c100": 0.044}),
    ),
    Target(
        "TCC canceled ≥ 0.018 / 0.020 / 0.020× the asyncio floor at concurrency 1 / 10 / 100",
        _of_floor({"tcc-canceled-c1": 0.018, "tcc-canceled-c10": 0.020, "tcc-canceled-c100": 0.020}),
    ),
    Target("per added `async def` step ≤ 10× the asyncio floor's (chain-50 − chain-1)", _per_step_of_floor),
    Target("≥ 10,000 diamond sagas/s in memory at concurrency 100", _throughput),
    Target("cold start ≤ 1.5 s (fresh process, jars cached)", _cold),
    Target("RSS ≤ 300 MB with 1,000 sagas in flight", _rss),
    Target("no RSS growth across 100,000 sagas", _leak),
    Target("Kafka events on every step ≥ 80% of the events-off rate (diamond, concurrency 100)", _events),
    Target("durable diamonds on Redis ≥ 25% of the in-memory rate (concurrency 100)", _durable_of_memory),
    Target("durable diamonds on Redis ≥ 20× DBOS (concurrency 100)", _durable_vs_dbos("redis", "Redis", 20)),
    Target("durable diamonds on SQLite ≥ 5× DBOS (concurrency 100)", _durable_vs_dbos("sqlite", "SQLite", 5)),
)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for target in TARGETS:
        measured, met = target.check(rows)
        out.append({"target": target.text, "measured": measured, "met": met})
    return out


# -- tables ----------------------------------------------------------------------------------------


def _machine(report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    load = lambda v: " / ".join(f"{x:.2f}" for x in v) if v else "?"  # noqa: E731
    return [
        f"- when: {m['started_at']} · suite took {m['suite_seconds']:.0f} s · mode: "
        f"{'quick' if m['quick'] else 'default'} · cases: {', '.join(m['cases'])} · systems: "
        f"{', '.join(m['systems'])}",
        f"- python {m['python']} ({m['implementation']}) · {m['platform']} · {m['cpus']} CPUs · "
        f"{m.get('memory_gib', '?')} GiB RAM",
        f"- JPype {m['jpype']} · Java {m.get('java', '?')} · fireflytx {m['fireflytx']} · "
        f"dbos {m.get('dbos') or 'not installed'}",
        f"- git {m['git_commit']}",
        "- peers: asyncio floor = a minimal asyncio orchestrator, no engine (`asyncio_floor.py`); DBOS = "
        "DBOS Transact on SQLite, durable, async workflows, concurrency 1 and 10 only (`dbos_peer.py`)",
        f"- load average (1/5/15 min) at start {load(m['loadavg_start'])}, at end {load(m['loadavg_end'])}",
    ]


def _peer_names(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, label) for key, label in PEERS if key in report["machine"]["systems"]]


def _chain_table(rows: list[dict[str, Any]], peers: list[tuple[str, str]]) -> list[str]:
    head = "| case | fireflytx µs/step (median / p99) | fireflytx sagas/s |"
    rule = "|---|---|---|"
    for _, label in peers:
        head += f" {label} µs/step | {label} sagas/s | ×{label} |"
        rule += "---|---|---|"
    lines = [head, rule]
    names = [f"chain-{n}-{k}" for n in (1, 10, 50) for k in ("async", "sync")]
    for name in names:
        ours = _find(rows, "fireflytx", name)
        if ours is None and not any(_find(rows, key, name) for key, _ in peers):
            continue
        failed = _failed(ours)
        line = f"| {name} | " + (
            failed + " | |"
            if failed
            else f"{ours['us_per_step']['median']:.1f} / {ours['us_per_step']['p99']:.1f} | "  # type: ignore[index]
            + _rate(ours)
            + " |"
        )
        for key, _ in peers:
            peer = _find(rows, key, name)
            step = _failed(peer) or f"{peer['us_per_step']['median']:.1f}"  # type: ignore[index]
            line += f" {step} | {_rate(peer)} | {_ratio(ours, peer)} |"
        lines.append(line)
    return lines


def _load_table(
    rows: list[dict[str, Any]], peers: list[tuple[str, str]], cases: tuple[str, ...]
) -> list[str]:
    head = "| case | fireflytx sagas/s | fireflytx latency ms (p50 / p99) | fireflytx CPU µs/saga |"
    rule = "|---|---|---|---|"
    for _, label in peers:
        head += f" {label} sagas/s | {label} latency ms (p50 / p99) | ×{label} |"
        rule += "---|---|---|"
    lines = [head, rule]
    names = {row["name"] for row in rows if row.get("case") in cases}
    for name in sorted(names, key=_load_order):
        ours = _find(rows, "fireflytx", name)
        line = f"| {name} | {_rate(ours)} | {_latency(ours)} | {_cpu(ours)} |"
        for key, _ in peers:
            peer = _find(rows, key, name)
            line += f" {_rate(peer)} | {_latency(peer)} | {_ratio(ours, peer)} |"
        lines.append(line)
    return lines


def _events_table(rows: list[dict[str, Any]]) -> list[str]:
    row = _find(rows, "fireflytx", "diamond-c100-events")
    failed = _failed(row)
    if failed or row is None:
        return [f"fireflytx: {failed}"]
    rounds = lambda v: ", ".join(f"{x:,.0f}" for x in v)  # noqa: E731
    p = row["publisher"]
    lines = [
        "| | sagas/s (median) | of events off | rounds | CPU µs/saga |",
        "|---|---|---|---|---|",
        f"| events off | {_num(row['events_off_sagas_per_s'])} | 100% | {rounds(row['rounds_off'])} | "
        f"{row['cpu_us_per_saga_off']:,.0f} |",
        f"| events on | {_num(row['sagas_per_s'])} | {row['ratio']:.0%} | {rounds(row['rounds_on'])} | "
        f"{row['cpu_us_per_saga_on']:,.0f} |",
    ]
    if "alone_sagas_per_s" in row:
        lines += [
            f"| run events, fixed messages | {_num(row['floor_sagas_per_s'])} | "
            f"{row['floor_ratio']:.0%} | {rounds(row['rounds_floor'])} | "
            f"{row['cpu_us_per_saga_floor']:,.0f} |",
            f"| Kafka alone | {_num(row['alone_sagas_per_s'])} | "
            f"{row['alone_ratio']:.0%} | {rounds(row['rounds_alone'])} | "
            f"{row['cpu_us_per_saga_alone']:,.0f} |",
        ]
    for label, name in _WITHOUT_KAFKA:
        if f"{label}_sagas_per_s" in row:
            lines.append(
                f"| {name} | {_num(row[f'{label}_sagas_per_s'])} | {row[f'{label}_ratio']:.0%} | "
                f"{rounds(row[f'rounds_{label}'])} | {row[f'cpu_us_per_saga_{label}']:,.0f} |"
            )
    lines += [
        "",
        f"Ratio {row['ratio']:.0%}. Rounds alternate in one process; an events-on round ends when the broker "
        f"(single node on this machine, acks=all) has acknowledged every event of it. Publisher: "
        f"{p['published']:,} published, {p['delivered']:,} delivered, {p['failed']:,} failed, "
        f"{p['dropped']:,} dropped.",
    ]
    if "alone_sagas_per_s" in row:
        lines += [
            "",
            "Where the cost goes, each on an engine and `KafkaPublisher` of its own, same broker. "
            "*Kafka alone*: no observer; the diamond's own steps publish one fixed envelope-sized "
            f"message for each of the 10 events a diamond has ({row['alone_delivered']:,} delivered), "
            "so only producing is paid. *Run events, fixed messages*: an observer that builds no "
            "envelope publishes that fixed message for each run event the engine hands it "
            f"({row['floor_delivered']:,} delivered), so the engine's run events are paid too. "
            "What events on costs beyond that is the envelopes.",
        ]
    if "handed_sagas_per_s" in row:
        lines += [
            "",
            "Without Kafka, in the order events on adds things: *run events alone*, an inline observer that "
            "does nothing (what handing every run event over costs the engine); *envelopes without Kafka*, "
            "the `EventObserver` writing every envelope for a publisher that drops it. Events on adds "
            "producing them to Kafka.",
        ]
    if "ceiling_ratio" in row:
        alone_loop = row["cpu_us_per_saga_alone_by"].get("event loop", 0.0)
        off_loop = row["cpu_us_per_saga_off_by"].get("event loop", 0.0)
        lines += [
            "",
            "Ceiling: the leanest code writes a diamond's 10 envelopes in "
            f"{row['least_envelopes_us_per_saga']:.1f} µs of loop CPU (a tight loop, `_envelope_floor.py`). "
            f"With Kafka alone's {alone_loop:,.0f} µs, events on need at least "
            f"{alone_loop + row['least_envelopes_us_per_saga']:,.0f} µs of loop-thread CPU per saga against "
            f"{off_loop:,.0f} µs with events off: at most {row['ceiling_ratio']:.0%} of the events-off rate "
            "while the loop thread limits the rate, even if the engine's run events cost nothing.",
        ]
    return lines + _cpu_split_lines(row)


_WITHOUT_KAFKA = (("handed", "run events alone (no Kafka)"), ("unpublished", "envelopes without Kafka"))
"""The events case's engines that publish nothing: (row label, row name)."""


def _cpu_split_lines(row: dict[str, Any]) -> list[str]:
    on, off = row.get("cpu_us_per_saga_on_by"), row.get("cpu_us_per_saga_off_by")
    if not on or not off:
        return []
    floor, alone = row.get("cpu_us_per_saga_floor_by") or {}, row.get("cpu_us_per_saga_alone_by") or {}
    shown = [("events off", off), ("events on", on)]
    if floor and alone:
        shown += [("run events, fixed messages", floor), ("Kafka alone", alone)]
    for label, name in _WITHOUT_KAFKA:
        if f"{label}_sagas_per_s" in row:
            shown.append((name, row[f"cpu_us_per_saga_{label}_by"]))
    roles = sorted({role for _, by in shown for role in by})
    cells = lambda by: " | ".join(f"{by.get(r, 0.0):,.0f}" for r in roles)  # noqa: E731
    return [
        "",
        "CPU µs per saga by where it went (the broker is a separate process on the same cores):",
        "",
        "| | " + " | ".join(roles) + " |",
        "|---" * (len(roles) + 1) + "|",
        *(f"| {label} | {cells(by)} |" for label, by in shown),
    ]


def _durable_table(rows: list[dict[str, Any]]) -> list[str]:
    dbos = _dbos_best(rows)
    rounds = lambda v: ", ".join(f"{x:,.0f}" for x in v)  # noqa: E731
    lines = [
        "| journal | sagas/s (median) | rounds | CPU µs/saga | of in-memory | ×DBOS best |",
        "|---|---|---|---|---|---|",
    ]
    labels = {
        "memory": "none (in memory)",
        "sqlite": "SQLite, synchronous=FULL",
        "redis": "Redis (Valkey), appendfsync always",
    }
    for store, label in labels.items():
        row = _find(rows, "fireflytx", f"diamond-c100-{store}")
        if row is None:
            continue
        failed = _failed(row)
        if failed:
            lines.append(f"| {label} | {failed} | | | | |")
            continue
        share = f"{row['ratio_to_memory']:.0%}" if "ratio_to_memory" in row else "100%"
        versus = f"{row['sagas_per_s'] / dbos['sagas_per_s']:,.1f}×" if dbos is not None else "—"
        lines.append(
            f"| {label} | {_num(row['sagas_per_s'])} | {rounds(row['rounds'])} | "
            f"{row['cpu_us_per_saga']:,.0f} | {share} | {versus} |"
        )
    per_round = next(
        (r["sagas_per_round"] for r in rows if r.get("case") == "durable" and "sagas_per_round" in r), None
    )
    note = (
        "Three engines in one process, rounds alternating between them"
        + (f" ({per_round:,} diamonds per round)" if per_round else "")
        + "; every run of a durable engine writes its record, a checkpoint per step and its final status "
        "before its result is returned. "
    )
    if dbos is not None:
        note += (
            f"×DBOS best: against DBOS's fastest diamond of this run, {dbos['sagas_per_s']:,.0f} sagas/s "
            f"({dbos['name']}, checkpointing to SQLite; DBOS runs at concurrency 1 and 10 only)."
        )
    else:
        note += "DBOS was not measured in this run (it needs the throughput case, without --skip-peers)."
    lines += ["", note, "", "| store | orphaned diamonds | time to resume all | per second | CPU µs/saga |"]
    lines.append("|---|---|---|---|---|")
    for store, label in (("sqlite", "SQLite"), ("redis", "Redis (Valkey)")):
        row = _find(rows, "fireflytx", f"recover-{store}")
        if row is None:
            continue
        failed = _failed(row)
        if failed:
            lines.append(f"| {label} | {failed} | | | |")
            continue
        lines.append(
            f"| {label} | {row['orphans']:,} | {row['seconds']:.2f} s | {_num(row['sagas_per_s'])} | "
            f"{row['cpu_us_per_saga']:,.0f} |"
        )
    lines += [
        "",
        "Orphans are written through the store API as a killed process leaves them: RUNNING, owned by a "
        "process that is gone, lease expired, a quarter each with 0, 1, 2 or 3 steps checkpointed. The time "
        "is one `await engine.recover()` on a fresh engine that registered the diamond; every orphan must "
        "end SUCCEEDED.",
    ]
    return lines


def _load_order(name: str) -> tuple[int, int, str]:
    """diamond, diamond-failing, tcc-confirmed, tcc-canceled; each by concurrency."""
    head, _, concurrency = name.rpartition("-c")
    order = ("diamond", "diamond-failing", "tcc-confirmed", "tcc-canceled")
    rank = order.index(head) if head in order else len(order)
    return rank, int(concurrency) if concurrency.isdigit() else 0, name


def _systems(report: dict[str, Any]) -> list[str]:
    return list(report["machine"]["systems"])


def _cold_table(report: dict[str, Any]) -> list[str]:
    rows = report["results"]
    lines = [
        "| system | to first result, ms: median (min – max) | import | JVM start | engine start / launch "
        "| first saga |",
        "|---|---|---|---|---|---|",
    ]
    for system in _systems(report):
        row = _find(rows, system, "cold-start")
        if row is None:
            continue
        failed = _failed(row)
        if failed:
            lines.append(f"| {system} | {failed} | | | | |")
            continue
        wall, phases = row["wall_ms"], row["phases_ms"]
        keys = ("import", "jvm", "engine", "first_saga")
        cells = [_num(phases[k], 0) if k in phases else "—" for k in keys]
        spread = f"{wall['median']:,.0f} ({wall['min']:,.0f} – {wall['max']:,.0f})"
        lines.append(f"| {system} | {spread} | " + " | ".join(cells) + " |")
    baseline = report["machine"].get("interpreter_ms")
    if baseline is not None:
        lines.append("")
        lines.append(f"`python -c pass` takes {baseline:.0f} ms here (part of every wall time above).")
    return lines


def _memory_table(report: dict[str, Any]) -> list[str]:
    rows = report["results"]
    lines = [
        "| system | bare interpreter | after import | engine started (idle) | after warm-up (idle) "
        "| 1,000 sagas in flight | after their release |",
        "|---|---|---|---|---|---|---|",
    ]
    for system in _systems(report):
        row = _find(rows, system, "memory")
        if row is None:
            continue
        failed = _failed(row)
        if failed:
            lines.append(f"| {system} | {failed} | | | | | |")
            continue
        rss = row["rss_mb"]
        keys = ("bare", "imported", "started", "idle_warm", "in_flight", "after_release")
        lines.append(f"| {system} | " + " | ".join(_num(rss[k], 0) for k in keys) + " |")
    return lines


def _leak_table(report: dict[str, Any]) -> list[str]:
    rows = report["results"]
    lines = [
        "| system | sagas | RSS before → after (MiB) | growth | per saga | late slope | Python blocks Δ | "
        "Java heap used before → after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for system in _systems(report):
        row = _find(rows, system, "leak")
        if row is None:
            continue
        failed = _failed(row)
        if failed:
            lines.append(f"| {system} | {failed} | | | | | | |")
            continue
        before, after = row.get("extra_before") or {}, row.get("extra_after") or {}
        heap = (
            f"{before['java_heap_used_mb']:.0f} → {after['java_heap_used_mb']:.0f} MiB"
            if "java_heap_used_mb" in before and "java_heap_used_mb" in after
            else "—"
        )
        blocks = row["python_blocks_delta"]
        lines.append(
            f"| {system} | {row['sagas']:,} | {row['rss_before_mb']:.0f} → {row['rss_after_mb']:.0f} | "
            f"{row['growth_mb']:+.1f} MiB | {row['bytes_per_saga']:,.0f} B | "
            f"{row['late_bytes_per_saga']:,.0f} B | {blocks:+,} ({blocks / row['sagas']:.1f}/saga) | {heap} |"
        )
    return lines


def _calls_table(rows: list[dict[str, Any]]) -> list[str]:
    def of(system: str) -> dict[str, dict[str, Any]]:
        return {
            r["name"]: r
            for r in rows
            if r.get("case") == "calls" and r["system"] == system and not {"error", "unavailable"} & r.keys()
        }

    ours, floor = of("fireflytx"), of("asyncio-floor")
    out = [
        "| shape | fireflytx Python calls/saga | asyncio floor Python calls/saga | ×floor | into Java/saga | "
        "from Java/saga |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in ours.items():
        base = floor.get(name)
        base_calls = f"{base['python_calls_per_saga']:.0f}" if base else "—"
        times = f"{row['python_calls_per_saga'] / base['python_calls_per_saga']:.1f}×" if base else "—"
        shape, calls = name.removeprefix("calls-"), row["python_calls_per_saga"]
        out.append(
            f"| {shape} | {calls:.0f} | {base_calls} | {times} | "
            f"{row.get('into_java_per_saga', 0):.2f} | {row.get('from_java_per_saga', 0):.2f} |"
        )
    for label, table in (("fireflytx", ours), ("asyncio floor", floor)):
        one, fifty = table.get("calls-chain-1-async"), table.get("calls-chain-50-async")
        if one and fifty:
            per_step = (fifty["python_calls_per_saga"] - one["python_calls_per_saga"]) / 49
            out.append(f"| {label}: per added step (chain-50 − chain-1) ÷ 49 | {per_step:.1f} | | | | |")
    return out


_SPLIT_PARTS = (
    ("us", "us_per_saga"),
    ("java", "java_us_per_saga"),
    ("jpype", None),
    ("engine", "engine_us_per_saga"),
    ("python", "python_us_per_saga"),
)


def _split_parts(row: dict[str, Any]) -> dict[str, float]:
    """A split row's µs per saga by part; JPype's is its calls times the empty call."""
    parts = {part: row[key] for part, key in _SPLIT_PARTS if key is not None}
    parts["jpype"] = row["calls_per_saga"] * row["empty_call_us"]
    return parts


def _split_per_step(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """What each added chain step costs, part by part: (split-chain-50 − split-chain-1) ÷ 49."""
    one, fifty = (
        _find(rows, "fireflytx", "split-chain-1-async"),
        _find(rows, "fireflytx", "split-chain-50-async"),
    )
    if _failed(one) or _failed(fifty):
        return None
    assert one is not None and fifty is not None
    short, long = _split_parts(one), _split_parts(fifty)
    return {part: (long[part] - short[part]) / 49 for part in short}


def _split_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| shape | µs/saga | inside Java calls | calls | JPype's share | engine's share | "
        "Python and the loop | asyncio floor µs/saga |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.get("case") != "split" or row.get("system") != "fireflytx":
            continue
        failed = _failed(row)
        if failed:
            out.append(f"| {row['name']} | {failed} | | | | | | |")
            continue
        parts = _split_parts(row)
        shape = row["name"].removeprefix("split-")  # the chain or throughput case of the same shape
        floor = _find(rows, "asyncio-floor", shape)
        floor_us = "—" if _failed(floor) else f"{1e6 / floor['sagas_per_s']:.1f}"  # type: ignore[index]
        out.append(
            f"| {shape} | {parts['us']:.1f} | {parts['java']:.1f} | "
            f"{row['calls_per_saga']:.1f} | {parts['jpype']:.1f} | {parts['engine']:.1f} | "
            f"{parts['python']:.1f} | {floor_us} |"
        )
    step = _split_per_step(rows)
    if step is not None:
        out.append(
            f"| per added step (chain-50 − chain-1) ÷ 49 | {step['us']:.1f} | {step['java']:.1f} | 1 | "
            f"{step['jpype']:.1f} | {step['engine']:.1f} | {step['python']:.1f} | |"
        )
    return out


def markdown(report: dict[str, Any]) -> str:
    rows = report["results"]
    peers = _peer_names(report)
    cases = report["machine"]["cases"]
    out = ["# fireflytx benchmarks", "", *_machine(report), ""]
    out += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for t in report["targets"]:
        mark = {True: "✅ met", False: "❌ not met", None: "— not measured"}[t["met"]]
        out.append(f"| {t['target']} | {t['measured']} | {mark} |")
    out.append("")
    ratio_note = "×peer = fireflytx sagas/s ÷ peer sagas/s for the same case (above 1: fireflytx is faster)."
    if "chain" in cases:
        out += ["## Per-step overhead: chains of no-op steps, one saga at a time", ""]
        out += _chain_table(rows, peers)
        marginal = [
            f"{kind} {value:.1f} µs"
            for kind in ("async", "sync")
            if (value := _marginal(rows, "fireflytx", kind)) is not None
        ]
        out += ["", "µs/step = saga latency ÷ steps. " + ratio_note]
        if marginal:
            out.append(
                "fireflytx marginal cost per added step ((chain-50 − chain-1) ÷ 49): "
                + ", ".join(marginal)
                + "."
            )
        out.append("")
    if {"throughput", "failure", "tcc"} & set(cases):
        out += ["## Throughput: diamond (A → B ‖ C → D), its failure path, TCC with three participants", ""]
        out += _load_table(rows, peers, ("throughput", "failure", "tcc"))
        out += [
            "",
            "diamond-failing: D fails, A, B and C are compensated. tcc-canceled: the third try fails, all "
            "three are canceled. sagas/s is the median of the rounds; latency percentiles pool every saga. "
            "CPU µs/saga: user + system time of the whole process (JVM threads included) per saga, steadier "
            "than wall-clock rates on a shared machine. " + ratio_note,
            "",
        ]
    if "calls" in cases:
        out += ["## Calls per saga: counted, not timed", ""]
        out += _calls_table(rows)
        out += [
            "",
            "Python calls: every function call the event-loop thread makes per saga (cProfile; fireflytx's, "
            "asyncio's and builtins alike), 500 sagas per shape. Into / from Java: calls across the JNI "
            "boundary per saga (an adapter call: start, answer, fail, drain; a pump wake-up). Counts do "
            "not move with the machine's load, so they compare across days where rates cannot.",
            "",
        ]
    if "split" in cases:
        out += [
            "## Where a saga's time goes: inside the calls into Java, or in Python (one saga at a time)",
            "",
        ]
        out += _split_table(rows)
        out += [
            "",
            "Every call fireflytx makes into the adapter on the run path is timed from Python "
            "(`_split.py`). Inside Java calls = the engine's work plus JPype's; JPype's share = calls × "
            "one `exchange(\"\")` that finds nothing to do, timed the same way; the engine's share is the "
            "rest of the time inside the calls, which no change on the Python side can remove. Python and "
            "the loop = wall time minus the time inside Java calls. The floor's µs/saga is 1 ÷ its "
            "sagas/s in the chain and throughput cases of the same run.",
            "",
        ]
    if "events" in cases:
        out += ["## Events: diamond at concurrency 100, Kafka events for every step versus none", ""]
        out += _events_table(rows)
        out.append("")
    if "durable" in cases:
        out += [
            "## Durable: diamond at concurrency 100 journaled to SQLite and Redis; recovery of orphans",
            "",
        ]
        out += _durable_table(rows)
        out.append("")
    if "coldstart" in cases:
        out += ["## Cold start: fresh process until the first saga result (jars cached)", ""]
        out += [*_cold_table(report), ""]
    if "memory" in cases:
        out += ["## Memory: RSS in MiB (fresh process per system)", "", *_memory_table(report), ""]
    if "leak" in cases:
        out += ["## Leak check: RSS after warm-up versus after N more diamonds (concurrency 100)", ""]
        out += _leak_table(report)
        out += [
            "",
            "Both ends are measured after a full collection (a Java GC for fireflytx, then Python's). "
            "late slope: RSS growth per saga over the second half of the run. Python blocks Δ: "
            "`sys.getallocatedblocks()` after minus before.",
            "",
        ]
    problems = [row for row in rows if "error" in row]
    if problems:
        out += ["## Problems", ""]
        out += [f"- {row['system']} {row['name']}: {row['error']}" for row in problems]
        out.append("")
    return "\n".join(out)
