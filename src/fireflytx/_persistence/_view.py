"""Any stored transaction, readable: running, dead or finished, in a console or a notebook.

A finished one is shown through its rebuilt result (``_rebuild.result_of``), with the same views
and timeline a run's own result has; one still running, or dead, has no result, so its
checkpoints are laid out on the same ``Timeline`` instead. Both also list every checkpoint as
stored: unit, phase, outcome, attempts, idempotency key, time and error.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from .._saga._results import SagaResult
from .._tcc._results import TccResult
from ..topology import Bar, BarOutcome, Lane, Timeline, run_view, timeline
from ..topology._text import ms_taken
from ._codec import TypeRegistry
from ._errors import PersistenceError
from ._fingerprint import units_of
from ._model import Checkpoint, StoredTransaction, TransactionRecord
from ._rebuild import moment, result_of, step_error

__all__ = ["CheckpointRow", "StoredRun"]

_UNDO_PHASES = ("compensation", "cancel")
_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "NOT_RUN": "dim", "PENDING": "dim"}


class CheckpointRow(NamedTuple):
    """One line of a stored transaction's table: a checkpoint, or a unit with none yet."""

    unit: str
    phase: str
    status: str
    """``SUCCEEDED`` or ``FAILED``; ``NOT_RUN`` (finished) or ``PENDING`` for a unit with no checkpoint."""
    attempts: int
    idempotency_key: str
    at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True, eq=False)
class StoredRun:
    """A stored transaction as people read it; build it with ``StoredRun.of``.

    ``result`` is the rebuilt result of a finished transaction; ``unreadable`` says why a finished
    one could not be rebuilt (a stored class that cannot be imported here, say): its record and
    checkpoints are still shown.
    """

    record: TransactionRecord
    checkpoints: tuple[Checkpoint, ...]
    result: SagaResult | TccResult | None = None
    unreadable: str | None = None

    @classmethod
    def of(cls, stored: StoredTransaction, registry: TypeRegistry | None = None) -> StoredRun:
        """The view of ``stored``, with its result rebuilt when it is finished."""
        result: SagaResult | TccResult | None = None
        unreadable = None
        if stored.record.finished:
            try:
                result = result_of(stored, registry)
            except PersistenceError as exc:
                unreadable = str(exc)
        return cls(stored.record, stored.checkpoints, result, unreadable)

    @property
    def correlation_id(self) -> str:
        """The transaction's id."""
        return self.record.correlation_id

    def rows(self) -> list[CheckpointRow]:
        """Every checkpoint in the order the store accepted it, then each unit that has none."""
        rows = [
            CheckpointRow(
                c.unit_id,
                c.phase,
                "SUCCEEDED" if c.error is None else "FAILED",
                c.attempts,
                c.idempotency_key,
                moment(c.at),
                None if c.error is None else str(step_error(c.error)),
            )
            for c in sorted(self.checkpoints, key=lambda c: c.seq)
        ]
        seen = {c.unit_id for c in self.checkpoints}
        waiting = "NOT_RUN" if self.record.finished else "PENDING"
        for unit in units_of(self.record.fingerprint):
            if unit not in seen:
                rows.append(CheckpointRow(unit, "-", waiting, 0, "", None, None))
        return rows

    def timeline(self) -> Timeline:
        """When each unit ended, as the results' Gantt-style chart (``to_text``, ``to_svg``...)."""
        if self.result is not None:
            return timeline(self.result)
        record = self.record
        lanes = tuple(_lane(c, record.created_at) for c in sorted(self.checkpoints, key=lambda c: c.seq))
        return Timeline(
            title=record.name,
            subtitle=f"{record.status} · correlation_id={record.correlation_id}",
            ok=False,
            duration_ms=max(0.0, (record.updated_at - record.created_at) * 1000),
            lanes=lanes,
        )

    def summary_lines(self) -> list[str]:
        """What the record says beyond its checkpoints: times, owner and lease, recoveries, decision."""
        r = self.record
        lines = [f"{r.kind} {r.name} · {r.status} · correlation_id={r.correlation_id}"]
        created, updated = moment(r.created_at), moment(r.updated_at)
        lines.append(f"created {_time(created)} · updated {_time(updated)}")
        if r.owner is not None:
            lines.append(f"owner {r.owner} · lease until {_time(moment(r.lease_expires_at))}")
        details = [f"recoveries {r.recovery_attempts}"]
        if r.decision is not None:
            details.append(f"decision {r.decision}")
        if r.headers:
            details.append("headers " + ", ".join(f"{k}={v}" for k, v in r.headers.items()))
        lines.append(" · ".join(details))
        if self.unreadable is not None:
            lines.append(f"result not rebuilt: {self.unreadable}")
        return lines

    def to_text(self) -> str:
        """The summary, the rebuilt run view when finished, and the timeline, as plain text."""
        parts = ["\n".join(self.summary_lines()) + "\n"]
        if self.result is not None:
            parts.append(run_view(self.result).to_ascii())
        parts.append(self.timeline().to_text())
        return "\n".join(parts)

    def to_json_dict(self) -> dict[str, Any]:
        """The record and checkpoints as stored (values in their stored form) and the rebuilt result."""
        r = self.record
        return {
            "correlation_id": r.correlation_id,
            "kind": r.kind,
            "name": r.name,
            "status": r.status,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            "owner": r.owner,
            "lease_expires_at": r.lease_expires_at,
            "recovery_attempts": r.recovery_attempts,
            "decision": r.decision,
            "headers": dict(r.headers),
            "fingerprint": r.fingerprint,
            "input": r.input,
            "summary": r.result,
            "checkpoints": [
                {
                    "seq": c.seq,
                    "phase": c.phase,
                    "unit_id": c.unit_id,
                    "attempts": c.attempts,
                    "idempotency_key": c.idempotency_key,
                    "at": c.at,
                    "result": c.result,
                    "error": None if c.error is None else {"type": c.error.type, "message": c.error.message},
                }
                for c in sorted(self.checkpoints, key=lambda c: c.seq)
            ],
            "result": None if self.result is None else self.result.to_json_dict(),
            "unreadable": self.unreadable,
        }

    def __repr__(self) -> str:
        r = self.record
        return (
            f"StoredRun({r.correlation_id!r}, {r.kind} {r.name!r}, status={r.status}, "
            f"checkpoints={len(self.checkpoints)})"
        )

    def __str__(self) -> str:
        return self.to_text()

    def checkpoint_table(self) -> Any:
        """The rich table of every checkpoint, titled with the record's summary."""
        from rich.table import Table

        lines = self.summary_lines()
        table = Table(title=lines[0], caption=" · ".join(lines[1:]))
        for column in ("unit", "phase", "status", "attempts", "idempotency key", "at", "error"):
            table.add_column(column)
        for row in self.rows():
            table.add_row(
                row.unit,
                row.phase,
                f"[{_STYLE[row.status]}]{row.status}[/]",
                str(row.attempts),
                row.idempotency_key,
                _time(row.at),
                row.error or "",
                style="dim" if row.phase == "-" else None,
            )
        return table

    def __rich__(self) -> Any:
        """The checkpoint table; for a finished run, its result's table first."""
        from rich.console import Group

        table = self.checkpoint_table()
        return table if self.result is None else Group(self.result, table)

    def _repr_html_(self) -> str:
        head = "".join(f"<p>{html.escape(line)}</p>" for line in self.summary_lines())
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(text)}</td>"
                for text in (
                    row.unit, row.phase, row.status, str(row.attempts), row.idempotency_key,
                    _time(row.at), row.error or "",
                )
            )
            + "</tr>"
            for row in self.rows()
        )
        table = (
            "<table><thead><tr><th>unit</th><th>phase</th><th>status</th><th>attempts</th>"
            f"<th>idempotency key</th><th>at</th><th>error</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        result = "" if self.result is None else self.result._repr_html_()
        return f"{head}{result}{table}"


def _time(at: datetime | None) -> str:
    return "-" if at is None else at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _lane(checkpoint: Checkpoint, start: float) -> Lane:
    """A checkpoint as a lane: its final attempt, an instant at the moment it was written."""
    offset = max(0.0, (checkpoint.at - start) * 1000) if checkpoint.at else 0.0
    undo = checkpoint.phase in _UNDO_PHASES
    failed = checkpoint.error is not None
    if undo:
        outcome = BarOutcome.COMPENSATION_FAILED if failed else BarOutcome.COMPENSATED
    else:
        outcome = BarOutcome.FAILED if failed else BarOutcome.OK
    error = None if checkpoint.error is None else str(step_error(checkpoint.error))
    lane_kind: Literal["step", "compensation", "phase"]
    if checkpoint.phase == "step":
        label, lane_kind = checkpoint.unit_id, "step"
    elif checkpoint.phase == "compensation":
        label, lane_kind = f"↺ compensation of {checkpoint.unit_id}", "compensation"
    else:
        label, lane_kind = f"{checkpoint.unit_id} · {checkpoint.phase}", "compensation" if undo else "phase"
    bar = Bar(
        start_ms=offset,
        end_ms=offset,
        outcome=outcome,
        label=f"{checkpoint.unit_id} {checkpoint.phase} attempt {checkpoint.attempts}",
        detail=error,
        retry=checkpoint.attempts > 1,
    )
    attempts = f"{checkpoint.attempts} attempts" if checkpoint.attempts != 1 else "1 attempt"
    note = f"✗ {error}" if error else f"✓ at {ms_taken(offset)} · {attempts}"
    return Lane(label=label, kind=lane_kind, bars=(bar,), note=note)
