"""Idempotent submission across processes: one correlation id, two processes, one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from valkey_server import ValkeyProcess

CHILD = Path(__file__).with_name("durable_child.py")
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    server: ValkeyProcess = request.getfixturevalue("valkey")
    return server.url


def test_two_processes_executing_one_correlation_id_run_it_once_and_both_get_its_result(
    url: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    prefix = f"proc{tmp_path.name}:"
    children = [
        subprocess.Popen(
            [sys.executable, str(CHILD), url, prefix, "shared-1", str(ledger)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1] == {"status": "SUCCEEDED", "charge": 30}
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert sorted((e["unit"], e["key"]) for e in lines) == [
        ("charge", "shared-1:step:charge"),
        ("reserve", "shared-1:step:reserve"),
    ]
