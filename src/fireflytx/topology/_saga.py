"""The shape of a saga, read from its ``SagaSpec``: steps, dependencies, layers and settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .._saga._definition import SagaSpec, StepSpec, definition_of
from ..config import CompensationPolicy
from ._graph import Cluster, Edge, Graph, Node
from ._nested import nest_graph, nest_tree
from ._render import Diagram
from ._run_common import unit_by_id
from ._tcc import selector_label
from ._text import Tree, attempt_settings, class_label

__all__ = ["CompensationNode", "SagaTopology", "StepNode", "saga_topology"]


class CompensationNode(BaseModel):
    """How a step is undone, as declared."""

    model_config = ConfigDict(frozen=True)

    method: str
    is_async: bool
    retry: int
    backoff_ms: int
    timeout_ms: int
    critical: bool

    def _settings(self) -> list[str]:
        """The settings that differ from the defaults, as ``name=value`` words."""
        parts = attempt_settings(self.retry, self.backoff_ms, self.timeout_ms)
        if self.critical:
            parts.append("critical")
        return parts


class StepNode(BaseModel):
    """One saga step, as declared; ``layer`` indexes ``SagaTopology.layers``."""

    model_config = ConfigDict(frozen=True)

    step_id: str
    method: str
    is_async: bool
    depends_on: tuple[str, ...]
    layer: int
    retry: int
    backoff_ms: int
    jitter: bool
    jitter_factor: float
    timeout_ms: int
    idempotency_key: str | None
    compensation: CompensationNode | None
    sub_saga: str | None = None
    """The name of the saga this step runs as a child (``@sub_saga``)."""
    child: SagaTopology | None = None
    """That child's own topology, when the step names its class (a name is resolved only by an engine)."""
    fan_out: str | None = None
    """Where a fan-out step's items come from: ``FromStep('quote')``, a function's name or a lambda as
    written; None for a step that runs once. Its retry and timeout settings are each clone's."""
    max_parallel: int | None = None
    """A fan-out step's bound on clones running at once (None: all of them)."""

    def _settings(self) -> list[str]:
        """Fan-out, retry, backoff, jitter, timeout and idempotency settings that differ from the defaults."""
        parts = []
        if self.fan_out is not None:
            parts.append(f"fan_out={self.fan_out}")
            if self.max_parallel is not None:
                parts.append(f"max_parallel={self.max_parallel}")
        jitter = self.jitter_factor if self.jitter else None
        parts += attempt_settings(self.retry, self.backoff_ms, self.timeout_ms, jitter)
        if self.idempotency_key:
            parts.append(f"idempotency_key={self.idempotency_key!r}")
        return parts


class SagaTopology(Diagram):
    """A saga's steps, how they depend on each other and in which layers the engine runs them.

    Steps of one layer run concurrently (at most ``layer_concurrency`` at a time when it is not 0);
    a layer starts when the previous one has completed. ``steps`` are in execution order: layer by
    layer, declaration order within a layer.
    """

    kind: Literal["saga"] = "saga"
    name: str
    class_name: str
    module: str
    steps: tuple[StepNode, ...]
    layers: tuple[tuple[str, ...], ...]
    layer_concurrency: int
    compensation_policy: CompensationPolicy | None

    def step(self, step_id: str) -> StepNode:
        """One step by id.

        Raises:
            KeyError: the saga has no such step.
        """
        return unit_by_id(self.steps, "step_id", step_id, f"saga {self.name!r}", list_known=True)

    def _notes(self) -> list[str]:
        notes = []
        if self.compensation_policy is not None:
            notes.append(f"policy={self.compensation_policy.value}")
        if self.layer_concurrency:
            notes.append(f"layer_concurrency={self.layer_concurrency}")
        return notes

    def _tree(self) -> tuple[Tree, Iterable[str]]:
        notes = self._notes()
        root = Tree(f"{self.class_name} ({self.name})" + (f" [{', '.join(notes)}]" if notes else ""))
        for step in self.steps:
            groups = []
            if step.depends_on:
                groups.append(f"depends_on: {', '.join(step.depends_on)}")
            if settings := step._settings():
                groups.append(", ".join(settings))
            line = root.add(step.step_id + (f" ({'; '.join(groups)})" if groups else ""))
            if step.sub_saga is not None:
                child = step.child
                nest_tree(line, _sub_label(step), None if child is None else child._tree()[0])
            if step.compensation is not None:
                extra = step.compensation._settings()
                line.add(
                    f"compensation: {step.compensation.method}" + (f" ({', '.join(extra)})" if extra else "")
                )
        footer = ["execution layers:"]
        width = len(str(len(self.layers)))
        footer += [f"  {i:>{width}}  {' ∥ '.join(layer)}" for i, layer in enumerate(self.layers, 1)]
        return root, footer

    def _graph(self) -> Graph:
        keys = {step.step_id: f"n{i}" for i, step in enumerate(self.steps)}
        nodes: list[Node] = []
        edges: list[Edge] = []
        undo: list[Edge] = []
        rows: dict[int, list[str]] = {}
        clusters: list[Cluster] = []
        for i, step in enumerate(self.steps):
            key = keys[step.step_id]
            settings = step._settings()
            nodes.append(Node(key, (step.step_id, *([" · ".join(settings)] if settings else [])), "step"))
            rows.setdefault(step.layer, []).append(key)
            if step.sub_saga is not None:
                child = step.child
                graph = None if child is None else child._graph()
                mark = f"⊂ sub-saga {step.sub_saga}"
                nest_graph(key, mark, _sub_label(step), graph, nodes, edges, clusters)
            if step.compensation is not None:
                extra = step.compensation._settings()
                comp_lines = (f"↺ {step.compensation.method}", *([" · ".join(extra)] if extra else []))
                nodes.append(Node(f"c{i}", comp_lines, "compensation"))
                rows[step.layer].append(f"c{i}")
                undo.append(Edge(key, f"c{i}", "compensation", dashed=True))
            edges.extend(Edge(keys[dep], key) for dep in step.depends_on)
        edges.extend(undo)
        layers = [
            Cluster(f"L{index}", f"layer {index + 1}", (tuple(rows[index]),))
            for index in range(len(self.layers))
        ]
        return Graph(
            title=f"{self.class_name} ({self.name})",
            nodes=tuple(nodes),
            edges=tuple(edges),
            clusters=(*layers, *clusters),
            notes=tuple(self._notes()),
        )


def _fan_out_label(step: StepSpec) -> str | None:
    fan_out = step.fan_out
    if fan_out is None:
        return None
    if fan_out.source is not None:
        return f"FromStep({fan_out.source!r})"
    return selector_label(fan_out.selector)


def _sub_label(step: StepNode) -> str:
    child = step.child
    who = f"{child.class_name} ({child.name})" if child is not None else repr(step.sub_saga)
    return f"sub-saga {who}, undone by its own compensations"


def _step_node(step: StepSpec, layer: int) -> StepNode:
    comp = step.compensation
    if step.child is not None:
        comp = None  # undone by the child's own compensations, drawn with the child
    child = step.child
    nested = None
    if child is not None and not isinstance(child.saga, str):
        nested = saga_topology(definition_of(child.saga))
    return StepNode(
        step_id=step.step_id,
        method=step.method_name,
        is_async=step.is_async,
        depends_on=step.depends_on,
        layer=layer,
        retry=step.retry,
        backoff_ms=step.backoff_ms,
        jitter=step.jitter,
        jitter_factor=step.jitter_factor,
        timeout_ms=step.timeout_ms,
        idempotency_key=step.idempotency_key,
        fan_out=_fan_out_label(step),
        max_parallel=None if step.fan_out is None else step.fan_out.max_parallel,
        compensation=None
        if comp is None
        else CompensationNode(
            method=comp.method_name,
            is_async=comp.is_async,
            retry=comp.retry,
            backoff_ms=comp.backoff_ms,
            timeout_ms=comp.timeout_ms,
            critical=comp.critical,
        ),
        sub_saga=None if child is None else child.name,
        child=nested,
    )


def saga_topology(spec: SagaSpec) -> SagaTopology:
    """The topology of an assembled (hence valid) saga spec."""
    layer_of = {step_id: index for index, layer in enumerate(spec.layers) for step_id in layer}
    ordered = [spec.step(step_id) for layer in spec.layers for step_id in layer]
    return SagaTopology(
        name=spec.name,
        class_name=class_label(spec.cls),
        module=spec.cls.__module__,
        steps=tuple(_step_node(step, layer_of[step.step_id]) for step in ordered),
        layers=spec.layers,
        layer_concurrency=spec.layer_concurrency,
        compensation_policy=spec.compensation_policy,
    )


StepNode.model_rebuild()
