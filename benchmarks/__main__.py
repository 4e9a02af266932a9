"""Run the benchmark suite and record machine info, JSON and a Markdown table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fireflytx import SagaEngine

from . import fireflytx_cases

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    import jpype

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "jpype": jpype.__version__,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


async def run_fireflytx(quick: bool) -> list[dict[str, Any]]:
    runs = 200 if quick else 1000
    rows: list[dict[str, Any]] = []
    async with SagaEngine() as engine:
        for length in (1, 10, 50):
            for use_async in (True, False):
                rows.append(await fireflytx_cases.per_step_overhead(engine, length, use_async, runs))
        for concurrency in (1, 10, 100, 1000):
            total = max(concurrency * 5, 2000 if quick else 10000)
            rows.append(await fireflytx_cases.diamond_throughput(engine, concurrency, total, fail=False))
        rows.append(await fireflytx_cases.diamond_throughput(engine, 100, 2000 if quick else 5000, fail=True))
    for row in rows:
        row["system"] = "fireflytx"
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| system | case | µs/step (median / p99) | sagas/s | latency ms (p50 / p99) |", "|---|---|---|---|---|"]
    for row in rows:
        step = row.get("us_per_step")
        lat = row.get("latency_ms")
        lines.append(
            f"| {row['system']} | {row['case']} | "
            + (f"{step['median']:.1f} / {step['p99']:.1f}" if step else "")
            + " | "
            + (f"{row['sagas_per_s']:,.0f}" if "sagas_per_s" in row else "")
            + " | "
            + (f"{lat['median']:.2f} / {lat['p99']:.2f}" if lat else "")
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    rows = asyncio.run(run_fireflytx(args.quick))
    report = {"machine": machine(), "results": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(rows)
    (RESULTS / "latest.md").write_text(f"Machine: {json.dumps(report['machine'])}\n\n{table}")
    print(table)


if __name__ == "__main__":
    main()
