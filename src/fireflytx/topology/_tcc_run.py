"""What one TCC run did, participant by participant and phase by phase: read from a ``TccResult``.

Times are offsets in milliseconds from the run's start, as in the saga run view.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .._tcc._results import (
    TccParticipantOutcome,
    TccParticipantStatus,
    TccPhaseOutcome,
    TccPhaseStatus,
    TccResult,
    TccStatus,
)
from ._graph import Cluster, Edge, Graph, Node
from ._run_common import AttemptRun, RunView, add_attempts, check_fits, run_facts, unit_by_id
from ._tcc import Phase, TccTopology
from ._text import Tree, ms_between, ms_taken, plural, shorten
from ._timeline import Bar, BarOutcome, Lane, Timeline

__all__ = ["ParticipantRun", "PhaseRun", "TccRunView", "tcc_run_view"]


class PhaseRun(BaseModel):
    """One phase of one participant in one run; ``method`` is known when the view has the class."""

    model_config = ConfigDict(frozen=True)

    phase: Phase
    status: TccPhaseStatus
    method: str | None = None
    attempts: int = 0
    duration_ms: float = 0.0
    start_ms: float | None = None
    end_ms: float | None = None
    error: str | None = None
    attempt_log: tuple[AttemptRun, ...] = ()


class ParticipantRun(BaseModel):
    """One participant in one run: where it ended up, and what each phase did."""

    model_config = ConfigDict(frozen=True)

    participant_id: str
    order: int
    optional: bool
    status: TccParticipantStatus
    try_phase: PhaseRun
    confirm_phase: PhaseRun
    cancel_phase: PhaseRun

    @property
    def phases(self) -> tuple[PhaseRun, PhaseRun, PhaseRun]:
        """Try, confirm and cancel, in that order."""
        return (self.try_phase, self.confirm_phase, self.cancel_phase)


_SYMBOL = {
    TccParticipantStatus.CONFIRMED: "✓",
    TccParticipantStatus.CANCELED: "↺",
    TccParticipantStatus.CONFIRM_FAILED: "‼",
    TccParticipantStatus.CANCEL_FAILED: "‼",
    TccParticipantStatus.TRIED: "✗",
    TccParticipantStatus.SKIPPED: "○",
}
_WORD = {
    TccParticipantStatus.CONFIRMED: "confirmed",
    TccParticipantStatus.CANCELED: "cancelled",
    TccParticipantStatus.CONFIRM_FAILED: "CONFIRM FAILED",
    TccParticipantStatus.CANCEL_FAILED: "CANCEL FAILED",
    TccParticipantStatus.TRIED: "TRIED, neither confirmed nor cancelled",
    TccParticipantStatus.SKIPPED: "skipped, never tried",
}


def _phase_style(phase: PhaseRun) -> str:
    if phase.status is TccPhaseStatus.NOT_RUN:
        return "not_run"
    if phase.phase == "cancel":
        return "undo_done" if phase.status is TccPhaseStatus.SUCCEEDED else "undo_failed"
    return "succeeded" if phase.status is TccPhaseStatus.SUCCEEDED else "failed"


def _phase_summary(phase: PhaseRun) -> str:
    if phase.status is TccPhaseStatus.NOT_RUN:
        return "not run"
    word = "ok" if phase.status is TccPhaseStatus.SUCCEEDED else "FAILED"
    return f"{word} · {plural(phase.attempts, 'attempt')} · {ms_taken(phase.duration_ms)}"


class TccRunView(RunView):
    """One TCC run: each participant's status and each phase's attempts, duration and error.

    A failed run shows which participant's try broke it (``✗``), who was cancelled (``↺``) and
    what needs attention: a confirm or cancel that failed after its retries (``‼``).
    """

    kind: Literal["tcc"] = "tcc"
    status: TccStatus
    participants: tuple[ParticipantRun, ...]
    failed_participant: str | None = None

    def participant(self, participant_id: str) -> ParticipantRun:
        """One participant by id.

        Raises:
            KeyError: the run has no such participant.
        """
        return unit_by_id(self.participants, "participant_id", participant_id, f"tcc {self.name!r}")

    def _symbol(self, participant: ParticipantRun) -> str:
        return "✗" if participant.participant_id == self.failed_participant else _SYMBOL[participant.status]

    def _tree(self) -> tuple[Tree, Iterable[str]]:
        root = self._root()
        for participant in self.participants:
            optional = ", optional" if participant.optional else ""
            line = root.add(
                f"{self._symbol(participant)} {participant.participant_id} "
                f"(order={participant.order}{optional}) · "
                f"{_WORD[participant.status]}"
            )
            for phase in participant.phases:
                if phase.status is TccPhaseStatus.NOT_RUN:
                    continue
                mark = "✓" if phase.status is TccPhaseStatus.SUCCEEDED else "✗"
                name = f" {phase.method}" if phase.method else ""
                sub = line.add(f"{mark} {phase.phase}{name} · {_phase_summary(phase)}")
                add_attempts(sub, phase.attempts, phase.attempt_log, phase.error)
        return root, self._footer()

    def _footer(self) -> list[str]:
        by_status: dict[TccParticipantStatus, list[str]] = {}
        for participant in self.participants:
            by_status.setdefault(participant.status, []).append(participant.participant_id)
        if self.is_success and set(by_status) == {TccParticipantStatus.CONFIRMED}:
            return [f"all {plural(len(self.participants), 'participant')} confirmed"]
        lines = []
        if self.failed_participant is not None:
            failed = self.participant(self.failed_participant)
            # After a cancel the try's error is the cause; otherwise the confirm's or cancel's is.
            errors = [p.error for p in failed.phases if p.error is not None]
            cause = failed.try_phase.error if self.status in _CANCELLED else None
            cause = cause or (errors[-1] if errors else None)
            lines.append(
                f"failed at: {self.failed_participant} ({shorten(cause or 'no error recorded', 100)})"
            )
        for status, label in _FOOTER:
            if status in by_status:
                lines.append(f"{label}: {', '.join(by_status[status])}")
        return lines

    def _graph(self) -> Graph:
        nodes: list[Node] = []
        edges: list[Edge] = []
        clusters: list[Cluster] = []
        for i, participant in enumerate(self.participants):
            keys = (f"t{i}", f"f{i}", f"x{i}")
            for key, phase in zip(keys, participant.phases, strict=True):
                lines = [
                    f"{phase.phase}: {phase.method}" if phase.method else phase.phase,
                    _phase_summary(phase),
                ]
                if phase.error is not None:
                    lines.append(shorten(phase.error, 60))
                nodes.append(Node(key, tuple(lines), _phase_style(phase)))
            optional = " (optional)" if participant.optional else ""
            label = (
                f"{self._symbol(participant)} {participant.order} · {participant.participant_id}{optional} · "
                f"{participant.status.value}"
            )
            clusters.append(Cluster(f"P{i}", label, ((keys[0],), keys[1:])))
            edges.append(Edge(keys[0], keys[1], "all tried"))
            edges.append(Edge(keys[0], keys[2], "a try failed", dashed=True))
        order = [Edge(f"t{i - 1}", f"t{i}", "then", ranks=2) for i in range(1, len(self.participants))]
        return Graph(
            title=self._title(),
            nodes=tuple(nodes),
            edges=(*order, *edges),
            clusters=tuple(clusters),
            notes=(f"correlation_id={self.correlation_id}",),
        )

    def timeline(self) -> Timeline:
        """When each phase attempt of each participant ran, as a Gantt-style chart."""
        lanes: list[Lane] = []
        for participant in self.participants:
            ran = [p for p in participant.phases if p.status is not TccPhaseStatus.NOT_RUN]
            if not ran:
                lanes.append(Lane(label=participant.participant_id, kind="phase", bars=(), note="skipped"))
            for phase in ran:
                cancel = phase.phase == "cancel"
                ok, bad = (
                    (BarOutcome.COMPENSATED, BarOutcome.COMPENSATION_FAILED)
                    if cancel
                    else (BarOutcome.OK, BarOutcome.FAILED)
                )
                bars = tuple(
                    Bar(
                        start_ms=a.start_ms,
                        end_ms=a.end_ms,
                        outcome=ok if a.error is None else bad,
                        label=f"{participant.participant_id} {phase.phase} attempt {a.number}",
                        detail=a.error,
                        retry=a.number > 1,
                    )
                    for a in phase.attempt_log
                )
                lanes.append(
                    Lane(
                        label=f"{participant.participant_id} · {phase.phase}",
                        kind="compensation" if cancel else "phase",
                        bars=bars,
                        note=_phase_summary(phase) if phase.error is None else f"✗ {phase.error}",
                    )
                )
        return self._timeline(lanes)


_CANCELLED = (TccStatus.CANCELED, TccStatus.CANCEL_FAILED)
_FOOTER = (
    (TccParticipantStatus.CONFIRMED, "confirmed"),
    (TccParticipantStatus.CANCELED, "cancelled"),
    (TccParticipantStatus.CONFIRM_FAILED, "NOT confirmed"),
    (TccParticipantStatus.CANCEL_FAILED, "NOT cancelled"),
    (TccParticipantStatus.TRIED, "left tried"),
    (TccParticipantStatus.SKIPPED, "skipped"),
)


def _phase_run(phase: Phase, outcome: TccPhaseOutcome, start: datetime, method: str | None) -> PhaseRun:
    return PhaseRun(
        phase=phase,
        status=outcome.status,
        method=method,
        attempts=outcome.attempts,
        duration_ms=outcome.duration_ms,
        start_ms=None if outcome.started_at is None else ms_between(start, outcome.started_at),
        end_ms=None if outcome.completed_at is None else ms_between(start, outcome.completed_at),
        error=None if outcome.error is None else str(outcome.error),
        attempt_log=tuple(AttemptRun.of(a, start) for a in outcome.attempt_log),
    )


def _participant_run(
    outcome: TccParticipantOutcome, start: datetime, topology: TccTopology | None
) -> ParticipantRun:
    node = topology.participant(outcome.participant_id) if topology is not None else None

    def method(index: int) -> str | None:
        return node.phases[index].method if node is not None else None

    return ParticipantRun(
        participant_id=outcome.participant_id,
        order=outcome.order,
        optional=outcome.optional,
        status=outcome.status,
        try_phase=_phase_run("try", outcome.try_phase, start, method(0)),
        confirm_phase=_phase_run("confirm", outcome.confirm_phase, start, method(1)),
        cancel_phase=_phase_run("cancel", outcome.cancel_phase, start, method(2)),
    )


def tcc_run_view(result: TccResult, topology: TccTopology | None = None) -> TccRunView:
    """The view of ``result``; with the TCC's ``topology``, also each phase's method name.

    Raises:
        ValueError: ``topology`` is of another TCC, or lacks a participant of the result.
    """
    if topology is not None:
        known = {p.participant_id for p in topology.participants}
        missing = [p for p in result.participants if p not in known]
        check_fits("tcc", result.tcc_name, topology, missing, "participants")
    ordered = sorted(result.participants.values(), key=lambda o: o.order)
    return TccRunView(
        **run_facts(result, result.tcc_name, topology),
        participants=tuple(_participant_run(o, result.started_at, topology) for o in ordered),
        failed_participant=result.failed_participant,
    )
