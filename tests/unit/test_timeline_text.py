from __future__ import annotations

from fireflytx.topology import Bar, BarOutcome, Lane, Timeline

TIMELINE = Timeline(
    title="OrderSaga (order)",
    subtitle="COMPENSATED · 120.0 ms",
    ok=False,
    duration_ms=120.0,
    lanes=(
        Lane(label="reserve", kind="step",
             bars=(Bar(start_ms=0, end_ms=10.25, outcome=BarOutcome.OK, label="#1"),)),
        Lane(label="↺ release", kind="compensation",
             bars=(Bar(start_ms=90, end_ms=95, outcome=BarOutcome.COMPENSATED, label="#1"),)),
        Lane(label="charge", kind="step", note="✗ Declined: card", bars=(
            Bar(start_ms=11, end_ms=12, outcome=BarOutcome.FAILED, label="#1", detail="card"),
            Bar(start_ms=40, end_ms=41.5, outcome=BarOutcome.FAILED, label="#2", detail="card", retry=True),
        )),
        Lane(label="ship", kind="step", bars=(), note="not run"),
    ),
)


def test_a_timeline_prints_one_line_per_lane() -> None:
    assert repr(TIMELINE) == (
        "timeline OrderSaga (order) · COMPENSATED · 120.0 ms\n"
        "  reserve      ok 0.0–10.2 ms\n"
        "    ↺ release  compensated 90.0–95.0 ms\n"
        "  charge       failed 11.0–12.0 ms (card); ↻ failed 40.0–41.5 ms (card); ✗ Declined: card\n"
        "  ship         not run"
    )
    assert str(TIMELINE) == repr(TIMELINE)
    assert TIMELINE.to_text() == repr(TIMELINE) + "\n"


def test_the_notebook_bundle_uses_the_readable_text() -> None:
    bundle = TIMELINE._repr_mimebundle_()
    assert bundle["text/plain"].startswith("timeline OrderSaga (order)")
    assert bundle["image/svg+xml"].startswith("<?xml")
