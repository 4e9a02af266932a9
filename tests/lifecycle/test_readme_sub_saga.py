"""The README's sub-saga example runs as written, in a fresh interpreter, and prints what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_sub_saga_example_runs_and_undoes_the_child() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (block,) = [b for b in blocks if '@sub_saga("pay", CardPayment)' in b]
    done = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["order-1/pay CH-5", "refund CH-7", "COMPENSATED COMPENSATED"]
    assert "prints `order-1/pay CH-5`, then `refund CH-7` and `COMPENSATED COMPENSATED`." in text
