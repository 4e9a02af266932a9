"""An engine as a notebook shows it: its state, the transactions it knows and its runs in flight.

Exploring runs from Jupyter means keeping an engine alive across cells; its HTML repr answers
"is it still running, what did I run on it, is anything still going, and is anyone waiting for a
slot" without a method call.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._core._run import RunBase

__all__ = ["Admission", "engine_html"]


@dataclass(frozen=True, slots=True)
class Admission:
    """An engine's back-pressure now: its ``max_in_flight``, what happens beyond it, and who waits."""

    limit: int | None
    when_full: str
    waiting: int
    rejected: int

    def text(self) -> str:
        if self.limit is None:
            return ""
        if self.when_full == "fail":
            return f" (max {self.limit}; beyond it runs fail, {self.rejected} refused so far)"
        return f" (max {self.limit}) · {self.waiting} waiting for a slot"

_STATE_COLOUR = {"running": "#2e7d32", "stopping": "#b25e00", "stopped": "#7b8794"}


def engine_html(
    kind: str,
    state: str,
    transactions: Mapping[str, int],
    runs: Iterable[RunBase],
    interceptors: int,
    admission: Admission | None = None,
) -> str:
    """The HTML block of an engine; ``transactions`` maps names to runs started."""
    in_flight = sorted(runs, key=lambda run: run.clock.clock_start)
    colour = _STATE_COLOUR.get(state, "#1f2933")
    parts = [
        '<div class="fireflytx-engine">',
        f'<p><b>{html.escape(kind)}</b> · <span style="color:{colour}">{html.escape(state)}</span> · '
        f"{len(in_flight)} runs in flight"
        + (html.escape(admission.text()) if admission is not None else "")
        + (f" · {interceptors} test interceptors" if interceptors else "")
        + "</p>",
    ]
    if transactions:
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{count}</td></tr>" for name, count in transactions.items()
        )
        parts.append(
            "<table><thead><tr><th>transaction</th><th>runs started</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        parts.append("<p>no transaction registered or run yet</p>")
    if in_flight:
        now = time.perf_counter()
        rows = "".join(
            f"<tr><td>{html.escape(run.name)}</td><td><code>{html.escape(run.correlation_id)}</code></td>"
            f"<td>{run.clock.ms_since_start(now):.0f}</td>"
            f"<td>{html.escape(_running(run))}</td></tr>"
            for run in in_flight
        )
        parts.append(
            "<table><thead><tr><th>in flight</th><th>correlation id</th><th>for ms</th>"
            f"<th>running now</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    parts.append("</div>")
    return "".join(parts)


def _running(run: RunBase) -> str:
    units = [f"{a.unit_id} ({a.phase.value} #{a.number})" for a in list(run.attempts) if not a.done]
    return ", ".join(units) or "waiting for the engine"
