"""The README's saga and TCC examples run as written, each in a fresh interpreter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_saga_in_20_lines_and_its_plain_script_form_run() -> None:
    first, plain_script = _python_blocks()[:2]
    assert "asyncio.run(main())" in first and "execute_sync" in plain_script
    done = subprocess.run(
        [sys.executable, "-c", first + "\n" + plain_script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED" in done.stdout


def _run_block(marker: str) -> str:
    (block,) = [b for b in _python_blocks() if marker in b]
    done = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_back_pressure_example_queues_the_callers_beyond_max_in_flight() -> None:
    out = _run_block("max_in_flight=100")
    assert out.splitlines() == [
        "<SagaEngine running, 100/100 runs in flight, 9900 waiting>", "9900 100", "10000 succeeded"
    ]


def test_the_context_example_reads_the_run_so_far() -> None:
    out = _run_block("gateway hiccup")
    assert '"charge_attempts": 2' in out and '"key": "order-A-1:step:ship"' in out
    assert '"idempotency_key": "order-A-1:step:charge"' in out and '"result": "CH-A-1"' in out


def test_the_tcc_with_its_own_inputs_and_method_style_participants_runs() -> None:
    assert _run_block("input=lambda order").strip() == "CONFIRMED"
