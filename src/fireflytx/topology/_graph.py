"""One small graph model, written out as Graphviz DOT or a Mermaid flowchart.

Topologies and run views build a ``Graph``; the two emitters below are the only places that know
either syntax, so escaping and styling rules live once. Node keys are generated (``n0``, ``c0`` …)
because step ids may contain anything; only labels carry user text, always escaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["STYLES", "Cluster", "Edge", "Graph", "Node", "Style", "to_dot", "to_mermaid"]


@dataclass(frozen=True, slots=True)
class Style:
    """How one kind of node looks, in both syntaxes."""

    fill: str
    stroke: str
    font: str = "#1f2933"
    dashed: bool = False
    bold: bool = False
    compensation: bool = False


STYLES: dict[str, Style] = {
    "step": Style("#e8f0fe", "#3b6fd8"),
    "compensation": Style("#fff4e5", "#e8a33d", dashed=True, compensation=True),
    "succeeded": Style("#e6f4ea", "#2e7d32"),
    "failed": Style("#fdecea", "#c62828", bold=True),
    "compensated": Style("#fff8e1", "#f9a825"),
    "compensation_failed": Style("#fdecea", "#b71c1c", bold=True),
    "not_run": Style("#f5f5f5", "#9e9e9e", font="#757575", dashed=True),
    "undo_done": Style("#fff4e5", "#e8a33d", compensation=True),
    "undo_failed": Style("#fdecea", "#b71c1c", bold=True, compensation=True),
    "undo_skipped": Style("#f5f5f5", "#9e9e9e", font="#757575", dashed=True, compensation=True),
    "participant": Style("#e8f0fe", "#3b6fd8"),
    "try": Style("#e3f2fd", "#1565c0"),
    "confirm": Style("#e6f4ea", "#2e7d32"),
    "cancel": Style("#fff4e5", "#e8a33d", dashed=True, compensation=True),
}


@dataclass(frozen=True, slots=True)
class Node:
    """A box: ``lines[0]`` is its title, the rest details; ``style`` keys ``STYLES``."""

    key: str
    lines: tuple[str, ...]
    style: str


@dataclass(frozen=True, slots=True)
class Edge:
    """An arrow; ``dashed`` edges link a step to its compensation; ``ranks`` is its least length."""

    source: str
    target: str
    label: str = ""
    dashed: bool = False
    ranks: int = 1


@dataclass(frozen=True, slots=True)
class Cluster:
    """A framed group (an execution layer, a TCC participant); ``rows`` are drawn side by side."""

    key: str
    label: str
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes, edges and clusters in drawing order, under a title."""

    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    direction: str = "TB"
    notes: tuple[str, ...] = field(default=())


# -- DOT ---------------------------------------------------------------------------------------


def _dot_str(text: str) -> str:
    # DOT strings treat backslash sequences (\n, \l, \N …) as escapes: double every backslash first.
    # Graphviz also decodes entities such as &amp; in labels, so a literal '&' is written as one.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("&", "&amp;")
    return f'"{escaped}"'


def _dot_node(node: Node) -> str:
    style = STYLES[node.style]
    styles = ["filled", "dashed" if style.dashed else "solid"]
    if not style.compensation:
        styles.insert(0, "rounded")
    attrs = {
        "label": "\n".join(node.lines),
        "shape": "note" if style.compensation else "box",
        "style": ",".join(styles),
        "fillcolor": style.fill,
        "color": style.stroke,
        "fontcolor": style.font,
        "penwidth": "2" if style.bold else "1",
    }
    rendered = ", ".join(f"{k}={_dot_str(v)}" for k, v in attrs.items())
    return f"  {node.key} [{rendered}];"


def to_dot(graph: Graph) -> str:
    """The graph as a Graphviz ``digraph`` that ``dot`` lays out top to bottom."""
    title = "\n".join((graph.title, *graph.notes))
    lines = [
        "digraph fireflytx {",
        f'  graph [label={_dot_str(title)}, labelloc=t, fontname="Helvetica", fontsize=14, '
        f"rankdir={graph.direction}, newrank=true, nodesep=0.35, ranksep=0.5];",
        '  node [fontname="Helvetica", fontsize=11, margin="0.15,0.06"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    ]
    for node in graph.nodes:
        lines.append(_dot_node(node))
    for cluster in graph.clusters:
        lines.append(f"  subgraph cluster_{cluster.key} {{")
        lines.append(
            f'    label={_dot_str(cluster.label)}; style="dashed,rounded"; color="#b0b7c3"; '
            'fontcolor="#52606d"; fontsize=10;'
        )
        for row in cluster.rows:
            lines.append(f"    {{ rank=same; {'; '.join(row)}; }}")
        lines.append("  }")
    for edge in graph.edges:
        attrs = []
        if edge.dashed:
            attrs += ["style=dashed", 'color="#e8a33d"', "arrowhead=vee"]
        if edge.label:
            attrs.append(f"label={_dot_str(edge.label)}")
        if edge.ranks > 1:
            attrs.append(f"minlen={edge.ranks}")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {edge.source} -> {edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- Mermaid -----------------------------------------------------------------------------------

_MERMAID_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}


def _mermaid_text(text: str) -> str:
    # Mermaid reads #name; entity codes inside quoted labels; '#' itself must be escaped first.
    return "".join(_MERMAID_ENTITIES.get(ch, ch) for ch in text)


def _mermaid_node(node: Node) -> str:
    label = "<br/>".join(_mermaid_text(line) for line in node.lines)
    if STYLES[node.style].compensation:
        return f'{node.key}(["{label}"])'
    return f'{node.key}["{label}"]'


def _mermaid_class(name: str, style: Style) -> str:
    parts = [f"fill:{style.fill}", f"stroke:{style.stroke}", f"color:{style.font}"]
    if style.dashed:
        parts.append("stroke-dasharray:4 3")
    if style.bold:
        parts.append("stroke-width:2px")
    return f"  classDef {name} {','.join(parts)}"


def to_mermaid(graph: Graph) -> str:
    """The graph as a Mermaid ``flowchart``, its title in front matter."""
    title = " · ".join((graph.title, *graph.notes))
    lines = ["---", f"title: {json.dumps(title, ensure_ascii=False)}", "---", f"flowchart {graph.direction}"]
    by_key = {node.key: node for node in graph.nodes}
    placed: set[str] = set()
    for cluster in graph.clusters:
        lines.append(f'  subgraph {cluster.key}["{_mermaid_text(cluster.label)}"]')
        lines.append("    direction LR" if graph.direction == "TB" else "    direction TB")
        for row in cluster.rows:
            for key in row:
                lines.append(f"    {_mermaid_node(by_key[key])}")
                placed.add(key)
        lines.append("  end")
    for node in graph.nodes:
        if node.key not in placed:
            lines.append(f"  {_mermaid_node(node)}")
    for edge in graph.edges:
        extra = edge.ranks - 1
        arrow = f"-.{'.' * extra}->" if edge.dashed else f"--{'-' * extra}>"
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    used = sorted({node.style for node in graph.nodes})
    for name in used:
        lines.append(_mermaid_class(name, STYLES[name]))
    for name in used:
        keys = ",".join(node.key for node in graph.nodes if node.style == name)
        lines.append(f"  class {keys} {name}")
    return "\n".join(lines) + "\n"
