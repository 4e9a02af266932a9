"""The fan-out example, used as a person would: validated, drawn, run from the CLI and as a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
EXAMPLE = "examples/fan_out_saga.py"
TARGET = f"{EXAMPLE}:ParcelShippingSaga"

TREE = """\
ParcelShippingSaga (parcel-shipping)
├─ reserve-stock
│  └─ compensation: release_stock
├─ ship-parcel (depends_on: reserve-stock; fan_out=lambda order: order["parcels"], max_parallel=3, retry=2, \
backoff=20ms)
│  └─ compensation: recall_parcel
├─ print-label (depends_on: ship-parcel; fan_out=FromStep('ship-parcel'))
└─ invoice (depends_on: print-label)
execution layers:
  1  reserve-stock
  2  ship-parcel
  3  print-label
  4  invoice
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "fireflytx", *args],
        capture_output=True, text=True, timeout=300, env=environment, cwd=ROOT,
    )


def test_the_example_validates_and_draws_its_fan_out(
    dot_svg: Callable[[str], str], mermaid_parse: Callable[..., Any]
) -> None:
    valid = _cli("validate", EXAMPLE)
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.count("is a valid saga") == 1
    tree = _cli("visualize", TARGET)
    assert (tree.returncode, tree.stdout) == (0, TREE)
    mermaid = _cli("visualize", TARGET, "--format", "mermaid")
    assert mermaid.returncode == 0 and mermaid_parse([mermaid.stdout])[0]["ok"]
    assert 'n2["print-label<br/>fan_out=FromStep(\'ship-parcel\')"]' in mermaid.stdout
    dot = _cli("visualize", TARGET, "--format", "dot")
    assert dot.returncode == 0
    texts = "".join(ET.fromstring(dot_svg(dot.stdout)).itertext())
    assert "max_parallel=3" in texts and "fan_out=FromStep('ship-parcel')" in texts
    shape = json.loads(_cli("visualize", TARGET, "--format", "json").stdout)
    ship = next(s for s in shape["steps"] if s["step_id"] == "ship-parcel")
    assert (ship["fan_out"], ship["max_parallel"]) == ('lambda order: order["parcels"]', 3)


def test_the_example_runs_from_the_cli_with_one_outcome_per_clone() -> None:
    parcels = [{"sku": "book", "region": "EU"}, {"sku": "lamp", "region": "US"}]
    ok = _cli("run", TARGET, "--input", json.dumps({"order_id": "A-1", "parcels": parcels}), "--json")
    assert ok.returncode == 0, ok.stderr
    steps = json.loads(ok.stdout)["steps"]
    assert [steps[f"ship-parcel#{i}"]["result"]["sku"] for i in range(2)] == ["book", "lamp"]
    assert [s["sku"] for s in steps["ship-parcel"]["result"]] == ["book", "lamp"]
    assert len(steps["print-label"]["result"]) == 2
    refused = [{"sku": "desk", "region": "EU"}, {"sku": "globe", "region": "MOON"}]
    failed = _cli("run", TARGET, "--input", json.dumps({"order_id": "A-2", "parcels": refused}))
    assert failed.returncode == 1
    assert "✗ ship-parcel#1 · FAILED · 3 attempts" in failed.stdout
    assert "↺ ship-parcel#0 · compensated" in failed.stdout
    assert "undone: ship-parcel#0, reserve-stock" in failed.stdout


def test_the_example_script_ships_recalls_and_leaves_nothing_behind() -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, EXAMPLE], capture_output=True, text=True, timeout=300, env=environment, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("A-1 SUCCEEDED labels: book → TRK-")
    assert lines[1] == "A-1 clones: " + ", ".join(
        [f"ship-parcel#{i} SUCCEEDED" for i in range(4)] + [f"print-label#{i} SUCCEEDED" for i in range(4)]
    )
    assert lines[2:] == [
        "A-2 COMPENSATED ship-parcel#2 failed after 3 attempts: no courier delivers globe to MOON",
        "A-2 recalled 2 parcels; stock released: True",
        "A-3 COMPENSATED at invoice recalled 6 parcels",
        "in transit: 4, reservations held: 1",
    ]
