"""Checks that generated diagrams are accepted by the real tools that draw them.

Both fail (never skip) when the tool is missing, so CI cannot pass without checking anything:
Graphviz comes from `apt-get install graphviz`, the Mermaid parser from `npm ci --prefix tests/tools`.
"""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# fireflytx's own pytest plugin (engine fixtures), also when the package is not installed with it;
# pytester runs it as a user's suite would.
pytest_plugins = ["fireflytx.testing.plugin", "pytester"]

TOOLS = Path(__file__).parent / "tools"


@pytest.fixture
def dot_svg() -> Callable[[str], str]:
    """Lay out DOT source with `dot -Tsvg`; fail the test if dot rejects it or is not installed."""
    program = shutil.which("dot")
    assert program is not None, "Graphviz `dot` is required for these tests: apt-get install graphviz"

    def run(source: str) -> str:
        done = subprocess.run([program, "-Tsvg"], input=source, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"dot rejected the diagram:\n{done.stderr}\n{source}"
        assert "<svg" in done.stdout
        return done.stdout

    return run


@pytest.fixture
def mermaid_parse() -> Callable[[list[str]], list[dict[str, str]]]:
    """Parse Mermaid texts with Mermaid's own parser (under node); returns one result per text."""
    node = shutil.which("node")
    assert node is not None, "node is required for the Mermaid parser tests"
    assert (TOOLS / "node_modules" / "mermaid").is_dir(), (
        "the Mermaid parser is not installed: run `npm ci --prefix tests/tools`"
    )

    def run(texts: list[str]) -> list[dict[str, str]]:
        done = subprocess.run(
            [node, str(TOOLS / "mermaid-parse.mjs")],
            input=json.dumps(texts),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode in (0, 1), f"the Mermaid parser itself failed:\n{done.stderr}"
        results: list[dict[str, str]] = json.loads(done.stdout)
        assert len(results) == len(texts)
        return results

    return run


@pytest.fixture
def no_gc_holder() -> Iterator[None]:
    """Python's default collection thresholds and no engine holding them raised (``_gc_pacing``).

    Engines other tests left running hold the raised threshold too; each test of the mechanism
    starts from none, and the real count is put back after it.
    """
    from fireflytx import _gc_pacing

    before = gc.get_threshold()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_gc_pacing, "_holders", 0)
        patch.setattr(_gc_pacing, "_found", None)
        patch.setattr(_gc_pacing, "_set", None)
        gc.set_threshold(700, 10, 10)
        yield
    gc.set_threshold(*before)
