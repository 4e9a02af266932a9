"""See a transaction before and after it runs: topologies, run views and timelines.

Nothing here starts or imports the JVM, so a saga or TCC can be reviewed, drawn and checked in CI
with no Java installed. Before a run::

    from . import topology
    print(topology(PaymentSaga))            # the ASCII tree
    topology(PaymentSaga).to_mermaid()      # or to_dot(), to_json(), to_svg()

After a run::

    from . import run_view, timeline
    print(run_view(result, PaymentSaga))    # where it broke and what was undone
    timeline(result).to_html()              # when each attempt and compensation ran

In a notebook each of these displays itself: an SVG when Graphviz is installed, else the tree.
"""

from __future__ import annotations

# Implemented in _api.py
from ._api import Topology, run_view, timeline, topology

# Implemented in _render.py
from ._render import Diagram, Format

# Implemented in _run_common.py
from ._run_common import AttemptRun

# Implemented in _saga.py
from ._saga import CompensationNode, SagaTopology, StepNode

# Implemented in _saga_run.py
from ._saga_run import CompensationRun, CompensationState, SagaRunView, StepRun

# Implemented in _tcc.py
from ._tcc import ParticipantNode, PhaseNode, TccTopology

# Implemented in _tcc_run.py
from ._tcc_run import ParticipantRun, PhaseRun, TccRunView

# Implemented in _timeline.py
from ._timeline import Bar, BarOutcome, Lane, Timeline, TimelineFormat

__all__ = [
    "AttemptRun",
    "Bar",
    "BarOutcome",
    "CompensationNode",
    "CompensationRun",
    "CompensationState",
    "Diagram",
    "Format",
    "Lane",
    "ParticipantNode",
    "ParticipantRun",
    "PhaseNode",
    "PhaseRun",
    "SagaRunView",
    "SagaTopology",
    "StepNode",
    "StepRun",
    "TccRunView",
    "TccTopology",
    "Timeline",
    "TimelineFormat",
    "Topology",
    "run_view",
    "timeline",
    "topology",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        try:
            _obj.__module__ = "fireflytx.topology"
        except (AttributeError, TypeError):
            pass
del _name, _obj
