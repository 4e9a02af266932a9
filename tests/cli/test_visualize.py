"""`fireflytx visualize`, and the TARGET loader every command shares, used as a person would."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireflytx.cli import app

ROOT = Path(__file__).parents[2]
PAYMENT = str(ROOT / "examples" / "payment_saga.py")
ORDER = str(ROOT / "examples" / "order_saga.py")

runner = CliRunner()

PAYMENT_TREE = """\
PaymentSaga (payment-processing)
├─ validate-payment (retry=3, timeout=5s)
│  └─ compensation: refund_validation
├─ process-payment (depends_on: validate-payment)
│  └─ compensation: refund_payment
└─ send-confirmation (depends_on: process-payment)
execution layers:
  1  validate-payment
  2  process-payment
  3  send-confirmation
"""

TWO_SAGAS = """
from fireflytx import saga, saga_step

@saga("first")
class First:
    @saga_step("a")
    def a(self, value): ...

@saga("second")
class Second:
    @saga_step("b")
    def b(self, value): ...

class NotASaga:
    pass

helper = 42
"""

BROKEN = """
from fireflytx import compensation_step, saga, saga_step

@saga("broken")
class Broken:
    @saga_step("a", depends_on=["b"])
    def a(self, value): ...

    @saga_step("b", depends_on=["a"])
    def b(self, value): ...

    @saga_step("c", depends_on=["missing"])
    def c(self, value): ...

    @compensation_step("nowhere")
    def undo(self, value): ...
"""


def write(folder: Path, name: str, source: str) -> str:
    path = folder / name
    path.write_text(source)
    return str(path)


def test_ascii_is_the_default() -> None:
    result = runner.invoke(app, ["visualize", f"{PAYMENT}:PaymentSaga"])
    assert result.exit_code == 0, result.output
    assert result.stdout == PAYMENT_TREE
    assert result.stderr == ""


def test_dot_output_is_accepted_by_graphviz(dot_svg: Callable[[str], str]) -> None:
    result = runner.invoke(app, ["visualize", f"{ORDER}:OrderFulfillmentSaga", "--format", "dot"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("digraph fireflytx {")
    drawn = "".join(ET.fromstring(dot_svg(result.stdout)).itertext())
    assert "↺ release_inventory" in drawn and "charge-payment" in drawn


def test_mermaid_output_parses(mermaid_parse: Callable[[list[str]], list[dict[str, str]]]) -> None:
    outputs = []
    for target in (f"{PAYMENT}:PaymentSaga", f"{ORDER}:OrderFulfillmentSaga"):
        result = runner.invoke(app, ["visualize", target, "-f", "mermaid"])
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    assert [r["ok"] for r in mermaid_parse(outputs)] == [True, True]


def test_json_and_svg_outputs() -> None:
    result = runner.invoke(app, ["visualize", f"{PAYMENT}:PaymentSaga", "--format", "json"])
    data = json.loads(result.stdout)
    assert (data["kind"], data["name"], data["class_name"]) == ("saga", "payment-processing", "PaymentSaga")
    assert [s["step_id"] for s in data["steps"]] == [
        "validate-payment",
        "process-payment",
        "send-confirmation",
    ]
    svg = runner.invoke(app, ["visualize", f"{PAYMENT}:PaymentSaga", "--format", "svg"])
    assert svg.exit_code == 0
    assert ET.fromstring(svg.stdout).tag == "{http://www.w3.org/2000/svg}svg"


def test_the_output_file_suffix_picks_the_format(tmp_path: Path) -> None:
    target = tmp_path / "order.mmd"
    result = runner.invoke(app, ["visualize", f"{ORDER}:OrderFulfillmentSaga", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "wrote mermaid topology to" in result.stderr
    assert target.read_text().startswith("---\ntitle:")
    explicit = tmp_path / "shape.txt"
    result = runner.invoke(
        app, ["visualize", f"{ORDER}:OrderFulfillmentSaga", "-o", str(explicit), "-f", "dot"]
    )
    assert result.exit_code == 0 and explicit.read_text().startswith("digraph")


def test_an_unknown_output_suffix_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["visualize", f"{PAYMENT}:PaymentSaga", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "cannot tell the format from 'x.png'" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_a_module_target_and_a_file_with_one_saga() -> None:
    by_module = runner.invoke(app, ["visualize", "fireflytx._demo:OrderFulfillmentSaga"])
    assert by_module.exit_code == 0 and by_module.stdout.startswith(
        "OrderFulfillmentSaga (order-fulfillment)\n"
    )
    by_file = runner.invoke(app, ["visualize", PAYMENT])
    assert by_file.exit_code == 0 and by_file.stdout == PAYMENT_TREE
    several = runner.invoke(app, ["visualize", "fireflytx._demo"])
    assert several.exit_code == 2
    assert (
        "fireflytx._demo defines 2 transactions; pick one: fireflytx._demo:OrderFulfillmentSaga or "
        "fireflytx._demo:OrderPlacementTcc"
    ) in several.stderr


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{tmp}/nowhere.py:X", "no such file: {tmp}/nowhere.py"),
        ("{tmp}/two.py:Third", "{tmp}/two.py has no class 'Third'; it defines First (saga), Second (saga)"),
        (
            "{tmp}/two.py:NotASaga",
            "{tmp}/two.py:NotASaga is not a saga or TCC class: decorate it with @saga('name')",
        ),
        ("{tmp}/two.py:helper", "{tmp}/two.py:helper is a int, not a class"),
        (
            "{tmp}/two.py",
            "{tmp}/two.py defines 2 transactions; pick one: {tmp}/two.py:First or {tmp}/two.py:Second",
        ),
        ("{tmp}", "is a directory; name a .py file in it"),
        ("no_such_module_here:X", "no module named 'no_such_module_here'"),
        ("not a module!", "'not a module!' is neither a .py file nor a module name"),
        (":Nothing", "names no file or module before ':'"),
    ],
)
def test_a_target_that_cannot_be_found_is_a_usage_error(tmp_path: Path, target: str, message: str) -> None:
    write(tmp_path, "two.py", TWO_SAGAS)
    result = runner.invoke(app, ["visualize", target.format(tmp=tmp_path)])
    assert result.exit_code == 2, result.output
    assert message.format(tmp=tmp_path) in result.stderr
    assert result.stdout == ""


def test_definition_errors_are_reported_as_validation_problems(tmp_path: Path) -> None:
    target = write(tmp_path, "broken.py", BROKEN)
    result = runner.invoke(app, ["visualize", f"{target}:Broken"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error: saga 'broken' (Broken) has 3 definition problems" in result.stderr
    assert "✗ dependency cycle: a -> b -> a" in result.stderr
    assert "✗ step 'c' depends on unknown step 'missing'" in result.stderr
    assert "✗ compensation undo is for step 'nowhere', which the saga does not have" in result.stderr


def test_a_module_that_fails_to_import_is_a_failure_with_its_traceback(tmp_path: Path) -> None:
    crash = write(tmp_path, "crash.py", "import os\n\nraise RuntimeError('no config found')\n")
    result = runner.invoke(app, ["visualize", f"{crash}:X"])
    assert result.exit_code == 1
    assert f"importing {crash} failed: RuntimeError: no config found (at {crash}:3)" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    syntax = write(tmp_path, "syntax.py", "def broken(:\n    pass\n")
    result = runner.invoke(app, ["visualize", f"{syntax}:X"])
    assert result.exit_code == 1
    assert f"{syntax}:1: syntax error" in result.stderr
    missing_dependency = write(tmp_path, "needs.py", "import surely_not_installed_anywhere\n")
    result = runner.invoke(app, ["visualize", f"{missing_dependency}:X"])
    assert result.exit_code == 1
    assert "ModuleNotFoundError: No module named 'surely_not_installed_anywhere'" in result.stderr


def test_a_file_outside_any_package_imports_its_neighbours(tmp_path: Path) -> None:
    helper = f"helpers_{uuid.uuid4().hex}"
    write(tmp_path, f"{helper}.py", "STEP = 'from-a-neighbour'\n")
    source = f"""
from dataclasses import dataclass
from fireflytx import saga, saga_step
from {helper} import STEP

@dataclass
class Order:
    order_id: str

@saga("neighbourly")
class Neighbourly:
    @saga_step(STEP)
    def only(self, order: Order) -> None: ...
"""
    target = write(tmp_path, "standalone.py", source)
    result = runner.invoke(app, ["visualize", f"{target}:Neighbourly"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Neighbourly (neighbourly)\n└─ from-a-neighbour\n")


def test_a_file_inside_a_package_keeps_its_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / f"shop_{uuid.uuid4().hex}"
    package.mkdir()
    write(package, "__init__.py", "")
    write(package, "names.py", "RESERVE = 'reserve-stock'\n")
    source = """
from fireflytx import saga, saga_step
from .names import RESERVE

@saga("packaged")
class Packaged:
    @saga_step(RESERVE, retry=2)
    def reserve(self, value) -> None: ...
"""
    target = write(package, "sagas.py", source)
    result = runner.invoke(app, ["visualize", f"{target}:Packaged"])
    assert result.exit_code == 0, result.output
    assert "└─ reserve-stock (retry=2)" in result.stdout


def test_svg_without_graphviz_fails_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(app, ["visualize", f"{PAYMENT}:PaymentSaga", "--format", "svg"])
    assert result.exit_code == 1
    assert "apt-get install graphviz" in result.stderr
    assert result.stdout == ""


def test_an_unknown_format_is_a_usage_error() -> None:
    result = runner.invoke(app, ["visualize", f"{PAYMENT}:PaymentSaga", "--format", "png"])
    assert result.exit_code == 2
    assert "png" in result.stderr


def test_a_tcc_is_drawn_with_its_participants_in_order(
    dot_svg: Callable[[str], str], mermaid_parse: Callable[[list[str]], list[dict[str, str]]]
) -> None:
    tree = runner.invoke(app, ["visualize", "fireflytx._demo:OrderPlacementTcc"])
    assert tree.exit_code == 0, tree.output
    lines = tree.stdout.splitlines()
    assert lines[0] == "OrderPlacementTcc (order-placement) [timeout=5s]"
    assert [line for line in lines if line[:3] in ("├─ ", "└─ ")] == [
        "├─ payment (order=1)",
        "├─ inventory (order=2)",
        "└─ shipping (order=3)",
    ]
    assert lines[-2] == "tries in order: payment → inventory → shipping"
    dot = runner.invoke(app, ["visualize", "fireflytx._demo:OrderPlacementTcc", "-f", "dot"]).stdout
    assert "try: authorise" in "".join(ET.fromstring(dot_svg(dot)).itertext())
    mermaid = runner.invoke(app, ["visualize", "fireflytx._demo:OrderPlacementTcc", "-f", "mermaid"]).stdout
    assert mermaid_parse([mermaid])[0]["ok"]
    data = json.loads(
        runner.invoke(app, ["visualize", "fireflytx._demo:OrderPlacementTcc", "-f", "json"]).stdout
    )
    assert data["kind"] == "tcc" and [p["order"] for p in data["participants"]] == [1, 2, 3]
