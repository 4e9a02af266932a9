"""`fireflytx validate`: definition problems listed, exit codes a CI script can trust."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fireflytx.cli import app

ROOT = Path(__file__).parents[2]
PAYMENT = str(ROOT / "examples" / "payment_saga.py")
ORDER = str(ROOT / "examples" / "order_saga.py")

runner = CliRunner()

BROKEN = """
from fireflytx import compensation_step, saga, saga_step

@saga("broken")
class Broken:
    @saga_step("a", depends_on=["b"])
    def a(self, value): ...

    @saga_step("b", depends_on=["a"])
    def b(self, value): ...

    @saga_step("a")
    def again(self, value): ...

    @compensation_step("ghost")
    def undo(self, value): ...
"""


def test_valid_targets_pass() -> None:
    result = runner.invoke(app, ["validate", f"{PAYMENT}:PaymentSaga", ORDER, "fireflytx._demo"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"✓ {PAYMENT}:PaymentSaga: PaymentSaga (payment-processing) is a valid saga, 3 steps in 3 layers",
        f"✓ {ORDER}: OrderFulfillmentSaga (order-fulfillment) is a valid saga, 3 steps in 3 layers",
        "✓ fireflytx._demo: OrderFulfillmentSaga (order-fulfillment) is a valid saga, 4 steps in 3 layers",
        "✓ fireflytx._demo: OrderPlacementTcc (order-placement) is a valid tcc, 3 participants",
    ]


def test_every_problem_is_listed_and_the_exit_code_is_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN)
    result = runner.invoke(app, ["validate", str(broken), PAYMENT])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"✗ {broken}: saga 'broken' (Broken) has 3 definition problems"
    assert sorted(lines[1:4]) == [
        "    - compensation undo is for step 'ghost', which the saga does not have",
        "    - dependency cycle: a -> b -> a",
        "    - duplicate step id 'a' on a and again",
    ]
    assert lines[4].startswith(f"✓ {PAYMENT}: PaymentSaga")


def test_json_report(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN)
    result = runner.invoke(app, ["validate", "--json", str(broken), f"{ORDER}:OrderFulfillmentSaga"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    bad, good = report["targets"]
    assert (bad["valid"], bad["usage_error"], len(bad["problems"])) == (False, False, 3)
    assert "dependency cycle: a -> b -> a" in bad["problems"]
    assert good["valid"] is True
    assert good["transactions"] == [
        {
            "class": "OrderFulfillmentSaga",
            "name": "order-fulfillment",
            "kind": "saga",
            "steps": 3,
            "layers": 3,
        }
    ]
    ok = runner.invoke(app, ["validate", "--json", PAYMENT])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["valid"] is True


def test_a_missing_target_is_a_usage_error_even_next_to_broken_ones(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN)
    result = runner.invoke(app, ["validate", str(broken), str(tmp_path / "absent.py")])
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'absent.py'}: no such file" in result.stderr
    assert "dependency cycle" in result.stdout


def test_an_import_failure_is_a_failure(tmp_path: Path) -> None:
    crash = tmp_path / "crash.py"
    crash.write_text("raise ImportError('cannot reach the config service')\n")
    result = runner.invoke(app, ["validate", str(crash)])
    assert result.exit_code == 1
    assert "importing" in result.stdout and "ImportError: cannot reach the config service" in result.stdout


def test_validate_needs_a_target() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr
