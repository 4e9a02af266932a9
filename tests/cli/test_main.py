"""`python -m fireflytx` in a real process: every command a user sees in --help, on the examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import fireflytx

ROOT = Path(__file__).parents[2]
PAYMENT = f"{ROOT / 'examples' / 'payment_saga.py'}:PaymentSaga"
ORDER = f"{ROOT / 'examples' / 'order_saga.py'}:OrderFulfillmentSaga"
ORDER_TCC = f"{ROOT / 'examples' / 'order_tcc.py'}:OrderTcc"
CHECKOUT = f"{ROOT / 'examples' / 'busy_checkout.py'}:CheckoutSaga"
COMMANDS = ["visualize", "validate", "run", "doctor", "jars", "demo"]


def fireflytx_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fireflytx", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=ROOT,
    )


def test_help_lists_every_command_and_each_has_its_own_help() -> None:
    top = fireflytx_cli("--help")
    assert top.returncode == 0
    assert "Usage: python -m fireflytx" in top.stdout
    for command in COMMANDS:
        assert f" {command} " in top.stdout
        assert fireflytx_cli(command, "--help").returncode == 0
    for sub in ("fetch", "info", "verify", "clear"):
        assert fireflytx_cli("jars", sub, "--help").returncode == 0


def test_version() -> None:
    done = fireflytx_cli("--version")
    assert (done.returncode, done.stdout) == (0, f"fireflytx {fireflytx.__version__}\n")


def test_no_command_and_an_unknown_command() -> None:
    assert fireflytx_cli().returncode == 2
    unknown = fireflytx_cli("draw")
    assert unknown.returncode == 2 and "No such command 'draw'" in unknown.stderr


@pytest.mark.parametrize("target", [PAYMENT, ORDER, ORDER_TCC])
def test_visualize_pipes_into_graphviz(target: str, dot_svg: Callable[[str], str]) -> None:
    done = fireflytx_cli("visualize", target, "--format", "dot")
    assert done.returncode == 0 and done.stderr == ""
    dot_svg(done.stdout)


def test_validate_the_examples() -> None:
    done = fireflytx_cli(
        "validate", "examples/payment_saga.py", "examples/order_saga.py", "examples/busy_checkout.py"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("is a valid saga") == 3


def test_the_busy_checkout_example_queues_callers_and_reports_each_run() -> None:
    one = fireflytx_cli("run", CHECKOUT, "--input", '{"order_id": "O-3"}', "--json")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["steps"]["ship"]["result"]["charge_attempts"] == 2
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    script = subprocess.run(
        [sys.executable, "examples/busy_checkout.py"],
        capture_output=True, text=True, timeout=300, env=environment, cwd=ROOT,
    )
    assert script.returncode == 0, script.stderr
    assert "while it runs: <SagaEngine running, 50/50 runs in flight, 950 waiting>" in script.stdout
    assert "1000 of 1000 orders succeeded" in script.stdout
    assert "334 needed a second charge attempt; 1000 shipments" in script.stdout
    assert '"idempotency_key": "' in script.stdout and ':step:ship"' in script.stdout


def test_run_the_examples_with_exit_codes_scripts_can_trust() -> None:
    ok = fireflytx_cli(
        "run", ORDER, "--input", '{"order_id": "A-1", "items": ["book"], "total": 30}', "--json"
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "SUCCEEDED"
    failed = fireflytx_cli("run", PAYMENT, "--input", '{"payment_id": "P-2", "amount": 25, "card": "0000"}')
    assert failed.returncode == 1
    assert "✗ process-payment · FAILED" in failed.stdout


def test_the_tcc_example_validates_draws_its_selectors_and_runs(mermaid_parse: Callable[..., Any]) -> None:
    done = fireflytx_cli("validate", "examples/order_tcc.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("is a valid tcc") == 2
    tree = fireflytx_cli("visualize", ORDER_TCC)
    assert tree.returncode == 0, tree.stderr
    assert 'stock (order=2, input=lambda order: order["stock"])' in tree.stdout
    assert "try: try_stock (retry=1, timeout=10s)" in tree.stdout  # method style, drawn like nested ones
    mermaid = fireflytx_cli("visualize", ORDER_TCC, "--format", "mermaid")
    assert mermaid_parse([mermaid.stdout])[0]["ok"]
    order = (
        '{"payment": {"card": "4242", "amount": 30}, "stock": {"sku": "%s", "qty": %d}, '
        '"address": "1 Main St"}'
    )
    placed = fireflytx_cli("run", ORDER_TCC, "--input", order % ("book", 1), "--json")
    assert placed.returncode == 0, placed.stderr
    assert json.loads(placed.stdout)["status"] == "CONFIRMED"
    refused = fireflytx_cli("run", ORDER_TCC, "--input", order % ("desk", 9), "--json")
    data = json.loads(refused.stdout)
    assert (refused.returncode, data["status"], data["failed_participant"]) == (1, "CANCELED", "stock")
    script = subprocess.run(
        [sys.executable, "examples/order_tcc.py"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert script.returncode == 0, script.stderr
    assert "failed participant: stock" in script.stdout and "on hand: {'book': 4, 'desk': 5}" in script.stdout


def test_run_without_java_fails_with_the_fix(tmp_path: Path) -> None:
    done = fireflytx_cli("run", PAYMENT, "--input", "{}", env={"FIREFLYTX_JVM__JAVA_HOME": str(tmp_path)})
    assert done.returncode == 1
    assert "error: JavaNotFoundError" in done.stderr and "FIREFLYTX_JVM__JAVA_HOME" in done.stderr
    assert done.stdout == ""


def test_doctor_demo_and_jars_still_work() -> None:
    doctor = fireflytx_cli("doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    assert json.loads(doctor.stdout)["ok"] is True
    info = fireflytx_cli("jars", "info")
    assert info.returncode == 0 and "artifacts" in info.stdout
    demo = fireflytx_cli("demo")
    assert demo.returncode == 0, demo.stderr
    assert "failed step: charge-payment" in demo.stdout
