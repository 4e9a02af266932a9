"""`fireflytx run` on the real engine: results, views, timelines, exit codes and the live display."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from fireflytx import SagaEngine, definition_of
from fireflytx.cli import app
from fireflytx.cli._progress import RunProgress

ROOT = Path(__file__).parents[2]
PAYMENT = f"{ROOT / 'examples' / 'payment_saga.py'}:PaymentSaga"
ORDER = f"{ROOT / 'examples' / 'order_saga.py'}:OrderFulfillmentSaga"
PAY_OK = '{"payment_id": "P-1", "amount": 25}'
PAY_DECLINED = '{"payment_id": "P-2", "amount": 25, "card": "0000"}'

runner = CliRunner()

BREAKER = """
from fireflytx import SagaContext, compensation_step, saga, saga_step

@saga("breaker")
class Breaker:
    @saga_step("a")
    def a(self, value, ctx: SagaContext) -> str:
        return ctx.get_header("tenant") or "no tenant"

    @compensation_step("a")
    def undo_a(self, result) -> None:
        pass

    @saga_step("b", depends_on=["a"])
    def b(self, value) -> str:
        return "b"

    @compensation_step("b", critical=True)
    def undo_b(self, result) -> None:
        raise RuntimeError("undo b failed")

    @saga_step("c", depends_on=["b"])
    def c(self, value) -> None:
        if value and value.get("fail"):
            raise ValueError("c failed")
"""

SLOW = """
import asyncio
from fireflytx import saga, saga_step

@saga("slow")
class Slow:
    @saga_step("warm-up")
    async def warm_up(self, value) -> None:
        await asyncio.sleep(0.6)

    @saga_step("cool-down", depends_on=["warm-up"])
    async def cool_down(self, value) -> None:
        await asyncio.sleep(0.6)
"""

TCC = """
from fireflytx import cancel_method, confirm_method, tcc, tcc_participant, try_method

@tcc("booking")
class Booking:
    @tcc_participant("seat", order=1)
    class Seat:
        @try_method
        async def hold(self, request: dict) -> str:
            return "S-1"

        @confirm_method
        async def book(self, seat: str) -> None: ...

        @cancel_method
        async def free(self, seat: str | None) -> None: ...

    @tcc_participant("meal", order=2)
    class Meal:
        @try_method(retry=1, backoff_ms=20)
        def order(self, request: dict) -> str:
            if request.get("meal") == "unicorn":
                raise LookupError("no unicorn today")
            return "M-1"

        @confirm_method
        def serve(self, meal: str) -> None: ...

        @cancel_method
        def drop(self, meal: str | None) -> None: ...
"""


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["run", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_a_successful_run_prints_its_view_and_exits_0() -> None:
    code, out, err = invoke(PAYMENT, "--input", PAY_OK)
    assert code == 0, err
    lines = out.splitlines()
    assert re.fullmatch(
        r"PaymentSaga \(payment-processing\) · SUCCEEDED · [\d.]+ m?s · correlation_id=\S+", lines[0]
    )
    assert lines[1].startswith("├─ ✓ validate-payment · succeeded · 1 attempt · ")
    assert lines[-1] == "all 3 steps succeeded"


def test_a_failed_run_shows_where_it_broke_and_exits_1() -> None:
    code, out, _ = invoke(PAYMENT, "--input", PAY_DECLINED, "--correlation-id", "order-77")
    assert code == 1
    assert "· COMPENSATED · " in out.splitlines()[0] and out.splitlines()[0].endswith(
        "correlation_id=order-77"
    )
    assert "├─ ✗ process-payment · FAILED · 1 attempt · " in out
    assert "│  └─ PermissionError: card ending 0000 was declined\n" in out
    assert "│  └─ ↺ compensated by refund_validation (#1) · 1 attempt · " in out
    assert out.endswith(
        "failed at: process-payment (PermissionError: card ending 0000 was declined)\n"
        "undone: validate-payment\nnot run: send-confirmation\n"
    )


def test_events_prints_each_transaction_event_as_it_happens() -> None:
    code, out, err = invoke(PAYMENT, "--input", PAY_DECLINED, "--correlation-id", "order-78", "--events")
    assert code == 1
    stamped = re.compile(r"\d\d:\d\d:\d\d\.\d{3} ")
    lines = [line.split(" ", 1)[1] for line in err.splitlines() if stamped.match(line)]
    kinds = [line.split()[0] for line in lines]
    assert kinds[0] == "TRANSACTION_STARTED" and kinds[-1] == "TRANSACTION_FINISHED"
    text = "\n".join(lines)
    assert "STEP_FAILED              payment-processing/process-payment #1 PermissionError:" in text
    assert "COMPENSATION_SUCCEEDED   payment-processing/validate-payment #1" in text
    assert lines[-1].startswith("TRANSACTION_FINISHED     payment-processing COMPENSATED ")
    assert "STEP_STARTED" not in out


def test_retries_are_listed_attempt_by_attempt() -> None:
    code, out, _ = invoke(PAYMENT, "--input", '{"payment_id": "P-3", "amount": 5, "fraud_check_hiccups": 2}')
    assert code == 0
    assert "├─ ✓ validate-payment · succeeded · 3 attempts · " in out
    assert "│  ├─ attempt 1 ✗ fraud check unavailable (call 1) · " in out
    assert "│  └─ attempt 3 ✓ · " in out


def test_json_prints_the_result_dict() -> None:
    code, out, _ = invoke(ORDER, "--json", "--input", '{"order_id": "A-2", "items": ["desk"], "total": 5000}')
    assert code == 1
    data = json.loads(out)
    assert (data["status"], data["is_success"], data["failed_steps"]) == (
        "COMPENSATED",
        False,
        ["charge-payment"],
    )
    assert data["compensated_steps"] == ["reserve-inventory"]
    assert data["steps"]["reserve-inventory"]["compensated"] is True


def test_the_run_view_in_other_formats(
    dot_svg: Callable[[str], str], mermaid_parse: Callable[[list[str]], list[dict[str, str]]]
) -> None:
    code, dot, _ = invoke(PAYMENT, "--input", PAY_DECLINED, "--format", "dot")
    assert code == 1
    assert "✗ process-payment" in "".join(ET.fromstring(dot_svg(dot)).itertext())
    code, mermaid, _ = invoke(
        ORDER, "--input", '{"order_id": "A-1", "items": ["book"], "total": 30}', "-f", "mermaid"
    )
    assert code == 0
    assert mermaid_parse([mermaid]) == [{"ok": True, "type": "flowchart-v2"}]
    code, view, _ = invoke(PAYMENT, "--input", PAY_OK, "-f", "json")
    assert code == 0 and json.loads(view)["status"] == "SUCCEEDED"


def test_timelines_are_written_as_svg_or_html(tmp_path: Path) -> None:
    svg_file, html_file = tmp_path / "run.svg", tmp_path / "run.html"
    retrying = '{"payment_id": "P-4", "amount": 5, "fraud_check_hiccups": 1}'
    code, _, err = invoke(PAYMENT, "--input", retrying, "--timeline", str(svg_file))
    assert code == 0 and f"wrote svg timeline to {svg_file}" in err
    root = ET.fromstring(svg_file.read_text())
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{*}title") is not None]
    assert [b.get("fill") for b in bars] == ["#e53935", "#43a047", "#43a047", "#43a047"]
    code, _, _ = invoke(PAYMENT, "--input", PAY_DECLINED, "--timeline", str(html_file))
    assert code == 1
    page = html_file.read_text()
    assert page.startswith("<!DOCTYPE html>") and "↺ refund_validation" in page


def test_input_from_a_file_and_from_stdin(tmp_path: Path) -> None:
    payload = tmp_path / "payment.json"
    payload.write_text(PAY_OK)
    assert invoke(PAYMENT, "--input", f"@{payload}")[0] == 0
    assert invoke(PAYMENT, "--input", "@-", stdin=PAY_DECLINED)[0] == 1


def test_policy_headers_and_correlation_id_reach_the_run(tmp_path: Path) -> None:
    target = tmp_path / "breaker.py"
    target.write_text(BREAKER)
    code, out, _ = invoke(
        f"{target}:Breaker",
        "--input",
        '{"fail": true}',
        "--policy",
        "circuit_breaker",
        "-H",
        "tenant=acme",
        "--json",
    )
    assert code == 1
    data = json.loads(out)
    assert data["context"]["headers"] == {"tenant": "acme"}
    assert data["steps"]["a"]["result"] == "acme"
    assert data["steps"]["a"]["compensated"] is False  # skipped: b's critical compensation failed first
    code, out, _ = invoke(f"{target}:Breaker", "--input", '{"fail": true}', "--policy", "STRICT_SEQUENTIAL")
    assert code == 1 and "↺ compensated by undo_a" in out
    code, out, _ = invoke(f"{target}:Breaker", "--correlation-id", "fine-1")
    assert code == 0 and "correlation_id=fine-1" in out


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    cases = [
        (["--input", "{not json"], "--input is not valid JSON"),
        (["--input", f"@{tmp_path / 'absent.json'}"], "cannot read the input file"),
        (["--timeline", str(tmp_path / "run.png")], "--timeline must end in .svg, .html or .json"),
        (["--header", "no-equals-sign"], "--header needs KEY=VALUE"),
        (["--correlation-id", "a|b"], "--correlation-id must be non-empty and must not contain '|'"),
        (["--policy", "YOLO"], "YOLO"),
    ]
    for extra, message in cases:
        code, out, err = invoke(PAYMENT, *extra)
        assert code == 2, (extra, err)
        assert message in err, (extra, err)
        assert out == ""


def test_input_that_does_not_fit_the_saga_fails_before_any_step() -> None:
    code, out, err = invoke(PAYMENT, "--input", '{"payment_id": 1}')
    assert code == 1 and out == ""
    assert (
        "InputValidationError: input of saga 'payment-processing' does not fit step 'validate-payment'" in err
    )


def test_a_saga_that_needs_constructor_arguments_is_explained(tmp_path: Path) -> None:
    target = tmp_path / "needs_args.py"
    target.write_text(
        "from fireflytx import saga, saga_step\n\n"
        "@saga('needs-db')\nclass NeedsDb:\n"
        "    def __init__(self, db):\n        self.db = db\n\n"
        "    @saga_step('save')\n    def save(self, value):\n        pass\n"
    )
    code, _, err = invoke(f"{target}:NeedsDb")
    assert code == 1
    assert "cannot create NeedsDb(): TypeError" in err and "takes no constructor arguments" in err


async def test_the_progress_table_follows_every_attempt_and_compensation(tmp_path: Path) -> None:
    target = tmp_path / "breaker_progress.py"
    target.write_text(BREAKER)
    namespace: dict[str, object] = {}
    exec(compile(target.read_text(), str(target), "exec"), namespace)
    cls = namespace["Breaker"]
    progress = RunProgress(definition_of(cls))
    assert progress.states() == {"a": "waiting", "b": "waiting", "c": "waiting"}
    async with SagaEngine(listeners=[progress]) as engine:
        result = await engine.execute(cls, {"fail": True})
        assert engine.flush_listeners(5)
    assert not result.is_success
    assert progress.states() == {"a": "compensated", "b": "compensation failed", "c": "failed"}
    assert progress.attempts() == {"a": 1, "b": 1, "c": 1}
    console = Console(record=True, width=120, color_system=None)
    console.print(progress)
    text = console.export_text()
    assert text.startswith("running breaker · ")
    assert re.search(r"c\s+failed\s+1\s+[\d.]+s\s+ValueError: c failed", text)
    assert re.search(r"b\s+compensation failed\s+1\s+[\d.]+s\s+RuntimeError: undo b failed", text)


async def test_the_progress_table_follows_a_tcc_too() -> None:
    from fireflytx import (
        TccEngine,
        cancel_method,
        confirm_method,
        tcc,
        tcc_definition_of,
        tcc_participant,
        try_method,
    )

    @tcc("progress-tcc")
    class Placement:
        @tcc_participant("pay", order=1)
        class Pay:
            @try_method
            async def t(self) -> str:
                return "auth"

            @confirm_method
            async def c(self, _: str) -> None: ...

            @cancel_method
            async def x(self, _: str | None) -> None: ...

        @tcc_participant("ship", order=2)
        class Ship:
            @try_method(retry=1, backoff_ms=1)
            def t(self) -> None:
                raise ValueError("no courier")

            @confirm_method
            def c(self, _: object) -> None: ...

            @cancel_method
            def x(self, _: object) -> None: ...

    progress = RunProgress(tcc_definition_of(Placement))
    async with TccEngine(listeners=[progress]) as engine:
        await engine.execute(Placement)
        assert engine.flush_listeners(5)
    assert progress.states() == {"pay": "cancelled", "ship": "cancelled"}
    assert progress.attempts() == {"pay": 1, "ship": 2}
    console = Console(record=True, width=120, color_system=None)
    console.print(progress)
    assert re.search(r"ship\s+cancelled\s+2", console.export_text())


def test_the_live_display_runs_in_a_terminal(tmp_path: Path) -> None:
    target = tmp_path / "slow.py"
    target.write_text(SLOW)
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", "PYTHONPATH": str(ROOT / "src")}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "fireflytx", "run", f"{target}:Slow"],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed when the process ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8", "replace"))
    assert "running slow · " in screen and "s elapsed" in screen
    assert re.search(r"warm-up\s+running", screen)
    assert re.search(r"warm-up\s+succeeded", screen)
    assert re.search(r"cool-down\s+running", screen)
    assert "Slow (slow) · SUCCEEDED" in screen


def test_a_tcc_runs_on_the_tcc_engine(tmp_path: Path) -> None:
    target = tmp_path / "booking.py"
    target.write_text(TCC)
    code, out, _ = invoke(f"{target}:Booking", "--input", '{"meal": "pasta"}')
    assert code == 0
    assert out.splitlines()[0].startswith("Booking (booking) · CONFIRMED · ")
    assert "│  └─ ✓ confirm book · ok · 1 attempt · " in out and out.endswith(
        "all 2 participants confirmed\n"
    )
    timeline_file = tmp_path / "booking.svg"
    code, out, _ = invoke(
        f"{target}:Booking", "--input", '{"meal": "unicorn"}', "--timeline", str(timeline_file)
    )
    assert code == 1
    assert "└─ ✗ meal (order=2) · cancelled\n" in out
    assert "   ├─ ✗ try order · FAILED · 2 attempts · " in out
    assert out.endswith("failed at: meal (LookupError: no unicorn today)\ncancelled: seat, meal\n")
    labels = "".join(ET.fromstring(timeline_file.read_text()).itertext())
    assert "meal · try" in labels and "seat · cancel" in labels
    code, out, _ = invoke(f"{target}:Booking", "--input", '{"meal": "unicorn"}', "--json")
    data = json.loads(out)
    assert (code, data["status"], data["failed_participant"]) == (1, "CANCELED", "meal")


def test_a_tcc_has_no_compensation_policy(tmp_path: Path) -> None:
    target = tmp_path / "booking_policy.py"
    target.write_text(TCC)
    code, out, err = invoke(f"{target}:Booking", "--policy", "circuit_breaker")
    assert code == 2 and out == ""
    assert "a TCC has no compensation policy" in err


def test_a_step_returning_a_value_that_contains_itself_fails_cleanly(tmp_path: Path) -> None:
    target = tmp_path / "loops.py"
    target.write_text(
        "from fireflytx import saga, saga_step\n\n"
        "@saga('loops')\nclass Loops:\n"
        "    @saga_step('a')\n    def a(self):\n        value = []\n        value.append(value)\n"
        "        return value\n"
    )
    for extra in ([], ["--json"]):
        code, out, err = invoke(f"{target}:Loops", *extra)
        assert code == 1, err
        assert "contains itself" in out
