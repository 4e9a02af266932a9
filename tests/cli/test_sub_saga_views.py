"""Sagas of sagas in every picture: `fireflytx visualize`, `fireflytx run`, the run view and the timeline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from fireflytx.cli import app
from fireflytx.topology import topology

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "checkout_saga.py"
CHECKOUT = f"{EXAMPLE}:CheckoutSaga"

runner = CliRunner()

CHECKOUT_TREE = """\
CheckoutSaga (checkout)
├─ reserve-stock
│  └─ compensation: release_stock
├─ pay (depends_on: reserve-stock)
│  └─ sub-saga CardPaymentSaga (card-payment), undone by its own compensations
│     ├─ authorize
│     │  └─ compensation: void
│     └─ capture (depends_on: authorize)
│        └─ compensation: refund
├─ ship (depends_on: pay)
│  └─ sub-saga ShipmentSaga (shipment), undone by its own compensations
│     ├─ print-label
│     │  └─ compensation: void_label
│     └─ book-courier (depends_on: print-label)
└─ confirm (depends_on: ship)
execution layers:
  1  reserve-stock
  2  pay
  3  ship
  4  confirm
"""

UNSHIPPABLE = '{"order_id": "A-3", "amount": 40, "address": ""}'


def test_visualize_draws_each_child_inside_the_step_that_runs_it() -> None:
    result = runner.invoke(app, ["visualize", CHECKOUT])
    assert result.exit_code == 0, result.output
    assert result.stdout == CHECKOUT_TREE


def test_visualize_json_nests_the_child_topology() -> None:
    result = runner.invoke(app, ["visualize", CHECKOUT, "--format", "json"])
    assert result.exit_code == 0, result.output
    steps = {s["step_id"]: s for s in json.loads(result.stdout)["steps"]}
    assert steps["pay"]["sub_saga"] == "card-payment"
    assert steps["pay"]["compensation"] is None
    assert [s["step_id"] for s in steps["pay"]["child"]["steps"]] == ["authorize", "capture"]
    assert steps["reserve-stock"]["sub_saga"] is None and steps["reserve-stock"]["child"] is None


def test_visualize_dot_and_mermaid_are_accepted_by_their_tools(
    dot_svg: Callable[[str], str], mermaid_parse: Callable[[list[str]], list[dict[str, str]]]
) -> None:
    dot = runner.invoke(app, ["visualize", CHECKOUT, "--format", "dot"]).stdout
    assert "subgraph cluster_n1_sub {" in dot and 'n1 -> n1_n0 [label="runs"];' in dot
    drawn = "".join(ET.fromstring(dot_svg(dot)).itertext())
    assert "sub-saga CardPaymentSaga (card-payment), undone by its own compensations" in drawn
    assert "↺ void_label" in drawn
    mermaid = runner.invoke(app, ["visualize", CHECKOUT, "-f", "mermaid"]).stdout
    assert '  subgraph n2_sub["sub-saga ShipmentSaga (shipment), undone by its own compensations"]' in mermaid
    assert [r["ok"] for r in mermaid_parse([mermaid])] == [True]


def test_a_child_named_by_name_is_drawn_by_its_name() -> None:
    from fireflytx import saga, sub_saga

    @saga("by-name-only")
    class ByNameOnly:
        @sub_saga("pay", "card-payment")
        def pay(self, value: int) -> int:
            return value

    shape = topology(ByNameOnly)
    assert shape.step("pay").sub_saga == "card-payment" and shape.step("pay").child is None
    assert "└─ sub-saga 'card-payment', undone by its own compensations" in str(shape)
    assert "⊂ sub-saga card-payment" in shape.to_dot()


def test_run_shows_the_children_and_their_undo() -> None:
    result = runner.invoke(app, ["run", CHECKOUT, "--input", UNSHIPPABLE, "--correlation-id", "ck-9"])
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert re.search(
        r"├─ ↺ pay · compensated · 1 attempt · .*\n"
        r"│  ├─ sub-saga CardPaymentSaga \(card-payment\) · COMPENSATED · .* · correlation_id=ck-9/pay\n"
        r"│  │  ├─ ↺ authorize · compensated · 1 attempt · .*\n"
        r"│  │  │  └─ ↺ compensated by void \(#2\) · 1 attempt · .*\n"
        r"│  │  └─ ↺ capture · compensated · 1 attempt · .*\n"
        r"│  │     └─ ↺ compensated by refund \(#1\) · 1 attempt · .*\n"
        r"│  └─ ↺ compensated by undo of card-payment \(#1\) · 1 attempt · ",
        out,
    ), out
    assert re.search(
        r"├─ ✗ ship · FAILED · 1 attempt · .*\n"
        r"│  ├─ sub-saga ShipmentSaga \(shipment\) · COMPENSATED · .* · correlation_id=ck-9/ship\n"
        r"│  │  ├─ ↺ print-label · compensated · .*\n"
        r"│  │  │  └─ ↺ compensated by void_label \(#1\) · .*\n"
        r"│  │  └─ ✗ book-courier · FAILED · 1 attempt · .*\n"
        r"│  │     └─ ValueError: no address to send a courier to\n",
        out,
    ), out
    assert out.endswith("undone: pay, reserve-stock\nnot run: confirm\n")


def test_run_json_and_timeline_carry_the_children(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", CHECKOUT, "--input", UNSHIPPABLE, "-f", "json"])
    view = json.loads(result.stdout)
    steps = {s["step_id"]: s for s in view["steps"]}
    assert steps["pay"]["child"]["correlation_id"].endswith("/pay")
    assert steps["pay"]["child"]["status"] == "COMPENSATED"
    assert steps["ship"]["child"]["failed_steps"] == ["book-courier"]
    assert steps["confirm"]["child"] is None
    svg_file = tmp_path / "checkout.svg"
    result = runner.invoke(app, ["run", CHECKOUT, "--input", UNSHIPPABLE, "--timeline", str(svg_file)])
    assert result.exit_code == 1
    drawn = "".join(ET.fromstring(svg_file.read_text()).itertext())
    for lane in ("pay › authorize", "pay › ↺ refund", "ship › print-label", "ship › book-courier"):
        assert lane in drawn, lane


def test_the_example_runs_as_a_script_and_its_topology_needs_no_jvm() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "order A-1 paid with CH-A-1" in out
    assert "failed at pay: SubSagaFailedError: sub-saga 'card-payment'" in out
    assert "payment after the undo: COMPENSATED" in out
    assert "stock held: {'A-1': 'reserved'}, charges: {'A-1': 40.0}, labels: {'A-1': '1 Main St'}" in out
    assert out.rstrip().endswith("void label LBL-A-3\nrefund CH-A-3\nvoid AUTH-A-3\nrelease RES-A-3")
    code = (
        "import runpy, sys; from fireflytx.topology import topology, Format; "
        f"ns = runpy.run_path({str(EXAMPLE)!r}); "
        "sagas = [v for v in ns.values() if hasattr(v, '__fireflytx_definition__')]; "
        "[topology(s).render(f) for s in sagas for f in Format]; "
        "print(len(sagas), 'jpype' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.split() == ["3", "False"]


async def test_the_live_progress_follows_the_parent_only() -> None:
    from fireflytx import SagaEngine, compensation_step, definition_of, saga, saga_step, sub_saga
    from fireflytx.cli._progress import RunProgress

    @saga("inner-same-ids")
    class Inner:
        @saga_step("a")
        async def a(self, value: int) -> int:
            return value

        @compensation_step("a")
        async def undo_a(self, value: int) -> None:
            pass

        @saga_step("b", depends_on=["a"])
        async def b(self, value: int) -> int:
            raise RuntimeError("inner b fails")

    @saga("outer-same-ids")
    class Outer:
        @saga_step("a")
        async def a(self, value: int) -> int:
            return value

        @sub_saga("b", Inner, depends_on=["a"])
        async def b(self, value: int) -> int:
            return value

    progress = RunProgress(definition_of(Outer))
    async with SagaEngine(listeners=[progress]) as engine:
        result = await engine.execute(Outer, 1)
        assert engine.flush_listeners(30)
    assert result.failed_steps == ("b",)
    # the child's own "a" (compensated) and "b" (failed with its own error) are not the parent's
    assert progress.states() == {"a": "succeeded", "b": "failed"}
    assert progress.attempts() == {"a": 1, "b": 1}
