"""Method-style participants, input= selectors and TccInputs, as definitions and topologies (no JVM)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from fireflytx import (
    DefinitionError,
    TccInputs,
    cancel_method,
    confirm_method,
    tcc,
    tcc_definition_of,
    tcc_participant,
    try_method,
)
from fireflytx._persistence import TypeRegistry, decode, encode
from fireflytx._tcc._inputs import participant_inputs
from fireflytx._values import to_jsonable
from fireflytx.topology import topology


def pick_items(order: dict[str, Any]) -> Any:
    return order["items"]


@tcc("styles", timeout_ms=900)
class Styles:
    @try_method(retry=1)
    def try_audit(self, order: object) -> str:
        return "a"

    @confirm_method
    def confirm_audit(self, entry: str) -> None: ...

    @cancel_method
    def cancel_audit(self, entry: str | None) -> None: ...

    @tcc_participant("payment", order=1, input=lambda order: order["payment"])
    class Payment:
        @try_method
        def hold(self, card: object) -> str:
            return "h"

        @confirm_method
        def capture(self, hold: str) -> None: ...

        @cancel_method
        def release(self, hold: str | None) -> None: ...

    @cancel_method  # declaration order of its phases does not matter; its try's place does
    def cancel_reserve_stock(self, r: object) -> None: ...

    @tcc_participant("reserve-stock", optional=True, timeout_ms=50, input=pick_items)
    @try_method
    def try_reserve_stock(self, items: object) -> str:
        return "r"

    @confirm_method
    def confirm_reserve_stock(self, r: object) -> None: ...

    def try_parse(self, text: str) -> int:  # a helper, not a participant: it is not decorated
        return int(text)


def test_method_style_and_nested_participants_mix_in_declaration_order() -> None:
    spec = tcc_definition_of(Styles)
    assert [(p.participant_id, p.order) for p in spec.participants] == [
        ("audit", 0), ("reserve-stock", 0), ("payment", 1)
    ]
    audit = spec.participant("audit")
    assert audit.cls is Styles and audit.select is None
    assert [audit.phase(p).method_name for p in ("try", "confirm", "cancel")] == [
        "try_audit", "confirm_audit", "cancel_audit"
    ]
    assert (audit.try_phase.retry, audit.try_phase.timeout_ms) == (1, 900)
    stock = spec.participant("reserve-stock")
    assert stock.optional and stock.select is pick_items and stock.confirm_phase.timeout_ms == 50
    assert spec.participant("payment").cls is Styles.Payment


def test_the_decorators_stack_in_either_order() -> None:
    @tcc("stacked")
    class Stacked:
        @try_method(retry=4)
        @tcc_participant("pay", order=2)
        def try_pay(self, x: object) -> int:
            return 1

        @confirm_method
        def confirm_pay(self, r: int) -> None: ...

        @cancel_method
        def cancel_pay(self, r: int | None) -> None: ...

    (pay,) = tcc_definition_of(Stacked).participants
    assert (pay.participant_id, pay.order, pay.try_phase.retry) == ("pay", 2, 4)


def test_selectors_pick_parts_and_tcc_inputs_give_entries() -> None:
    spec = tcc_definition_of(Styles)
    order = {"payment": {"n": 1}, "items": ["x"]}
    assert participant_inputs(spec, order) == {"payment": {"n": 1}, "reserve-stock": ["x"]}
    assert TccInputs({"a-b": 1}, c=2).parts == {"a-b": 1, "c": 2}
    assert TccInputs(c=2).get("d") is None and repr(TccInputs(c=2)) == "TccInputs({'c': 2})"
    with pytest.raises(TypeError, match="participant ids"):
        TccInputs({1: "x"})  # type: ignore[dict-item]


@dataclass
class Card:
    number: str


def test_tcc_inputs_are_stored_with_their_entries_types() -> None:
    inputs = TccInputs(payment=Card("42"), items=("a", 1), nothing=None)
    stored = json.loads(json.dumps(encode(inputs)))
    assert stored["$ftx"] == "tcc-inputs"
    registry = TypeRegistry()
    registry.register(Card)
    back = decode(stored, registry)
    assert isinstance(back, TccInputs) and back == inputs
    assert isinstance(back.get("payment"), Card)
    # Events carry the input as JSON; the public module name must not hide the field's type.
    assert to_jsonable(inputs) == {"parts": {"payment": {"number": "42"}, "items": ["a", 1], "nothing": None}}


def test_the_topology_shows_selectors_and_method_style_participants_like_nested_ones() -> None:
    shape = topology(Styles)
    text = shape.to_ascii()
    assert "audit (order=0)" in text and "try: try_audit (retry=1" in text
    assert "reserve-stock (order=0, optional, input=pick_items)" in text
    assert """payment (order=1, input=lambda order: order["payment"])""" in text
    assert shape.participant("audit").class_name == "Styles"
    assert shape.participant("payment").input_selector == 'lambda order: order["payment"]'
    assert shape.participant("audit").input_selector is None
    dot = shape.to_dot()
    assert "input: pick_items" in dot and "try: try_audit" in dot
    assert json.loads(shape.to_json())["participants"][1]["input_selector"] == "pick_items"


def _problems(build: Any) -> str:
    with pytest.raises(DefinitionError) as info:
        build()
    return "\n".join(info.value.problems)


def test_method_style_mistakes_are_reported_together_with_their_fixes() -> None:
    def build() -> None:
        @tcc("broken-methods")
        class Broken:
            def __init__(self, needed: int) -> None: ...

            @try_method
            def try_pay(self, x: object) -> None: ...

            def confirm_pay(self, r: object) -> None: ...

            @confirm_method
            def try_ship(self, r: object) -> None: ...

            @cancel_method
            def undo(self, r: object) -> None: ...

            @tcc_participant("solo")
            def try_solo(self, x: object) -> None: ...

            @tcc_participant("pay")
            class Pay:
                @try_method
                def t(self, x: object) -> None: ...

                @confirm_method
                def f(self, r: object) -> None: ...

                @cancel_method
                def c(self, r: object) -> None: ...

    text = _problems(build)
    for fragment in [
        "participant 'pay': has try_pay but no @confirm_method confirm_pay; decorate confirm_pay with "
        "@confirm_method",
        "participant 'pay': has try_pay but no @cancel_method cancel_pay; add `@cancel_method def "
        "cancel_pay(self, ...)` to the @tcc class",
        "try_ship: is named like a try method but decorated @confirm_method; use @try_method, or rename it "
        "confirm_ship",
        "undo: @cancel_method on the @tcc class itself declares a method-style participant, so name it "
        "cancel_<participant id>",
        "try_solo: @tcc_participant on a method marks the try method of a method-style participant; add "
        "@try_method",
        "duplicate participant id 'pay' on try_pay and Pay; give each participant its own id",
        "must be creatable without arguments, since each run makes one instance to serve its method-style",
    ]:
        assert fragment in text, fragment


def test_bad_selectors_are_definition_errors() -> None:
    async def later(order: object) -> object:
        return order

    def build() -> None:
        @tcc("bad-selectors")
        class Bad:
            @tcc_participant("a", input=dict)  # type: ignore[arg-type]
            class A:
                @try_method
                def t(self, x: object) -> None: ...

                @confirm_method
                def f(self, r: object) -> None: ...

                @cancel_method
                def c(self, r: object) -> None: ...

            @tcc_participant("b", input=later)
            @try_method
            def try_b(self, x: object) -> None: ...

            @confirm_method
            def confirm_b(self, r: object) -> None: ...

            @cancel_method
            def cancel_b(self, r: object) -> None: ...

            @tcc_participant("c", input=lambda a, b: a)
            @try_method
            def try_c(self, x: object) -> None: ...

            @confirm_method
            def confirm_c(self, r: object) -> None: ...

            @cancel_method
            @tcc_participant("c2")
            def cancel_c(self, r: object) -> None: ...

            @tcc_participant  # type: ignore[arg-type]
            @try_method
            def try_d(self, x: object) -> None: ...

            @confirm_method
            def confirm_d(self, r: object) -> None: ...

            @cancel_method
            def cancel_d(self, r: object) -> None: ...

    text = _problems(build)
    for fragment in [
        "participant 'a': input= takes a function of the transaction input",
        "not the class dict; to convert the part it picks, annotate the try method's parameter",
        "try_b: input= must be a plain function, not async",
        "try_c: input= must take exactly one argument",
        "cancel_c: @tcc_participant belongs on the try method, not on a @cancel_method",
        "try_d: @tcc_participant needs an id: @tcc_participant('payment')",
    ]:
        assert fragment in text, fragment


def test_participant_options_on_a_method_of_a_nested_participant_are_rejected() -> None:
    def build() -> None:
        @tcc("nested-options")
        class Nested:
            @tcc_participant("p")
            class P:
                @tcc_participant("q")
                @try_method
                def t(self, x: object) -> None: ...

                @confirm_method
                def f(self, r: object) -> None: ...

                @cancel_method
                def c(self, r: object) -> None: ...

    text = _problems(build)
    assert "participant 'p'.t: @tcc_participant on a method is for method-style participants" in text
    assert "has no @try_method" not in text
