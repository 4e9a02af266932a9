"""TCC topologies, run views and timelines, built here without a JVM."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from fireflytx import (
    StepError,
    TccParticipantOutcome,
    TccParticipantStatus,
    TccPhaseOutcome,
    TccPhaseStatus,
    TccResult,
    TccStatus,
    cancel_method,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx._outcomes import AttemptRecord
from fireflytx._tcc._definition import tcc_definition_of
from fireflytx.topology import BarOutcome, TccRunView, TccTopology, run_view, timeline, topology

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


@tcc("order-payment", timeout_ms=30000)
class OrderTcc:
    # Declared out of order on purpose: tries run by `order`.
    @tcc_participant("inventory", order=2)
    class Inventory:
        @try_method(retry=2, backoff_ms=50)
        def reserve_stock(self, order: object) -> str:
            return "R-1"

        @confirm_method(retry=0)
        def commit_stock(self, reservation: str) -> None: ...

        @cancel_method
        def release_stock(self, reservation: str | None) -> None: ...

    @tcc_participant("payment", order=1, timeout_ms=10000)
    class Payment:
        @try_method(timeout_ms=2000)
        async def reserve_payment(self, order: object) -> str:
            return "H-1"

        @confirm_method
        async def confirm_payment(self, hold: str) -> None: ...

        @cancel_method(retry=1)
        async def cancel_payment(self, hold: str | None) -> None: ...

    @tcc_participant("loyalty", order=3, optional=True)
    class Loyalty:
        @try_method
        def add_points(self, order: object) -> int:
            return 10

        @confirm_method
        def keep_points(self, points: int) -> None: ...

        @cancel_method
        def drop_points(self, points: int | None) -> None: ...


def test_the_tree_lists_participants_in_order_with_their_three_phases() -> None:
    text = topology(OrderTcc).to_ascii()
    assert text.splitlines() == [
        "OrderTcc (order-payment) [timeout=30s]",
        "├─ payment (order=1)",
        "│  ├─ try: reserve_payment (timeout=2s)",
        "│  ├─ confirm: confirm_payment (retry=3, timeout=10s)",
        "│  └─ cancel: cancel_payment (retry=1, timeout=10s)",
        "├─ inventory (order=2)",
        "│  ├─ try: reserve_stock (retry=2, backoff=50ms, timeout=30s)",
        "│  ├─ confirm: commit_stock (timeout=30s)",
        "│  └─ cancel: release_stock (retry=3, timeout=30s)",
        "└─ loyalty (order=3, optional)",
        "   ├─ try: add_points (timeout=30s)",
        "   ├─ confirm: keep_points (retry=3, timeout=30s)",
        "   └─ cancel: drop_points (retry=3, timeout=30s)",
        "tries in order: payment → inventory → loyalty",
        "then: confirm all, or cancel every participant whose try started",
    ]


def test_the_model_carries_every_setting() -> None:
    shape = topology(OrderTcc)
    assert isinstance(shape, TccTopology)
    assert (shape.kind, shape.name, shape.class_name, shape.timeout_ms) == (
        "tcc",
        "order-payment",
        "OrderTcc",
        30000,
    )
    assert [p.participant_id for p in shape.participants] == ["payment", "inventory", "loyalty"]
    payment = shape.participant("payment")
    assert (payment.order, payment.optional, payment.class_name) == (1, False, "OrderTcc.Payment")
    assert payment.try_phase.model_dump() == {
        "phase": "try",
        "method": "reserve_payment",
        "is_async": True,
        "timeout_ms": 2000,
        "retry": 0,
        "backoff_ms": 100,
    }
    assert [p.phase for p in payment.phases] == ["try", "confirm", "cancel"]
    assert shape.participant("loyalty").optional is True
    assert topology(tcc_definition_of(OrderTcc)) == shape
    assert TccTopology.model_validate_json(shape.to_json()) == shape
    assert json.loads(shape.to_json())["kind"] == "tcc"
    with pytest.raises(KeyError, match="no participant 'nope'"):
        shape.participant("nope")


def test_tcc_diagrams_are_accepted_by_graphviz_and_mermaid(
    dot_svg: Callable[[str], str], mermaid_parse: Callable[[list[str]], list[dict[str, str]]]
) -> None:
    shape = topology(OrderTcc)
    dot = shape.to_dot()
    assert 't0 -> t1 [label="then", minlen=2];' in dot and 't1 -> t2 [label="then", minlen=2];' in dot
    assert 't0 -> x0 [style=dashed, color="#e8a33d", arrowhead=vee, label="a try failed"];' in dot
    drawn = "".join(ET.fromstring(dot_svg(dot)).itertext())
    for phase in (
        "try: reserve_payment",
        "confirm: commit_stock",
        "cancel: drop_points",
        "3 · loyalty (optional)",
    ):
        assert phase in drawn
    mermaid = shape.to_mermaid()
    assert '  t0 --->|"then"| t1\n' in mermaid and '  t0 -.->|"a try failed"| x0\n' in mermaid
    assert mermaid_parse([mermaid]) == [{"ok": True, "type": "flowchart-v2"}]
    assert ET.fromstring(shape.to_svg()).tag == "{http://www.w3.org/2000/svg}svg"


def phase(
    attempts: list[tuple[float, float, str | None]], error: BaseException | None = None
) -> TccPhaseOutcome:
    if not attempts:
        return TccPhaseOutcome()
    return TccPhaseOutcome(
        status=TccPhaseStatus.SUCCEEDED if error is None else TccPhaseStatus.FAILED,
        attempts=len(attempts),
        duration_ms=attempts[-1][1] - attempts[0][0],
        started_at=at(attempts[0][0]),
        completed_at=at(attempts[-1][1]),
        error=None if error is None else StepError.from_exception(error),
        attempt_log=tuple(
            AttemptRecord(n, at(a), at(b), None if e is None else StepError("RuntimeError", e))
            for n, (a, b, e) in enumerate(attempts, 1)
        ),
    )


def participant(
    pid: str,
    order: int,
    status: TccParticipantStatus,
    *,
    optional: bool = False,
    try_: TccPhaseOutcome | None = None,
    confirm: TccPhaseOutcome | None = None,
    cancel: TccPhaseOutcome | None = None,
) -> TccParticipantOutcome:
    return TccParticipantOutcome(
        participant_id=pid,
        order=order,
        optional=optional,
        status=status,
        try_phase=try_ or TccPhaseOutcome(),
        confirm_phase=confirm or TccPhaseOutcome(),
        cancel_phase=cancel or TccPhaseOutcome(),
    )


def tcc_result(status: TccStatus, participants: list[TccParticipantOutcome], failed: str | None) -> TccResult:
    values = {
        "tcc_name": "order-payment",
        "correlation_id": "tx-9",
        "status": status,
        "started_at": T0,
        "completed_at": at(400),
        "duration_ms": 400.0,
        "failed_participant": failed,
    }
    return TccResult.deferred(values, lambda: {p.participant_id: p for p in participants})


def cancelled_run() -> TccResult:
    return tcc_result(
        TccStatus.CANCELED,
        [
            participant(
                "payment",
                1,
                TccParticipantStatus.CANCELED,
                try_=phase([(5, 15, None)]),
                cancel=phase([(300, 302, None)]),
            ),
            participant(
                "inventory",
                2,
                TccParticipantStatus.CANCELED,
                try_=phase(
                    [(16, 20, "out of stock"), (70, 74, "out of stock"), (124, 128, "out of stock")],
                    LookupError("out of stock"),
                ),
                cancel=phase([(290, 299, None)]),
            ),
            participant("loyalty", 3, TccParticipantStatus.SKIPPED, optional=True),
        ],
        failed="inventory",
    )


def confirm_failed_run() -> TccResult:
    return tcc_result(
        TccStatus.CONFIRM_FAILED,
        [
            participant(
                "payment",
                1,
                TccParticipantStatus.CONFIRM_FAILED,
                try_=phase([(5, 15, None)]),
                confirm=phase(
                    [(40, 50, "gateway 503"), (150, 160, "<b>gateway 503</b>")], OSError("<b>gateway 503</b>")
                ),
            ),
            participant(
                "inventory",
                2,
                TccParticipantStatus.CONFIRMED,
                try_=phase([(16, 20, None)]),
                confirm=phase([(40, 45, None)]),
            ),
            participant(
                "loyalty",
                3,
                TccParticipantStatus.CANCEL_FAILED,
                optional=True,
                try_=phase([(21, 30, "points service down")], ConnectionError("points service down")),
                cancel=phase([(31, 33, "still down")], ConnectionError("still down")),
            ),
        ],
        failed="payment",
    )


def test_a_cancelled_run_shows_the_failed_try_and_every_cancel() -> None:
    text = run_view(cancelled_run(), OrderTcc).to_ascii()
    assert text.splitlines() == [
        "OrderTcc (order-payment) · CANCELED · 400.0 ms · correlation_id=tx-9",
        "├─ ↺ payment (order=1) · cancelled",
        "│  ├─ ✓ try reserve_payment · ok · 1 attempt · 10.0 ms",
        "│  └─ ✓ cancel cancel_payment · ok · 1 attempt · 2.0 ms",
        "├─ ✗ inventory (order=2) · cancelled",
        "│  ├─ ✗ try reserve_stock · FAILED · 3 attempts · 112.0 ms",
        "│  │  ├─ attempt 1 ✗ out of stock · 4.0 ms",
        "│  │  ├─ attempt 2 ✗ out of stock · 4.0 ms",
        "│  │  └─ attempt 3 ✗ out of stock · 4.0 ms",
        "│  └─ ✓ cancel release_stock · ok · 1 attempt · 9.0 ms",
        "└─ ○ loyalty (order=3, optional) · skipped, never tried",
        "failed at: inventory (LookupError: out of stock)",
        "cancelled: payment, inventory",
        "skipped: loyalty",
    ]


def test_a_failed_confirm_and_a_failed_cancel_need_attention() -> None:
    view = run_view(confirm_failed_run())
    assert isinstance(view, TccRunView) and view.class_name is None
    text = view.to_ascii()
    assert "├─ ✗ payment (order=1) · CONFIRM FAILED\n" in text
    assert "│  └─ ✗ confirm · FAILED · 2 attempts · 120.0 ms\n" in text
    assert "│     └─ attempt 2 ✗ <b>gateway 503</b> · 10.0 ms\n" in text
    assert "└─ ‼ loyalty (order=3, optional) · CANCEL FAILED\n" in text
    assert text.endswith(
        "failed at: payment (OSError: <b>gateway 503</b>)\nconfirmed: inventory\n"
        "NOT confirmed: payment\nNOT cancelled: loyalty\n"
    )


def test_a_confirmed_run() -> None:
    result = tcc_result(
        TccStatus.CONFIRMED,
        [
            participant(
                "payment",
                1,
                TccParticipantStatus.CONFIRMED,
                try_=phase([(1, 2, None)]),
                confirm=phase([(3, 4, None)]),
            )
        ],
        None,
    )
    view = run_view(result, OrderTcc)
    assert view.is_success
    assert view.to_ascii().endswith(
        "└─ ✓ confirm confirm_payment · ok · 1 attempt · 1.0 ms\nall 1 participant confirmed\n"
    )


def test_the_view_model_and_its_drawings(
    dot_svg: Callable[[str], str], mermaid_parse: Callable[[list[str]], list[dict[str, str]]]
) -> None:
    view = run_view(cancelled_run(), OrderTcc)
    inventory = view.participant("inventory")
    assert inventory.try_phase.method == "reserve_stock"
    assert [(a.number, a.start_ms, a.error) for a in inventory.try_phase.attempt_log] == [
        (1, 16.0, "out of stock"),
        (2, 70.0, "out of stock"),
        (3, 124.0, "out of stock"),
    ]
    assert inventory.cancel_phase.start_ms == 290.0
    assert TccRunView.model_validate_json(view.to_json()) == view
    views = [view, run_view(confirm_failed_run(), OrderTcc), run_view(confirm_failed_run())]
    for each in views:
        drawn = "".join(ET.fromstring(dot_svg(each.to_dot())).itertext())
        assert "FAILED" in drawn
    assert all(r["ok"] for r in mermaid_parse([v.to_mermaid() for v in views]))
    dot = view.to_dot()
    assert 'label="try: reserve_stock\\nFAILED · 3 attempts · 112.0 ms\\nLookupError: out of stock"' in dot
    assert 'label="✗ 2 · inventory · CANCELED"' in dot
    with pytest.raises(KeyError):
        view.participant("nope")


def test_the_timeline_has_a_lane_per_phase_that_ran() -> None:
    line = timeline(cancelled_run(), OrderTcc)
    assert [(lane.label, lane.kind, len(lane.bars)) for lane in line.lanes] == [
        ("payment · try", "phase", 1),
        ("payment · cancel", "compensation", 1),
        ("inventory · try", "phase", 3),
        ("inventory · cancel", "compensation", 1),
        ("loyalty", "phase", 0),
    ]
    tries = line.lanes[2].bars
    assert [(b.outcome, b.retry) for b in tries] == [
        (BarOutcome.FAILED, False),
        (BarOutcome.FAILED, True),
        (BarOutcome.FAILED, True),
    ]
    assert line.lanes[1].bars[0].outcome is BarOutcome.COMPENSATED
    assert line.lanes[4].note == "skipped"
    failed_cancel = timeline(confirm_failed_run()).lanes[-1]
    assert failed_cancel.bars[0].outcome is BarOutcome.COMPENSATION_FAILED
    svg = line.to_svg()
    assert "".join(ET.fromstring(svg).itertext()).count("↻") == 3  # two retries plus the legend


def test_results_and_classes_of_different_kinds_do_not_mix() -> None:
    @saga("other")
    class Other:
        @saga_step("x")
        def x(self, value: object) -> None: ...

    with pytest.raises(ValueError, match="a TccResult cannot be drawn with the saga Other"):
        run_view(cancelled_run(), Other)

    @tcc("order-payment")
    class Impostor:
        @tcc_participant("payment")
        class P:
            @try_method
            def t(self) -> None: ...

            @confirm_method
            def c(self, value: object) -> None: ...

            @cancel_method
            def x(self, value: object) -> None: ...

    with pytest.raises(ValueError, match=r"it has no participants \['inventory', 'loyalty'\]"):
        run_view(cancelled_run(), Impostor)
