"""Run views and timelines of saga results, built here without a JVM from hand-made results."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fireflytx import (
    SagaResult,
    SagaStatus,
    StepError,
    StepOutcome,
    StepStatus,
    compensation_step,
    saga,
    saga_step,
)
from fireflytx._outcomes import AttemptRecord
from fireflytx.topology import (
    BarOutcome,
    CompensationState,
    SagaRunView,
    Timeline,
    run_view,
    timeline,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


@saga("payment-processing")
class PaymentSaga:
    @saga_step("validate-payment", retry=3, timeout_ms=5000)
    async def validate_payment(self, payment: object) -> None:
        pass

    @compensation_step("validate-payment")
    async def refund_validation(self, validation: object) -> None:
        pass

    @saga_step("process-payment", depends_on=["validate-payment"])
    async def process_payment(self, payment: object) -> None:
        pass

    @compensation_step("process-payment", retry=1)
    async def refund_payment(self, charge: object) -> None:
        pass

    @saga_step("audit", depends_on=["validate-payment"])
    async def audit(self, payment: object) -> None:
        pass

    @saga_step("send-confirmation", depends_on=["process-payment", "audit"])
    async def send_confirmation(self, payment: object) -> None:
        pass


def outcome(
    step_id: str,
    status: StepStatus,
    attempts: list[tuple[float, float, str | None]] = (),  # type: ignore[assignment]
    *,
    error: BaseException | None = None,
    has_compensation: bool = False,
    compensation: tuple[float, float, int, BaseException | None] | None = None,
) -> StepOutcome:
    values: dict[str, Any] = {
        "step_id": step_id,
        "status": status,
        "has_compensation": has_compensation,
        "attempts": len(attempts),
        "attempt_log": tuple(
            AttemptRecord(n, at(a), at(b), None if err is None else StepError("RuntimeError", err))
            for n, (a, b, err) in enumerate(attempts, 1)
        ),
    }
    if attempts:
        values |= {
            "started_at": at(attempts[0][0]),
            "completed_at": at(attempts[-1][1]),
            "duration_ms": attempts[-1][1] - attempts[0][0],
        }
    if error is not None:
        values["error"] = StepError.from_exception(error)
    if compensation is not None:
        start, end, count, comp_error = compensation
        values |= {
            "compensation_started_at": at(start),
            "compensation_completed_at": at(end),
            "compensation_attempts": count,
            "compensated": comp_error is None,
            "compensation_error": None if comp_error is None else StepError.from_exception(comp_error),
        }
    return StepOutcome(**values)


def result(
    status: SagaStatus,
    outcomes: list[StepOutcome],
    *,
    failed: tuple[str, ...] = (),
    compensated: tuple[str, ...] = (),
) -> SagaResult:
    values = {
        "saga_name": "payment-processing",
        "correlation_id": "run-42",
        "status": status,
        "started_at": T0,
        "completed_at": at(300),
        "duration_ms": 300.0,
        "failed_steps": failed,
        "compensated_steps": compensated,
        "context": {},
    }
    by_id = {o.step_id: o for o in outcomes}
    return SagaResult.deferred(values, lambda: by_id)


def succeeded_with_retries() -> SagaResult:
    return result(
        SagaStatus.SUCCEEDED,
        [
            outcome(
                "validate-payment",
                StepStatus.SUCCEEDED,
                [
                    (1, 11, "fraud check unavailable (call 1)"),
                    (111, 121, "fraud check unavailable (call 2)"),
                    (221, 231, None),
                ],
                has_compensation=True,
            ),
            outcome("process-payment", StepStatus.SUCCEEDED, [(232, 240, None)], has_compensation=True),
            outcome("audit", StepStatus.SUCCEEDED, [(232, 236, None)]),
            outcome("send-confirmation", StepStatus.SUCCEEDED, [(241, 250, None)]),
        ],
    )


def compensated_after_failure() -> SagaResult:
    return result(
        SagaStatus.COMPENSATED,
        [
            outcome(
                "validate-payment",
                StepStatus.COMPENSATED,
                [(1, 11, None)],
                has_compensation=True,
                compensation=(30, 32, 1, None),
            ),
            outcome(
                "process-payment",
                StepStatus.FAILED,
                [(12, 20, "card ending 0000 was declined")],
                error=PermissionError("card ending 0000 was declined"),
                has_compensation=True,
            ),
            outcome("audit", StepStatus.SUCCEEDED, [(12, 15, None)]),
            outcome("send-confirmation", StepStatus.NOT_RUN),
        ],
        failed=("process-payment",),
        compensated=("validate-payment",),
    )


def compensation_failed_and_skipped() -> SagaResult:
    return result(
        SagaStatus.COMPENSATION_FAILED,
        [
            outcome("validate-payment", StepStatus.SUCCEEDED, [(1, 11, None)], has_compensation=True),
            outcome(
                "process-payment",
                StepStatus.COMPENSATION_FAILED,
                [(12, 20, None)],
                has_compensation=True,
                compensation=(40, 90, 2, RuntimeError("<script>alert('gateway down')</script>")),
            ),
            outcome(
                "audit",
                StepStatus.FAILED,
                [(12, 30, "audit log full")],
                error=OSError("audit log full"),
            ),
            outcome("send-confirmation", StepStatus.NOT_RUN),
        ],
        failed=("audit",),
    )


def test_a_successful_run_lists_each_attempt_of_a_retried_step() -> None:
    text = run_view(succeeded_with_retries(), PaymentSaga).to_ascii()
    assert text.splitlines() == [
        "PaymentSaga (payment-processing) · SUCCEEDED · 300.0 ms · correlation_id=run-42",
        "├─ ✓ validate-payment · succeeded · 3 attempts · 230.0 ms",
        "│  ├─ attempt 1 ✗ fraud check unavailable (call 1) · 10.0 ms",
        "│  ├─ attempt 2 ✗ fraud check unavailable (call 2) · 10.0 ms",
        "│  └─ attempt 3 ✓ · 10.0 ms",
        "├─ ✓ process-payment · succeeded · 1 attempt · 8.0 ms",
        "├─ ✓ audit · succeeded · 1 attempt · 4.0 ms",
        "└─ ✓ send-confirmation · succeeded · 1 attempt · 9.0 ms",
        "all 4 steps succeeded",
    ]


def test_a_failed_run_shows_where_it_broke_and_what_was_undone() -> None:
    text = run_view(compensated_after_failure(), PaymentSaga).to_ascii()
    assert text.splitlines() == [
        "PaymentSaga (payment-processing) · COMPENSATED · 300.0 ms · correlation_id=run-42",
        "├─ ↺ validate-payment · compensated · 1 attempt · 10.0 ms",
        "│  └─ ↺ compensated by refund_validation (#1) · 1 attempt · 2.0 ms",
        "├─ ✗ process-payment · FAILED · 1 attempt · 8.0 ms",
        "│  └─ PermissionError: card ending 0000 was declined",
        "├─ ✓ audit · succeeded · 1 attempt · 3.0 ms",
        "│  └─ ⚠ no compensation defined: its effect stays",
        "└─ ○ send-confirmation · not run",
        "failed at: process-payment (PermissionError: card ending 0000 was declined)",
        "undone: validate-payment",
        "not run: send-confirmation",
    ]


def test_failed_and_skipped_compensations_are_called_out() -> None:
    view = run_view(compensation_failed_and_skipped(), PaymentSaga)
    states = {s.step_id: s.compensation.state for s in view.steps}
    assert states == {
        "validate-payment": CompensationState.SKIPPED,
        "process-payment": CompensationState.FAILED,
        "audit": CompensationState.NONE,
        "send-confirmation": CompensationState.NONE,
    }
    assert run_view(compensated_after_failure()).step("process-payment").compensation.state is (
        CompensationState.NOT_NEEDED
    )
    text = view.to_ascii()
    assert "│  └─ ⚠ not compensated: refund_validation was skipped\n" in text
    assert (
        "├─ ‼ process-payment · COMPENSATION FAILED · 1 attempt · 8.0 ms\n"
        "│  └─ ‼ compensation refund_payment (#1) FAILED after 2 attempts: "
        "RuntimeError: <script>alert('gateway down')</script>\n"
    ) in text
    assert text.endswith(
        "failed at: audit (OSError: audit log full)\nundone: nothing\n"
        "NOT undone: validate-payment, process-payment\nnot run: send-confirmation\n"
    )


def test_the_view_model_has_times_relative_to_the_start() -> None:
    view = run_view(compensated_after_failure(), PaymentSaga)
    assert (view.kind, view.name, view.class_name, view.status) == (
        "saga",
        "payment-processing",
        "PaymentSaga",
        SagaStatus.COMPENSATED,
    )
    assert view.layers == (("validate-payment",), ("process-payment", "audit"), ("send-confirmation",))
    validate = view.step("validate-payment")
    assert (validate.start_ms, validate.end_ms, validate.layer) == (1.0, 11.0, 0)
    comp = validate.compensation
    assert (comp.state, comp.method, comp.order, comp.start_ms, comp.end_ms) == (
        CompensationState.COMPENSATED,
        "refund_validation",
        1,
        30.0,
        32.0,
    )
    failed = view.step("process-payment")
    assert failed.error == "PermissionError: card ending 0000 was declined"
    assert failed.attempt_log[0].error == "card ending 0000 was declined"
    assert view.step("send-confirmation").depends_on == ("process-payment", "audit")
    assert SagaRunView.model_validate_json(view.to_json()) == view
    with pytest.raises(KeyError):
        view.step("nope")


def test_without_the_class_the_view_still_shows_every_step() -> None:
    view = run_view(compensated_after_failure())
    assert view.class_name is None and view.layers == ()
    assert view.step("validate-payment").compensation.method is None
    text = view.to_ascii()
    assert text.startswith("payment-processing · COMPENSATED · 300.0 ms")
    assert "│  └─ ↺ compensated (#1) · 1 attempt · 2.0 ms\n" in text
    assert "->" not in view.to_dot().replace("-> c", "")  # only the compensation arrows remain
    assert "subgraph" not in view.to_dot()


def test_the_view_refuses_a_class_of_another_saga_and_other_objects() -> None:
    @saga("other")
    class Other:
        @saga_step("x")
        def x(self, value: object) -> None:
            pass

    with pytest.raises(ValueError, match="cannot be drawn with the topology of saga 'other'"):
        run_view(compensated_after_failure(), Other)
    with pytest.raises(TypeError, match="takes a SagaResult or a TccResult, not dict"):
        run_view({"saga_name": "x"})  # type: ignore[arg-type]


def test_the_failed_step_stands_out_in_dot(dot_svg: Callable[[str], str]) -> None:
    view = run_view(compensation_failed_and_skipped(), PaymentSaga)
    dot = view.to_dot()
    styles = dict(
        re.findall(
            r'label="(?:[✓✗↺‼○] )?([^"\\]+)\\n[^"]*", shape="box", style="[^"]*", fillcolor="(#\w+)"', dot
        )
    )
    assert styles == {
        "validate-payment": "#e6f4ea",
        "process-payment": "#fdecea",
        "audit": "#fdecea",
        "send-confirmation": "#f5f5f5",
    }
    assert 'label="↺ #1 refund_payment\\nFAILED · 2 attempts · 50.0 ms' in dot
    assert 'label="↺ refund_validation\\nskipped"' in dot
    svg = dot_svg(dot)
    assert "&lt;script&gt;" in svg and "<script>" not in svg


def test_run_views_draw_in_every_format(
    dot_svg: Callable[[str], str], mermaid_parse: Callable[[list[str]], list[dict[str, str]]]
) -> None:
    views = [
        run_view(r, cls)
        for r in (succeeded_with_retries(), compensated_after_failure(), compensation_failed_and_skipped())
        for cls in (PaymentSaga, None)
    ]
    for view in views:
        dot_svg(view.to_dot())
        assert json.loads(view.render("json"))["correlation_id"] == "run-42"
        assert ET.fromstring(view.to_svg()).tag == f"{SVG}svg"
    assert all(r["ok"] for r in mermaid_parse([v.to_mermaid() for v in views]))


def test_the_timeline_has_a_bar_per_attempt_and_marks_retries() -> None:
    line = timeline(succeeded_with_retries(), PaymentSaga)
    assert isinstance(line, Timeline)
    first = line.lanes[0]
    assert first.label == "validate-payment"
    assert [(b.start_ms, b.end_ms, b.outcome, b.retry) for b in first.bars] == [
        (1.0, 11.0, BarOutcome.FAILED, False),
        (111.0, 121.0, BarOutcome.FAILED, True),
        (221.0, 231.0, BarOutcome.OK, True),
    ]
    assert first.note == "✓ 230.0 ms · 3 attempts"
    root = ET.fromstring(line.to_svg())
    rects = root.findall(f"{SVG}rect")
    fills = [r.get("fill") for r in rects if r.find(f"{SVG}title") is not None]
    assert fills == ["#e53935", "#e53935", "#43a047", "#43a047", "#43a047", "#43a047"]
    assert len(root.findall(f"{SVG}line[@stroke-dasharray='2,2']")) == 2
    assert "".join(root.itertext()).count("↻") == 3  # two retries plus the legend


def test_the_timeline_shows_compensations_in_their_own_lanes() -> None:
    line = run_view(compensation_failed_and_skipped(), PaymentSaga).timeline()
    assert [(lane.label, lane.kind) for lane in line.lanes] == [
        ("validate-payment", "step"),
        ("process-payment", "step"),
        ("↺ refund_payment", "compensation"),
        ("audit", "step"),
        ("send-confirmation", "step"),
    ]
    undo = line.lanes[2].bars[0]
    assert (undo.start_ms, undo.end_ms, undo.outcome) == (40.0, 90.0, BarOutcome.COMPENSATION_FAILED)
    assert line.lanes[4].bars == () and line.lanes[4].note == "not run"
    assert not line.ok and line.subtitle.startswith("COMPENSATION_FAILED · 300.0 ms")


def test_the_timeline_escapes_text_and_writes_html() -> None:
    line = timeline(compensation_failed_and_skipped(), PaymentSaga)
    svg = line.to_svg()
    ET.fromstring(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    page = line.to_html()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page
    assert page.count("<tr") == 6  # the header, four bars, one lane that never ran
    fragment = line._repr_html_()
    assert fragment.startswith('<div class="fireflytx-timeline">\n<svg') and "<!DOCTYPE" not in fragment
    assert line._repr_mimebundle_()["image/svg+xml"] == svg
    assert Timeline.model_validate_json(line.render("json")) == line
    assert line.render("html") == page and line.render("svg") == svg
    with pytest.raises(ValueError, match="'pdf' is not a valid TimelineFormat"):
        line.render("pdf")
