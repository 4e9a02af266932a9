"""Events as people read them: one line each for the CLI, a table for notebooks."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from rich.table import Table

__all__ = ["event_line", "events_html", "events_table"]

_COLUMNS = ("time", "type", "transaction", "unit", "attempt", "status / error")


def _cells(event: dict[str, Any]) -> tuple[str, ...]:
    clock = str(event["timestamp"])[11:23]
    error = event.get("error")
    detail = f"{error['type']}: {error['message']}" if error else (event.get("status") or "")
    if event.get("will_retry"):
        detail = f"{detail} (will retry)".strip()
    if event.get("duration_ms") is not None:
        detail = f"{detail} {event['duration_ms']:.1f} ms".strip()
    attempt = "" if event.get("attempt") is None else str(event["attempt"])
    return (clock, str(event["type"]), event["transaction_name"], event.get("unit_id") or "", attempt, detail)


def event_line(event: dict[str, Any]) -> str:
    """One envelope on one line: time, type, transaction, unit, attempt and outcome."""
    clock, kind, name, unit, attempt, detail = _cells(event)
    where = f"{name}/{unit}" if unit else name
    tail = f" #{attempt}" if attempt else ""
    return f"{clock} {kind:<24} {where}{tail} {detail}".rstrip()


def events_table(events: Iterable[dict[str, Any]]) -> Table:
    """A rich table of envelopes."""
    table = Table(*_COLUMNS, title="fireflytx events")
    for event in events:
        table.add_row(*_cells(event))
    return table


def events_html(events: Iterable[dict[str, Any]]) -> str:
    """An HTML table of envelopes, for notebooks."""
    head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(e)) + "</tr>" for e in events
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
