"""Run the benchmark suite: ``python -m benchmarks [--quick] [--only CASES] [--skip-peers]``.

Each system runs in fresh processes (one for its timing cases, one for memory, one for the leak
check, several for cold start), one after another, so that no system's threads or heap colour
another's numbers. Results go to ``benchmarks/results/``: ``latest.json``, ``latest.md`` and a
timestamped JSON copy.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from . import _coldstart, _report
from ._drivers import log
from ._plan import CASES, PERF_CASES, SYSTEMS, sizes

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (with uncommitted changes)" if dirty else "")


def _java_fallback() -> str | None:
    """The Java version fireflytx would pick, read without starting a JVM (when no worker reported it)."""
    try:
        from fireflytx._bridge._java import find_java

        return str(find_java(None).version)
    except Exception:
        return None


def machine(args: argparse.Namespace, systems: list[str], cases: list[str]) -> dict[str, Any]:
    import psutil

    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "jpype": _version("JPype1"),
        "fireflytx": _version("fireflytx"),
        "dbos": _version("dbos"),
        "psutil": _version("psutil"),
        "git_commit": _git(),
        "quick": args.quick,
        "cases": cases,
        "systems": systems,
        "loadavg_start": list(os.getloadavg()),
    }


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_worker(system: str, group: str, cases: list[str], quick: bool) -> dict[str, Any]:
    """One system and group in a fresh process; its rows, or one error row when it died."""
    with tempfile.TemporaryDirectory(prefix="fireflytx-bench-") as tmp:
        out = Path(tmp) / "out.json"
        command = [sys.executable, "-m", "benchmarks._worker", "--system", system, "--group", group]
        command += ["--cases", ",".join(cases), "--out", str(out)] + (["--quick"] if quick else [])
        try:
            code = subprocess.run(command, cwd=ROOT, env=_env(), timeout=1800).returncode
        except subprocess.TimeoutExpired:
            code = "timeout after 1800 s"  # type: ignore[assignment]
        if code == 0 and out.exists():
            result: dict[str, Any] = json.loads(out.read_text())
            return result
    names = {"perf": cases, "memory": ["memory"], "leak": ["leak"]}[group]
    error = f"the {group} worker ended with {code}; see the log above"
    return {"rows": [{"system": system, "case": n, "name": n, "error": error} for n in names], "info": {}}


def _finite(value: Any) -> Any:
    """The report with NaN and infinities as null, so that the JSON is strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run the fireflytx benchmarks; results go to results/."
    )
    parser.add_argument("--quick", action="store_true", help="fewer iterations (about 2 minutes)")
    parser.add_argument(
        "--only", metavar="CASES", help=f"comma-separated subset of: {', '.join(CASES)} (default: all)"
    )
    parser.add_argument(
        "--skip-peers", action="store_true", help="run fireflytx only (no asyncio floor, no DBOS)"
    )
    args = parser.parse_args()
    cases = list(CASES) if not args.only else [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    systems = ["fireflytx"] if args.skip_peers else list(SYSTEMS)
    dbos_missing = "dbos" in systems and importlib.util.find_spec("dbos") is None

    started = time.perf_counter()
    info = machine(args, systems, cases)
    rows: list[dict[str, Any]] = []
    worker_seconds: dict[str, float] = {}

    def worker(system: str, group: str, selected: list[str]) -> None:
        if system == "dbos" and dbos_missing:
            missing = "not available: dbos is not installed"
            rows.extend({"system": system, "case": n, "name": n, "unavailable": missing} for n in selected)
            return
        log(f"== {system}: {group} ({', '.join(selected)})")
        result = run_worker(system, group, selected, args.quick)
        rows.extend(result["rows"])
        if result.get("info", {}).get("java"):
            info["java"] = result["info"]["java"]
            info["jvm_options"] = result["info"].get("jvm_options")
        worker_seconds[f"{system}/{group}"] = round(result.get("seconds", float("nan")), 1)

    perf = [c for c in PERF_CASES if c in cases]
    for system in systems if perf else ():
        worker(system, "perf", perf)
    for system in systems if "memory" in cases else ():
        worker(system, "memory", ["memory"])
    for system in systems if "leak" in cases else ():
        if sizes(system, args.quick).leak_sagas:
            worker(system, "leak", ["leak"])
        else:
            reason = "not measured: at its ~100 sagas/s, 100,000 sagas would take about 20 minutes"
            rows.append({"system": system, "case": "leak", "name": "leak", "unavailable": reason})
    if "coldstart" in cases:
        log("== cold start")
        info["interpreter_ms"] = _coldstart.interpreter_ms(5)
        for system in systems:
            if system == "dbos" and dbos_missing:
                missing = "not available: dbos is not installed"
                rows.append({"system": system, "case": "coldstart", "name": "cold-start"})
                rows[-1]["unavailable"] = missing
                continue
            rows.append(_coldstart.measure(system, sizes(system, args.quick).coldstart_runs))

    info.setdefault("java", _java_fallback())
    info["loadavg_end"] = list(os.getloadavg())
    info["suite_seconds"] = time.perf_counter() - started
    info["worker_seconds"] = worker_seconds
    report = {"machine": info, "results": rows}
    report["targets"] = _report.targets(rows)
    table = _report.markdown(report)

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(_finite(report), indent=2, allow_nan=False) + "\n"
    (RESULTS / "latest.json").write_text(text)
    (RESULTS / f"{stamp}.json").write_text(text)
    (RESULTS / "latest.md").write_text(table)
    print(table)
    log(f"wrote {RESULTS / 'latest.md'}, latest.json and {stamp}.json in {info['suite_seconds']:.0f} s")


if __name__ == "__main__":
    main()
