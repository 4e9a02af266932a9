"""The notebooks in notebooks/, executed top to bottom in a real Jupyter kernel.

Each runs in a fresh ``ipykernel`` process started by ``nbclient``, with this interpreter (a kernel
spec written for the test, so nothing needs installing beyond the ``notebook`` extra) and
matplotlib's inline backend, which draws PNGs and opens no window. A cell that raises fails the
test; so does a notebook whose rich outputs (HTML tables, SVG timelines, PNG plots) are missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"

EXPECTED = {
    "durable.ipynb": {
        "image/svg+xml": ["order-fulfilment"],
        "text/html": ["RUNNING", "PENDING", "SUCCEEDED", "order-7:step:charge", "recoveries 1"],
        "text/plain": ["returncode -9 (SIGKILL)", "crashing after charge", "SUCCEEDED {'reserve': 'R-ORD-7'"],
    },
    "explore.ipynb": {
        "image/svg+xml": ["order-processing"],
        "text/html": ["SagaEngine", "SUCCEEDED", "COMPENSATED", "stopped"],
        "text/plain": ["released R-ORD-2", "timeline OrderSaga", "✓ fraud-check"],
    },
    "many_runs.ipynb": {
        "image/png": [],
        "text/html": ["correlation_id", "SUCCEEDED", "COMPENSATED", "median_ms"],
    },
    "tcc.ipynb": {
        "image/svg+xml": ["order-placement"],
        "text/html": ["TccEngine", "CONFIRMED", "CANCELED", "inventory", "NOT_RUN"],
        "text/plain": ["CANCELED inventory"],
    },
}


def _notebooks() -> list[str]:
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_is_checked() -> None:
    assert _notebooks() == sorted(EXPECTED)


@pytest.mark.parametrize("name", _notebooks())
def test_notebooks_are_kept_without_outputs(name: str) -> None:
    book = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    stored = [
        index for index, cell in enumerate(book["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not stored, (
        f"{name} has stored outputs in cells {stored}; clear them before committing "
        "(in Jupyter: Edit > Clear Outputs of All Cells, then save)"
    )


def _texts(book: object, mime: str) -> list[str]:
    out: list[str] = []
    for cell in book.cells:  # type: ignore[attr-defined]
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and mime == "text/plain":
                out.append(output["text"])
            data = output.get("data", {})
            if mime in data:
                value = data[mime]
                out.append(value if isinstance(value, str) else "".join(value))
    return out


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", _notebooks())
def test_notebook_runs_top_to_bottom(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    import nbformat
    from nbclient import NotebookClient

    spec_dir = tmp_path / "kernels" / "fireflytx-tests"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fireflytx tests",
        "language": "python",
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }))

    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        book, kernel_name="fireflytx-tests", timeout=600, resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails

    errors = [o for c in book.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    for mime, needles in EXPECTED[name].items():
        texts = _texts(book, mime)
        assert texts, f"{name} displayed no {mime} output"
        joined = "\n".join(texts)
        missing = [needle for needle in needles if needle not in joined]
        assert not missing, f"{name}: no {mime} output contains {missing}"
