"""When each step and compensation ran: a Gantt-style chart, drawn as plain SVG.

One lane per step (each attempt a bar, the wait before a retry a dotted line) and one per
compensation that ran, on a shared millisecond axis from the start of the run. The SVG is written
by hand so it needs nothing installed and embeds anywhere; every bar has a ``<title>`` tooltip.
"""

from __future__ import annotations

import enum
import html
import math
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ._svg import inline_svg
from ._text import ms_taken, shorten

__all__ = ["Bar", "BarOutcome", "Lane", "Timeline", "TimelineFormat"]


class BarOutcome(enum.StrEnum):
    """How the piece of work a bar stands for ended."""

    OK = "ok"
    FAILED = "failed"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"


class TimelineFormat(enum.StrEnum):
    """The formats a timeline can be written in."""

    SVG = "svg"
    HTML = "html"
    JSON = "json"


class Bar(BaseModel):
    """One attempt (or one compensation) from ``start_ms`` to ``end_ms`` after the run started."""

    model_config = ConfigDict(frozen=True)

    start_ms: float
    end_ms: float
    outcome: BarOutcome
    label: str
    detail: str | None = None
    retry: bool = False


class Lane(BaseModel):
    """A row of the chart: a step's attempts or a compensation's run; ``note`` is printed after it."""

    model_config = ConfigDict(frozen=True)

    label: str
    kind: Literal["step", "compensation", "phase"]
    bars: tuple[Bar, ...]
    note: str = ""


class Timeline(BaseModel):
    """A run laid out in time; ``to_svg`` and ``to_html`` draw it, notebooks show it inline."""

    model_config = ConfigDict(frozen=True)

    title: str
    subtitle: str
    ok: bool
    duration_ms: float
    lanes: tuple[Lane, ...]

    def to_svg(self) -> str:
        """A standalone SVG document."""
        return _svg(self)

    def to_html(self) -> str:
        """A standalone HTML page: the chart and a table of every bar."""
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n{self._repr_html_()}\n</body>\n</html>\n"
        )

    def to_json(self, indent: int | None = 2) -> str:
        """The lanes and bars as JSON."""
        return self.model_dump_json(indent=indent)

    def render(self, format: TimelineFormat | str = TimelineFormat.SVG) -> str:
        """The timeline as ``svg``, ``html`` or ``json``.

        Raises:
            ValueError: an unknown format name.
        """
        chosen = TimelineFormat(format)
        if chosen is TimelineFormat.SVG:
            return self.to_svg()
        return self.to_html() if chosen is TimelineFormat.HTML else self.to_json()

    def to_text(self) -> str:
        """The timeline as plain text: one line per lane, each bar as outcome, start and end."""
        return _text(self)

    def __repr__(self) -> str:
        return _text(self).rstrip("\n")

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = []
        for lane in self.lanes:
            for bar in lane.bars:
                rows.append(
                    f'<tr class="{bar.outcome.value}"><td>{html.escape(lane.label)}</td>'
                    f"<td>{html.escape(bar.label)}</td><td>{bar.start_ms:.1f}</td><td>{bar.end_ms:.1f}</td>"
                    f"<td>{bar.end_ms - bar.start_ms:.1f}</td><td>{bar.outcome.value}</td>"
                    f"<td>{html.escape(bar.detail or '')}</td></tr>"
                )
            if not lane.bars:
                rows.append(
                    f"<tr><td>{html.escape(lane.label)}</td>"
                    f'<td colspan="6">{html.escape(lane.note)}</td></tr>'
                )
        body = "\n".join(rows)
        return (
            f'<div class="fireflytx-timeline">\n{inline_svg(self.to_svg())}\n'
            '<table class="fireflytx-timeline-table"><thead><tr><th>lane</th><th>what</th>'
            "<th>start ms</th><th>end ms</th><th>took ms</th><th>outcome</th><th>detail</th></tr></thead>\n"
            f"<tbody>\n{body}\n</tbody></table>\n</div>"
        )

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/plain": repr(self), "image/svg+xml": self.to_svg(), "text/html": self._repr_html_()}


def _text(timeline: Timeline) -> str:
    width = max((len(_lane_label(lane)) for lane in timeline.lanes), default=0)
    lines = [f"timeline {timeline.title} · {timeline.subtitle}"]
    for lane in timeline.lanes:
        bars = [
            f"{'↻ ' if bar.retry else ''}{bar.outcome.value} {bar.start_ms:.1f}–{bar.end_ms:.1f} ms"
            + (f" ({shorten(bar.detail, _NOTE_CHARS)})" if bar.detail else "")
            for bar in lane.bars
        ]
        if lane.note:
            bars.append(lane.note)
        lines.append(f"  {_lane_label(lane).ljust(width)}  {'; '.join(bars) or '-'}")
    return "\n".join(lines) + "\n"


def _lane_label(lane: Lane) -> str:
    return f"  {lane.label}" if lane.kind == "compensation" else lane.label


_CSS = (
    "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#1f2933}"
    ".fireflytx-timeline-table{border-collapse:collapse;margin-top:16px;font-size:13px}"
    ".fireflytx-timeline-table th,.fireflytx-timeline-table td{border-bottom:1px solid #e4e7eb;"
    "padding:4px 10px;text-align:left}"
    ".fireflytx-timeline-table tr.failed td,"
    ".fireflytx-timeline-table tr.compensation_failed td{color:#b71c1c}"
)

_FILL = {
    BarOutcome.OK: "#43a047",
    BarOutcome.FAILED: "#e53935",
    BarOutcome.COMPENSATED: "#fb8c00",
    BarOutcome.COMPENSATION_FAILED: "#b71c1c",
}
_FONT = 'font-family="Helvetica, Arial, sans-serif"'
_LANE_H = 26
_BAR_H = 14
_TOP = 78
_CHART_W = 640
_RIGHT = 290
_NOTE_CHARS = 40


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _tick_step(total_ms: float) -> float:
    rough = total_ms / 8
    magnitude = 10 ** math.floor(math.log10(rough)) if rough > 0 else 1
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= rough:
            return float(factor * magnitude)
    return float(10 * magnitude)


def _tick_label(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def _svg(timeline: Timeline) -> str:
    ends = [bar.end_ms for lane in timeline.lanes for bar in lane.bars]
    total = max([timeline.duration_ms, *ends, 1.0])
    label_w = min(
        320, max(120, max((_indent(lane) + 7 * len(lane.label) + 16 for lane in timeline.lanes), default=0))
    )
    width = label_w + _CHART_W + _RIGHT
    chart_bottom = _TOP + _LANE_H * len(timeline.lanes)
    height = chart_bottom + 56

    def x(ms: float) -> float:
        return label_w + max(0.0, ms) / total * _CHART_W

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {_FONT} font-size="12">',
        f"<title>{_esc(timeline.title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="16" y="26" font-size="16" font-weight="bold" fill="#1f2933">{_esc(timeline.title)}</text>',
        f'<text x="16" y="46" fill="{"#2e7d32" if timeline.ok else "#b71c1c"}">'
        f"{_esc(timeline.subtitle)}</text>",
    ]
    for index in range(len(timeline.lanes)):
        top = _TOP + index * _LANE_H
        if index % 2 == 0:
            out.append(f'<rect x="0" y="{top}" width="{width}" height="{_LANE_H}" fill="#f7f8fa"/>')
    step = _tick_step(total)
    tick = 0.0
    while tick <= total + 1e-9:
        tx = x(tick)
        out.append(
            f'<line x1="{tx:.1f}" y1="{_TOP - 6}" x2="{tx:.1f}" y2="{chart_bottom}" stroke="#e4e7eb"/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{_TOP - 10}" text-anchor="middle" font-size="10" fill="#7b8794">'
            f"{_esc(_tick_label(tick))}</text>"
        )
        tick += step
    for index, lane in enumerate(timeline.lanes):
        out.extend(_lane(lane, _TOP + index * _LANE_H, label_w, x))
    out.extend(_legend(chart_bottom + 24))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _indent(lane: Lane) -> int:
    return 28 if lane.kind == "compensation" else 16


def _lane(lane: Lane, top: float, label_w: int, x: Callable[[float], float]) -> list[str]:
    middle = top + _LANE_H / 2
    colour = "#b25e00" if lane.kind == "compensation" else "#1f2933"
    indent = _indent(lane)
    out = [
        f'<text x="{indent}" y="{middle + 4:.1f}" fill="{colour}">'
        f"<title>{_esc(lane.label)}</title>{_esc(shorten(lane.label, (label_w - indent) // 7))}</text>"
    ]
    previous_end: float | None = None
    for bar in lane.bars:
        left, right = x(bar.start_ms), x(bar.end_ms)
        if bar.retry and previous_end is not None:
            # The wait before a retry (the step's backoff), then the retry mark.
            out.append(
                f'<line x1="{previous_end:.1f}" y1="{middle:.1f}" x2="{left:.1f}" y2="{middle:.1f}" '
                'stroke="#7b8794" stroke-dasharray="2,2"/>'
            )
            out.append(
                f'<text x="{left:.1f}" y="{top + 5:.1f}" font-size="10" text-anchor="middle" '
                'fill="#52606d">↻</text>'
            )
        tip = f"{bar.label}: {bar.outcome.value}, {ms_taken(bar.end_ms - bar.start_ms)}" + (
            f" — {bar.detail}" if bar.detail else ""
        )
        dash = ' stroke-dasharray="3,2"' if bar.outcome is BarOutcome.COMPENSATION_FAILED else ""
        out.append(
            f'<rect x="{left:.1f}" y="{middle - _BAR_H / 2:.1f}" width="{max(2.0, right - left):.1f}" '
            f'height="{_BAR_H}" rx="2" fill="{_FILL[bar.outcome]}" stroke="#1f2933" stroke-opacity="0.35"'
            f"{dash}><title>{_esc(tip)}</title></rect>"
        )
        previous_end = max(right, left + 2.0)
    if lane.note:
        note_x = (previous_end if previous_end is not None else label_w) + 6
        out.append(
            f'<text x="{note_x:.1f}" y="{middle + 4:.1f}" fill="#52606d">'
            f"{_esc(shorten(lane.note, _NOTE_CHARS))}</text>"
        )
    return out


def _legend(y: float) -> list[str]:
    items = [
        (_FILL[BarOutcome.OK], "attempt succeeded"),
        (_FILL[BarOutcome.FAILED], "attempt failed"),
        (_FILL[BarOutcome.COMPENSATED], "compensation"),
        (_FILL[BarOutcome.COMPENSATION_FAILED], "compensation failed"),
    ]
    out = []
    cursor = 16
    for fill, text in items:
        out.append(f'<rect x="{cursor}" y="{y - 10}" width="12" height="12" rx="2" fill="{fill}"/>')
        out.append(f'<text x="{cursor + 18}" y="{y}" fill="#52606d">{_esc(text)}</text>')
        cursor += 30 + 7 * len(text)
    out.append(f'<text x="{cursor}" y="{y}" fill="#52606d">↻ retry after a wait (dotted)</text>')
    return out
