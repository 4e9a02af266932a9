"""The shape of a TCC, read from its ``TccSpec``: participants in order, each with three phases."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .._tcc._definition import PhaseSpec, TccSpec
from ._graph import Cluster, Edge, Graph, Node
from ._render import Diagram
from ._run_common import unit_by_id
from ._text import Tree, attempt_settings, class_label, ms_setting

__all__ = ["ParticipantNode", "PhaseNode", "TccTopology", "tcc_topology"]

Phase = Literal["try", "confirm", "cancel"]
_PHASE: dict[str, Phase] = {"try": "try", "confirm": "confirm", "cancel": "cancel"}


class PhaseNode(BaseModel):
    """One phase method of a participant; ``timeout_ms`` is the effective limit (0: none)."""

    model_config = ConfigDict(frozen=True)

    phase: Phase
    method: str
    is_async: bool
    timeout_ms: int
    retry: int
    backoff_ms: int

    def _settings(self) -> list[str]:
        """Timeout, retry and backoff settings that differ from the defaults."""
        return attempt_settings(self.retry, self.backoff_ms, self.timeout_ms)

    def _describe(self) -> str:
        """``try: reserve (retry=2, timeout=5s)``."""
        settings = self._settings()
        return f"{self.phase}: {self.method}" + (f" ({', '.join(settings)})" if settings else "")


class ParticipantNode(BaseModel):
    """One participant: where it stands in the order, and its try, confirm and cancel."""

    model_config = ConfigDict(frozen=True)

    participant_id: str
    class_name: str
    """The nested participant class, or the TCC class itself for a method-style participant."""
    order: int
    optional: bool
    try_phase: PhaseNode
    confirm_phase: PhaseNode
    cancel_phase: PhaseNode
    input_selector: str | None = None
    """How the participant picks its input out of the transaction input: the ``input=`` lambda as
    written, or the selector function's name; ``None`` when it receives the whole input."""

    @property
    def phases(self) -> tuple[PhaseNode, PhaseNode, PhaseNode]:
        """Try, confirm and cancel, in that order."""
        return (self.try_phase, self.confirm_phase, self.cancel_phase)

    def _heading(self) -> str:
        """``payment (order=1, optional, input=lambda order: order["payment"])``."""
        notes = [f"order={self.order}", *(["optional"] if self.optional else [])]
        if self.input_selector is not None:
            notes.append(f"input={self.input_selector}")
        return f"{self.participant_id} ({', '.join(notes)})"


class TccTopology(Diagram):
    """A TCC's participants in the order their tries run, each with its three phases.

    Tries run one after another in ``order``; when all succeed every participant is confirmed,
    and when one fails every participant whose try started is cancelled (an ``optional``
    participant's failed try only cancels that participant).
    """

    kind: Literal["tcc"] = "tcc"
    name: str
    class_name: str
    module: str
    participants: tuple[ParticipantNode, ...]
    timeout_ms: int

    def participant(self, participant_id: str) -> ParticipantNode:
        """One participant by id.

        Raises:
            KeyError: the TCC has no such participant.
        """
        owner = f"tcc {self.name!r}"
        return unit_by_id(self.participants, "participant_id", participant_id, owner, list_known=True)

    def _notes(self) -> list[str]:
        return [f"timeout={ms_setting(self.timeout_ms)}"] if self.timeout_ms else []

    def _tree(self) -> tuple[Tree, Iterable[str]]:
        notes = self._notes()
        root = Tree(f"{self.class_name} ({self.name})" + (f" [{', '.join(notes)}]" if notes else ""))
        for participant in self.participants:
            line = root.add(participant._heading())
            for phase in participant.phases:
                line.add(phase._describe())
        order = " → ".join(p.participant_id for p in self.participants)
        return root, [
            f"tries in order: {order}",
            "then: confirm all, or cancel every participant whose try started",
        ]

    def _graph(self) -> Graph:
        nodes: list[Node] = []
        edges: list[Edge] = []
        clusters: list[Cluster] = []
        for i, participant in enumerate(self.participants):
            keys = (f"t{i}", f"f{i}", f"x{i}")
            for key, phase in zip(keys, participant.phases, strict=True):
                settings = phase._settings()
                lines = (f"{phase.phase}: {phase.method}", *([" · ".join(settings)] if settings else []))
                if phase.phase == "try" and participant.input_selector is not None:
                    lines = (*lines, f"input: {participant.input_selector}")
                nodes.append(Node(key, lines, phase.phase))
            label = f"{participant.order} · {participant.participant_id}" + (
                " (optional)" if participant.optional else ""
            )
            clusters.append(Cluster(f"P{i}", label, ((keys[0],), keys[1:])))
            edges.append(Edge(keys[0], keys[1], "all tried"))
            edges.append(Edge(keys[0], keys[2], "a try failed", dashed=True))
        order = [Edge(f"t{i - 1}", f"t{i}", "then", ranks=2) for i in range(1, len(self.participants))]
        return Graph(
            title=f"{self.class_name} ({self.name})",
            nodes=tuple(nodes),
            edges=(*order, *edges),
            clusters=tuple(clusters),
            notes=tuple(self._notes()),
        )


def _phase_node(spec: PhaseSpec) -> PhaseNode:
    return PhaseNode(
        phase=_PHASE[spec.phase],
        method=spec.method_name,
        is_async=spec.is_async,
        timeout_ms=spec.timeout_ms,
        retry=spec.retry,
        backoff_ms=spec.backoff_ms,
    )


def _lambda_text(select: Callable[..., Any]) -> str | None:
    """The source of a lambda, read from the line that defines it (None if it cannot be told apart)."""
    try:
        source = textwrap.dedent(inspect.getsource(select)).strip()
    except (OSError, TypeError):
        return None
    # The line is usually a decorator or an argument list cut mid-expression: parse what surrounds it.
    for text in (source, source.lstrip("@"), f"({source.lstrip('@').rstrip(',')})"):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        code = getattr(select, "__code__", None)
        names = list(code.co_varnames[: code.co_argcount]) if code is not None else None
        # Only a lambda with the same parameters: a file edited since import may have moved lines.
        lambdas = [
            n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and [a.arg for a in n.args.args] == names
        ]
        if len(lambdas) == 1:
            return ast.get_source_segment(text, lambdas[0])
        return None
    return None


def selector_label(select: Callable[..., Any] | None) -> str | None:
    """How a topology shows an ``input=`` selector: a lambda as written, a function by name."""
    if select is None:
        return None
    name = getattr(select, "__qualname__", None) or type(select).__name__
    if name.endswith("<lambda>"):
        return _lambda_text(select) or "<lambda>"
    return name.rsplit("<locals>.", 1)[-1]


def tcc_topology(spec: TccSpec) -> TccTopology:
    """The topology of an assembled (hence valid) TCC spec."""
    return TccTopology(
        name=spec.name,
        class_name=class_label(spec.cls),
        module=spec.cls.__module__,
        participants=tuple(
            ParticipantNode(
                participant_id=p.participant_id,
                class_name=class_label(p.cls),
                order=p.order,
                optional=p.optional,
                try_phase=_phase_node(p.try_phase),
                confirm_phase=_phase_node(p.confirm_phase),
                cancel_phase=_phase_node(p.cancel_phase),
                input_selector=selector_label(p.select),
            )
            for p in spec.participants
        ),
        timeout_ms=spec.timeout_ms,
    )
