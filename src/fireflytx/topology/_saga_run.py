"""What one saga run did, step by step: read from a ``SagaResult``, drawn like its topology.

Times are offsets in milliseconds from the run's start, so a view reads the same in any time
zone and the timeline can use them directly.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .._saga._fan_out import split_clone_id
from .._saga._results import SagaResult, SagaStatus, StepOutcome, StepStatus
from ._graph import Cluster, Edge, Graph, Node
from ._nested import child_lanes, nest_graph, nest_tree
from ._run_common import AttemptRun, RunView, add_attempts, check_fits, run_facts, unit_by_id
from ._saga import SagaTopology, StepNode
from ._text import Tree, ms_between, ms_taken, plural, shorten
from ._timeline import Bar, BarOutcome, Lane, Timeline

__all__ = ["CompensationRun", "CompensationState", "SagaRunView", "StepRun", "saga_run_view"]


class CompensationState(enum.StrEnum):
    """What happened to a step's compensation in one run."""

    NONE = "none"
    """The step has no compensation."""
    NOT_NEEDED = "not_needed"
    """Nothing to undo: the run succeeded, or this step did not complete."""
    COMPENSATED = "compensated"
    """The compensation ran and succeeded."""
    FAILED = "failed"
    """The compensation ran and still failed after its retries."""
    SKIPPED = "skipped"
    """The step completed and the run failed, but its compensation never ran (``CIRCUIT_BREAKER``)."""


class CompensationRun(BaseModel):
    """A step's compensation in one run; ``order`` is its place among the compensations run (1 first)."""

    model_config = ConfigDict(frozen=True)

    state: CompensationState
    method: str | None = None
    attempts: int = 0
    start_ms: float | None = None
    end_ms: float | None = None
    order: int | None = None
    error: str | None = None


class StepRun(BaseModel):
    """One step in one run; ``layer`` and ``depends_on`` are known when the view has the saga class."""

    model_config = ConfigDict(frozen=True)

    step_id: str
    status: StepStatus
    attempts: int
    duration_ms: float
    start_ms: float | None
    end_ms: float | None
    error: str | None
    attempt_log: tuple[AttemptRun, ...]
    compensation: CompensationRun
    depends_on: tuple[str, ...] = ()
    layer: int | None = None
    child: SagaRunView | None = None
    """The run of the saga this step ran as a child (``@sub_saga``), when the result holds it."""


_SYMBOL = {
    StepStatus.SUCCEEDED: "✓",
    StepStatus.FAILED: "✗",
    StepStatus.COMPENSATED: "↺",
    StepStatus.COMPENSATION_FAILED: "‼",
    StepStatus.NOT_RUN: "○",
}
_WORD = {
    StepStatus.SUCCEEDED: "succeeded",
    StepStatus.FAILED: "FAILED",
    StepStatus.COMPENSATED: "compensated",
    StepStatus.COMPENSATION_FAILED: "COMPENSATION FAILED",
    StepStatus.NOT_RUN: "not run",
}
_STYLE = {
    StepStatus.SUCCEEDED: "succeeded",
    StepStatus.FAILED: "failed",
    StepStatus.COMPENSATED: "compensated",
    StepStatus.COMPENSATION_FAILED: "compensation_failed",
    StepStatus.NOT_RUN: "not_run",
}
_UNDO_STYLE = {
    CompensationState.COMPENSATED: "undo_done",
    CompensationState.FAILED: "undo_failed",
    CompensationState.SKIPPED: "undo_skipped",
}


class SagaRunView(RunView):
    """One saga run: each step's status, attempts, duration and compensation.

    Drawn like the saga's topology, so a failed run shows at a glance where it broke (``FAILED``)
    and what was undone (``↺``), in which order, and what could not be.
    """

    kind: Literal["saga"] = "saga"
    status: SagaStatus
    steps: tuple[StepRun, ...]
    layers: tuple[tuple[str, ...], ...] = ()
    failed_steps: tuple[str, ...] = ()
    compensated_steps: tuple[str, ...] = ()

    def step(self, step_id: str) -> StepRun:
        """One step by id.

        Raises:
            KeyError: the run has no such step.
        """
        return unit_by_id(self.steps, "step_id", step_id, f"saga {self.name!r}")

    def timeline(self) -> Timeline:
        """When each step attempt and each compensation ran, as a Gantt-style chart."""
        lanes: list[Lane] = []
        for step in self.steps:
            bars = tuple(
                Bar(
                    start_ms=a.start_ms,
                    end_ms=a.end_ms,
                    outcome=BarOutcome.OK if a.error is None else BarOutcome.FAILED,
                    label=f"{step.step_id} attempt {a.number}",
                    detail=a.error,
                    retry=a.number > 1,
                )
                for a in step.attempt_log
            )
            lanes.append(Lane(label=step.step_id, kind="step", bars=bars, note=_lane_note(step)))
            child = step.child
            if child is not None:
                lanes.extend(child_lanes(step.step_id, child.timeline(), self.started_at, child.started_at))
            comp = step.compensation
            if comp.start_ms is not None and comp.end_ms is not None:
                ok = comp.state is CompensationState.COMPENSATED
                name = comp.method or f"compensation of {step.step_id}"
                bar = Bar(
                    start_ms=comp.start_ms,
                    end_ms=comp.end_ms,
                    outcome=BarOutcome.COMPENSATED if ok else BarOutcome.COMPENSATION_FAILED,
                    label=f"{name} ({plural(comp.attempts, 'attempt')})",
                    detail=comp.error,
                )
                note = (
                    f"#{comp.order} · {_undo_summary(comp)}"
                    if comp.order is not None
                    else _undo_summary(comp)
                )
                lanes.append(Lane(label=f"↺ {name}", kind="compensation", bars=(bar,), note=note))
        return self._timeline(lanes)

    def _tree(self) -> tuple[Tree, Iterable[str]]:
        root = self._root()
        for step in self.steps:
            line = root.add(f"{_SYMBOL[step.status]} {step.step_id} · {_step_summary(step)}")
            if step.child is not None:
                nest_tree(line, _child_label(step.child), step.child._tree()[0])
            add_attempts(line, step.attempts, step.attempt_log, step.error)
            if (text := _undo_text(step, self.is_success)) is not None:
                line.add(text)
        return root, self._footer()

    def _footer(self) -> list[str]:
        if self.is_success:
            return [f"all {plural(len(self.steps), 'step')} succeeded"]
        lines = []
        for step_id in self.failed_steps:
            lines.append(
                f"failed at: {step_id} ({shorten(self.step(step_id).error or 'no error recorded', 100)})"
            )
        lines.append(f"undone: {', '.join(self.compensated_steps) or 'nothing'}")
        not_undone = [
            s.step_id
            for s in self.steps
            if s.compensation.state in (CompensationState.FAILED, CompensationState.SKIPPED)
        ]
        if not_undone:
            lines.append(f"NOT undone: {', '.join(not_undone)}")
        skipped = [s.step_id for s in self.steps if s.status is StepStatus.NOT_RUN]
        if skipped:
            lines.append(f"not run: {', '.join(skipped)}")
        return lines

    def _graph(self) -> Graph:
        keys = {step.step_id: f"n{i}" for i, step in enumerate(self.steps)}
        nodes: list[Node] = []
        edges: list[Edge] = []
        undo: list[Edge] = []
        rows: dict[int, list[str]] = {}
        nested: list[Cluster] = []
        for i, step in enumerate(self.steps):
            key = keys[step.step_id]
            lines = [f"{_SYMBOL[step.status]} {step.step_id}", _step_summary(step)]
            if step.error is not None:
                lines.append(shorten(step.error, 60))
            nodes.append(Node(key, tuple(lines), _STYLE[step.status]))
            members = rows.setdefault(step.layer if step.layer is not None else -1, [])
            members.append(key)
            if step.child is not None:
                child = step.child
                mark = f"⊂ sub-saga {child.name} · {child.status.value}"
                nest_graph(key, mark, _child_label(child), child._graph(), nodes, edges, nested)
            comp = step.compensation
            if comp.state in _UNDO_STYLE:
                order = f"#{comp.order} " if comp.order is not None else ""
                comp_lines = [f"↺ {order}{comp.method or 'compensation'}", _undo_summary(comp)]
                if comp.error is not None:
                    comp_lines.append(shorten(comp.error, 60))
                nodes.append(Node(f"c{i}", tuple(comp_lines), _UNDO_STYLE[comp.state]))
                members.append(f"c{i}")
                undo.append(Edge(key, f"c{i}", "compensation", dashed=True))
            edges.extend(Edge(keys[dep], key) for dep in step.depends_on if dep in keys)
        clusters = tuple(
            Cluster(f"L{index}", f"layer {index + 1}", (tuple(rows[index]),))
            for index in range(len(self.layers))
            if index in rows
        )
        return Graph(
            title=self._title(),
            nodes=tuple(nodes),
            edges=tuple(edges + undo),
            clusters=(*clusters, *nested),
            notes=(f"correlation_id={self.correlation_id}",),
        )


def _child_label(child: SagaRunView) -> str:
    return (
        f"sub-saga {child._who()} · {child.status.value} · {ms_taken(child.duration_ms)} · "
        f"correlation_id={child.correlation_id}"
    )


def _lane_note(step: StepRun) -> str:
    if step.status is StepStatus.NOT_RUN:
        return "not run"
    if step.error is not None and step.status is StepStatus.FAILED:
        return f"✗ {step.error}"
    retries = f" · {plural(step.attempts, 'attempt')}" if step.attempts > 1 else ""
    return f"✓ {ms_taken(step.duration_ms)}{retries}"


def _step_summary(step: StepRun) -> str:
    if step.status is StepStatus.NOT_RUN:
        return _WORD[step.status]
    return f"{_WORD[step.status]} · {plural(step.attempts, 'attempt')} · {ms_taken(step.duration_ms)}"


def _undo_cost(comp: CompensationRun) -> str:
    took = ms_taken((comp.end_ms or 0.0) - (comp.start_ms or 0.0))
    return f"{plural(comp.attempts, 'attempt')} · {took}"


def _undo_summary(comp: CompensationRun) -> str:
    if comp.state is CompensationState.SKIPPED:
        return "skipped"
    word = "compensated" if comp.state is CompensationState.COMPENSATED else "FAILED"
    return f"{word} · {_undo_cost(comp)}"


def _undo_text(step: StepRun, run_succeeded: bool) -> str | None:
    comp = step.compensation
    name = comp.method or "its compensation"
    order = f" (#{comp.order})" if comp.order is not None else ""
    if comp.state is CompensationState.COMPENSATED:
        by = f" by {comp.method}" if comp.method else ""
        return f"↺ compensated{by}{order} · {_undo_cost(comp)}"
    if comp.state is CompensationState.FAILED:
        detail = f": {shorten(comp.error, 100)}" if comp.error else ""
        return f"‼ compensation {name}{order} FAILED after {plural(comp.attempts, 'attempt')}{detail}"
    if comp.state is CompensationState.SKIPPED:
        return f"⚠ not compensated: {name} was skipped"
    if comp.state is CompensationState.NONE and not run_succeeded and step.status is StepStatus.SUCCEEDED:
        return "⚠ no compensation defined: its effect stays"
    return None


def _offset(run_start: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else ms_between(run_start, moment)


def _compensation(
    outcome: StepOutcome, result: SagaResult, method: str | None, order: int | None
) -> CompensationRun:
    if outcome.compensation_error is not None:
        state = CompensationState.FAILED
    elif outcome.compensated:
        state = CompensationState.COMPENSATED
    elif not outcome.has_compensation:
        state = CompensationState.NONE
    elif result.is_success or outcome.status is not StepStatus.SUCCEEDED:
        state = CompensationState.NOT_NEEDED
    else:
        state = CompensationState.SKIPPED
    ran = state in (CompensationState.COMPENSATED, CompensationState.FAILED)
    return CompensationRun(
        state=state,
        method=method,
        attempts=outcome.compensation_attempts,
        start_ms=_offset(result.started_at, outcome.compensation_started_at) if ran else None,
        end_ms=_offset(result.started_at, outcome.compensation_completed_at) if ran else None,
        order=order if ran else None,
        error=str(outcome.compensation_error) if outcome.compensation_error is not None else None,
    )


def _clone_of(topology: SagaTopology, step_id: str) -> StepNode | None:
    """The fan-out step whose clone ``step_id`` is (``ship`` for ``ship#2``), if it is one."""
    split = split_clone_id(step_id)
    if split is None:
        return None
    parent = next((n for n in topology.steps if n.step_id == split[0]), None)
    return parent if parent is not None and parent.fan_out is not None else None


def _step_run(
    outcome: StepOutcome, result: SagaResult, topology: SagaTopology | None, order: int | None
) -> StepRun:
    node = parent = None
    if topology is not None:
        parent = _clone_of(topology, outcome.step_id)
        node = parent or topology.step(outcome.step_id)
    method = node.compensation.method if node is not None and node.compensation is not None else None
    if node is not None and node.sub_saga is not None:
        method = f"undo of {node.sub_saga}"
    start = result.started_at
    return StepRun(
        step_id=outcome.step_id,
        status=outcome.status,
        attempts=outcome.attempts,
        duration_ms=outcome.duration_ms,
        start_ms=_offset(start, outcome.started_at),
        end_ms=_offset(start, outcome.completed_at),
        error=str(outcome.error) if outcome.error is not None else None,
        attempt_log=tuple(AttemptRun.of(a, start) for a in outcome.attempt_log),
        compensation=_compensation(outcome, result, method, order),
        # A clone hangs off its fan-out step, in that step's layer.
        depends_on=(parent.step_id,) if parent is not None else node.depends_on if node is not None else (),
        layer=node.layer if node is not None else None,
        child=_child_run(outcome, node),
    )


def _child_run(outcome: StepOutcome, node: StepNode | None) -> SagaRunView | None:
    """The child's view of a ``@sub_saga`` step: its result, or the failed child its error carries."""
    child = outcome.result
    if not isinstance(child, SagaResult) and outcome.error is not None:
        child = getattr(outcome.error.exception, "result", None)
    if not isinstance(child, SagaResult):
        return None
    topology = node.child if node is not None and node.child is not None else None
    if topology is not None and topology.name != child.saga_name:
        topology = None
    return saga_run_view(child, topology)


def saga_run_view(result: SagaResult, topology: SagaTopology | None = None) -> SagaRunView:
    """The view of ``result``; with the saga's ``topology``, also its dependencies and layers.

    Raises:
        ValueError: ``topology`` is of another saga, or lacks a step of the result.
    """
    if topology is not None:
        declared = {n.step_id for n in topology.steps}
        missing = [s for s in result.steps if s not in declared and _clone_of(topology, s) is None]
        check_fits("saga", result.saga_name, topology, missing, "steps")
    ran_undo = sorted(
        (o for o in result.steps.values() if o.compensation_started_at is not None),
        key=lambda o: o.compensation_started_at or result.started_at,
    )
    undo_order = {o.step_id: n for n, o in enumerate(ran_undo, 1)}
    ids = list(result.steps)
    if topology is not None:
        clones: dict[str, list[str]] = {}
        for step_id in result.steps:
            if (parent := _clone_of(topology, step_id)) is not None:
                clones.setdefault(parent.step_id, []).append(step_id)
        ids = [i for n in topology.steps for i in (n.step_id, *clones.get(n.step_id, ()))]
    return SagaRunView(
        **run_facts(result, result.saga_name, topology),
        steps=tuple(
            _step_run(result.steps[s], result, topology, undo_order.get(s)) for s in ids if s in result.steps
        ),
        layers=topology.layers if topology is not None else (),
        failed_steps=result.failed_steps,
        compensated_steps=result.compensated_steps,
    )


StepRun.model_rebuild()
