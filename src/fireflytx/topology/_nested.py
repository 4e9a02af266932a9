"""Drawing a sub-saga inside the step that runs it.

The child's tree hangs under the step's line, and the child's graph is one framed group beside
the parent's layers.

Topologies and run views both nest this way, so a saga of sagas reads the same before and after
it ran. Node keys of the child are prefixed with the step's key, so any depth stays unique.
"""

from __future__ import annotations

from datetime import datetime

from ._graph import Cluster, Edge, Graph, Node
from ._text import Tree, ms_between
from ._timeline import Lane, Timeline

__all__ = ["child_lanes", "nest_graph", "nest_tree"]


def nest_tree(line: Tree, label: str, child: Tree | None) -> None:
    """Hang ``label`` under a step's ``line`` and the child's own lines under it."""
    sub = line.add(label)
    if child is not None:
        sub.children.extend(child.children)


def nest_graph(
    key: str,
    mark: str,
    label: str,
    child: Graph | None,
    nodes: list[Node],
    edges: list[Edge],
    clusters: list[Cluster],
) -> None:
    """Add ``mark`` to the step's node (``key``, the last node so far); add the child's graph.

    The child's layers become one group, titled ``label``; its own sub-sagas keep their groups.
    An edge from the step leads to the child's first steps.
    """
    last = nodes[-1]
    nodes[-1] = Node(last.key, (*last.lines, mark), last.style)
    if child is None:
        return
    prefix = f"{key}_"
    nodes.extend(Node(prefix + n.key, n.lines, n.style) for n in child.nodes)
    targets = {e.target for e in child.edges}
    firsts = [n.key for n in child.nodes if n.key not in targets and n.key.startswith("n")]
    edges.extend(Edge(key, prefix + first, "runs") for first in firsts)
    edges.extend(Edge(prefix + e.source, prefix + e.target, e.label, e.dashed, e.ranks) for e in child.edges)
    rows = tuple(
        tuple(prefix + k for k in row)
        for cluster in child.clusters
        if cluster.key.startswith("L")
        for row in cluster.rows
    )
    clusters.append(Cluster(f"{key}_sub", label, rows))
    clusters.extend(
        Cluster(prefix + c.key, c.label, tuple(tuple(prefix + k for k in row) for row in c.rows))
        for c in child.clusters
        if not c.key.startswith("L")
    )


def child_lanes(step_id: str, child: Timeline, run_start: datetime, child_start: datetime) -> list[Lane]:
    """The child's lanes on the parent's time axis, each labelled ``<step> › <lane>``."""
    shift = ms_between(run_start, child_start)
    return [
        lane.model_copy(
            update={
                "label": f"{step_id} › {lane.label}",
                "bars": tuple(
                    bar.model_copy(update={"start_ms": bar.start_ms + shift, "end_ms": bar.end_ms + shift})
                    for bar in lane.bars
                ),
            }
        )
        for lane in child.lanes
    ]
