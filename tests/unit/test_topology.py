"""Topologies of saga classes: the model, and each drawing of it, checked by the tools that read them."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from fireflytx import CompensationPolicy, DefinitionError, compensation_step, definition_of, saga, saga_step
from fireflytx._demo import OrderFulfillmentSaga
from fireflytx.errors import GraphvizNotFoundError, RenderError
from fireflytx.topology import Format, SagaTopology, topology

EXAMPLES = Path(__file__).parents[2] / "examples"


@saga("payment-processing")
class MySaga:
    @saga_step("validate-payment", retry=3, timeout_ms=5000)
    async def validate_payment(self, payment: dict[str, object]) -> dict[str, object]:
        return payment

    @compensation_step("validate-payment")
    async def refund_validation(self, validation: dict[str, object]) -> None:
        pass

    @saga_step("process-payment", depends_on=["validate-payment"], compensate="refund_payment")
    async def process_payment(self, payment: dict[str, object]) -> dict[str, object]:
        return payment

    async def refund_payment(self, charge: dict[str, object]) -> None:
        pass

    @saga_step("send-confirmation", depends_on=["process-payment"])
    async def send_confirmation(self, payment: dict[str, object]) -> None:
        pass


@saga("tuned", layer_concurrency=2, compensation_policy="CIRCUIT_BREAKER")
class TunedSaga:
    @saga_step("fetch", retry=2, backoff_ms=250, jitter=True, jitter_factor=0.25, idempotency_key="fetch-1")
    def fetch(self, value: object) -> None:
        pass

    @saga_step("left", depends_on=["fetch"], timeout_ms=1500)
    def left(self, value: object) -> None:
        pass

    @compensation_step("left", retry=4, backoff_ms=20, timeout_ms=900, critical=True)
    def undo_left(self, result: object) -> None:
        pass

    @saga_step("right", depends_on=["fetch"])
    def right(self, value: object) -> None:
        pass

    @saga_step("join", depends_on=["right", "left"])
    def join(self, value: object) -> None:
        pass


@saga('odd "names" <&> #1')
class OddNames:
    """Step ids may hold anything; every format must still be well formed."""

    @saga_step('say "hi" \\n {x} <b>&amp; #35; |pipe|')
    def first(self, value: object) -> None:
        pass

    @compensation_step('say "hi" \\n {x} <b>&amp; #35; |pipe|')
    def undo_first(self, result: object) -> None:
        pass

    @saga_step("ünïcödé ✓ end", depends_on=['say "hi" \\n {x} <b>&amp; #35; |pipe|'])
    def second(self, value: object) -> None:
        pass


SAGAS = [MySaga, TunedSaga, OddNames, OrderFulfillmentSaga]

SEED_GUIDE_TREE = """\
MySaga (payment-processing)
├─ validate-payment (retry=3, timeout=5s)
│  └─ compensation: refund_validation
├─ process-payment (depends_on: validate-payment)
│  └─ compensation: refund_payment
└─ send-confirmation (depends_on: process-payment)
"""


def test_ascii_tree_matches_the_seed_guide_and_shows_the_layers() -> None:
    text = topology(MySaga).to_ascii()
    assert text.startswith(SEED_GUIDE_TREE)
    assert text[len(SEED_GUIDE_TREE) :] == (
        "execution layers:\n  1  validate-payment\n  2  process-payment\n  3  send-confirmation\n"
    )
    assert str(topology(MySaga)) == text


def test_parallel_layers_and_settings_in_the_tree() -> None:
    text = topology(TunedSaga).to_ascii()
    assert text.splitlines() == [
        "TunedSaga (tuned) [policy=CIRCUIT_BREAKER, layer_concurrency=2]",
        "├─ fetch (retry=2, backoff=250ms, jitter=±25%, idempotency_key='fetch-1')",
        "├─ left (depends_on: fetch; timeout=1.5s)",
        "│  └─ compensation: undo_left (retry=4, backoff=20ms, timeout=900ms, critical)",
        "├─ right (depends_on: fetch)",
        "└─ join (depends_on: right, left)",
        "execution layers:",
        "  1  fetch",
        "  2  left ∥ right",
        "  3  join",
    ]


def test_the_model_carries_every_setting() -> None:
    shape = topology(TunedSaga)
    assert isinstance(shape, SagaTopology)
    assert (shape.kind, shape.name, shape.class_name) == ("saga", "tuned", "TunedSaga")
    assert shape.module == __name__
    assert shape.layers == (("fetch",), ("left", "right"), ("join",))
    assert [s.step_id for s in shape.steps] == ["fetch", "left", "right", "join"]
    assert shape.layer_concurrency == 2
    assert shape.compensation_policy is CompensationPolicy.CIRCUIT_BREAKER
    fetch = shape.step("fetch")
    assert (fetch.retry, fetch.backoff_ms, fetch.jitter, fetch.jitter_factor) == (2, 250, True, 0.25)
    assert (fetch.idempotency_key, fetch.layer, fetch.is_async, fetch.method) == (
        "fetch-1",
        0,
        False,
        "fetch",
    )
    left = shape.step("left")
    assert left.timeout_ms == 1500 and left.depends_on == ("fetch",) and left.layer == 1
    assert left.compensation is not None
    assert left.compensation.model_dump() == {
        "method": "undo_left",
        "is_async": False,
        "retry": 4,
        "backoff_ms": 20,
        "timeout_ms": 900,
        "critical": True,
    }
    assert shape.step("join").depends_on == ("right", "left")
    assert shape.step("right").compensation is None
    with pytest.raises(KeyError, match="no step 'nope'"):
        shape.step("nope")


def test_steps_are_listed_in_execution_order_not_declaration_order() -> None:
    @saga("backwards")
    class Backwards:
        @saga_step("last", depends_on=["first"])
        def last(self, value: object) -> None:
            pass

        @saga_step("first")
        def first(self, value: object) -> None:
            pass

    shape = topology(Backwards)
    assert shape.class_name == "Backwards"  # not "test_….<locals>.Backwards"
    assert [s.step_id for s in shape.steps] == ["first", "last"]
    assert shape.to_ascii().splitlines()[1:3] == ["├─ first", "└─ last (depends_on: first)"]


def test_topology_accepts_a_class_an_instance_or_a_spec() -> None:
    expected = topology(MySaga)
    assert topology(MySaga()) == expected
    assert topology(definition_of(MySaga)) == expected


def test_topology_rejects_what_is_not_a_saga() -> None:
    class Plain:
        pass

    with pytest.raises(DefinitionError, match="decorate the class with @saga"):
        topology(Plain)

    class Sub(MySaga):
        pass

    with pytest.raises(DefinitionError, match="subclasses must be decorated again"):
        topology(Sub)


def test_the_model_is_frozen() -> None:
    shape = topology(MySaga)
    with pytest.raises(ValidationError):
        shape.name = "other"  # type: ignore[misc]


def test_json_is_the_model_and_reads_back() -> None:
    shape = topology(TunedSaga)
    data = json.loads(shape.to_json())
    assert data["kind"] == "saga"
    assert data["layers"] == [["fetch"], ["left", "right"], ["join"]]
    assert data["compensation_policy"] == "CIRCUIT_BREAKER"
    assert data["steps"][1]["compensation"]["critical"] is True
    assert SagaTopology.model_validate_json(shape.to_json()) == shape
    assert shape.render("json") == shape.to_json()


def _dot_nodes_and_edges(dot: str) -> tuple[dict[str, str], set[tuple[str, str]], set[tuple[str, str]]]:
    labels = {
        key: label.split("\\n")[0]
        for key, label in re.findall(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)"', dot, re.M)
    }
    plain = {(labels[a], labels[b]) for a, b in re.findall(r"^  (\w+) -> (\w+);$", dot, re.M)}
    dashed = {(labels[a], labels[b]) for a, b in re.findall(r"^  (\w+) -> (\w+) \[style=dashed", dot, re.M)}
    return labels, plain, dashed


def test_dot_has_one_arrow_per_dependency_and_a_dashed_one_per_compensation() -> None:
    _, plain, dashed = _dot_nodes_and_edges(topology(TunedSaga).to_dot())
    assert plain == {("fetch", "left"), ("fetch", "right"), ("right", "join"), ("left", "join")}
    assert dashed == {("left", "↺ undo_left")}
    dot = topology(TunedSaga).to_dot()
    assert dot.count("subgraph cluster_") == 3
    assert 'label="layer 2"' in dot


@pytest.mark.parametrize("cls", SAGAS, ids=lambda c: c.__name__)
def test_graphviz_accepts_the_dot_output(cls: type, dot_svg: Callable[[str], str]) -> None:
    svg = dot_svg(topology(cls).to_dot())
    root = ET.fromstring(svg)
    texts = "".join(root.itertext())
    for step in topology(cls).steps:
        assert step.step_id in texts


def test_mermaid_output_parses_with_mermaids_own_parser(
    mermaid_parse: Callable[[list[str]], list[dict[str, str]]],
) -> None:
    texts = [topology(cls).to_mermaid() for cls in SAGAS]
    broken = texts[0].replace('n0["', 'n0["unclosed', 1).replace('"]', "", 1)
    results = mermaid_parse([*texts, broken])
    assert [r["ok"] for r in results] == [True] * len(SAGAS) + [False]
    assert {r["type"] for r in results[:-1]} == {"flowchart-v2"}


def test_mermaid_escapes_labels_and_links_steps() -> None:
    text = topology(OddNames).to_mermaid()
    assert "#quot;hi#quot;" in text and "#lt;b#gt;#amp;amp; #35;35;" in text
    assert text.startswith('---\ntitle: "OddNames (odd \\"names\\" <&> #1)"\n---\nflowchart TB\n')
    mermaid = topology(MySaga).to_mermaid()
    assert "  n0 --> n1\n  n1 --> n2\n" in mermaid
    assert '  n0 -.->|"compensation"| c0\n' in mermaid


def test_svg_is_drawn_by_graphviz() -> None:
    svg = topology(OrderFulfillmentSaga).to_svg()
    assert svg == topology(OrderFulfillmentSaga).render(Format.SVG)
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "confirm-order" in "".join(root.itertext())


def test_svg_without_graphviz_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz") as caught:
        topology(MySaga).to_svg()
    assert isinstance(caught.value, RenderError)
    assert topology(MySaga).to_ascii()  # every other format still works


def test_render_errors_pickle() -> None:
    for error in (GraphvizNotFoundError(), RenderError("dot failed")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)


def test_a_failing_dot_is_a_render_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\necho 'syntax error in line 1' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RenderError, match="exit code 3: syntax error in line 1"):
        topology(MySaga).to_svg()


def test_notebooks_show_the_svg_when_graphviz_is_there() -> None:
    shape = topology(MySaga)
    bundle = shape._repr_mimebundle_()
    assert bundle["text/plain"] == shape.to_ascii()
    assert bundle["image/svg+xml"].startswith("<?xml")
    assert bundle["text/html"].startswith("<svg")
    assert shape._repr_html_().startswith("<svg")


def test_notebooks_show_the_tree_without_graphviz(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    shape = topology(OddNames)
    bundle = shape._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/html"].startswith("<pre>OddNames (odd &quot;names&quot; &lt;&amp;&gt; #1)")
    assert shape._repr_html_() == bundle["text/html"]


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="'png' is not a valid Format"):
        topology(MySaga).render("png")


def test_tcc_topology_never_imports_the_jvm() -> None:
    code = (
        "import sys; from fireflytx._demo import OrderPlacementTcc; from fireflytx.topology import topology; "
        "print(topology(OrderPlacementTcc).kind, 'jpype' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["tcc", "False"]


@pytest.mark.parametrize(
    ("example", "count"),
    [("payment_saga.py", 1), ("order_saga.py", 1), ("order_tcc.py", 2), ("fan_out_saga.py", 1)],
)
def test_topology_never_imports_the_jvm(example: str, count: int) -> None:
    code = (
        "import runpy, sys; from fireflytx.topology import topology, Format; "
        f"ns = runpy.run_path({str(EXAMPLES / example)!r}); "
        "sagas = [v for v in ns.values() if hasattr(v, '__fireflytx_definition__')]; "
        "[topology(s).render(f) for s in sagas for f in Format]; "
        "print(len(sagas), 'jpype' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(count), "False"]
