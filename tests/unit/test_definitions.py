from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Annotated

import pytest
from pydantic import BaseModel

from fireflytx import (
    DefinitionError,
    FromStep,
    SagaContext,
    compensation_step,
    definition_of,
    saga,
    saga_step,
)


class Order(BaseModel):
    order_id: str


def test_spec_records_every_knob_and_layers() -> None:
    @saga("order", layer_concurrency=2, compensation_policy="GROUPED_PARALLEL")
    class OrderSaga:
        @saga_step(
            "a", retry=3, backoff_ms=50, jitter=True, jitter_factor=0.2, timeout_ms=900, idempotency_key="k"
        )
        async def a(self, order: Order) -> dict[str, str]:
            return {}

        @compensation_step("a", retry=2, backoff_ms=10, timeout_ms=300, critical=True)
        async def undo_a(self, result: dict[str, str], ctx: SagaContext) -> None: ...

        @saga_step("b", depends_on=["a"])
        def b(self, order: Order, got: Annotated[dict[str, str], FromStep("a")]) -> None: ...

        @saga_step("c", depends_on=["a"])
        def c(self) -> None: ...

        @saga_step("d", depends_on=["b", "c"])
        async def d(self, ctx: SagaContext) -> None: ...

    spec = definition_of(OrderSaga)
    assert spec.name == "order"
    assert spec.layer_concurrency == 2
    assert spec.compensation_policy is not None and spec.compensation_policy.value == "GROUPED_PARALLEL"
    assert spec.layers == (("a",), ("b", "c"), ("d",))
    a = spec.step("a")
    assert (a.retry, a.backoff_ms, a.jitter, a.jitter_factor, a.timeout_ms, a.idempotency_key) == (
        3,
        50,
        True,
        0.2,
        900,
        "k",
    )
    assert a.is_async and not spec.step("b").is_async
    assert a.params.value_annotation is Order
    assert a.compensation is not None
    assert (
        a.compensation.retry,
        a.compensation.backoff_ms,
        a.compensation.timeout_ms,
        a.compensation.critical,
    ) == (
        2,
        10,
        300,
        True,
    )
    assert spec.step("b").params.from_steps == ("a",)
    assert spec.step("d").params.slots == (("ctx", "context", "", True),)
    assert definition_of(OrderSaga()) is spec


def test_compensate_parameter_names_a_method() -> None:
    @saga("s")
    class S:
        @saga_step("a", compensate="undo")
        def a(self) -> int:
            return 1

        def undo(self, result: int) -> None: ...

    comp = definition_of(S).step("a").compensation
    assert comp is not None and comp.method_name == "undo"


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(DefinitionError) as info:

        @saga("broken")
        class Broken:
            @saga_step("a", depends_on=["c"])
            def a(self) -> None: ...

            @saga_step("b", depends_on=["a"])
            def b(self) -> None: ...

            @saga_step("c", depends_on=["b"])
            def c(self) -> None: ...

            @saga_step("d", depends_on=["ghost"])
            def d(self) -> None: ...

            @saga_step("d")
            def d_again(self) -> None: ...

            @compensation_step("nope")
            def undo_nope(self) -> None: ...

            @compensation_step("b")
            def undo_b1(self) -> None: ...

            @compensation_step("b")
            def undo_b2(self) -> None: ...

            @saga_step("e")
            def e(self, x: int, y: int) -> None: ...

            @saga_step("f")
            def f(self, *args: int) -> None: ...

            @saga_step("g", retry=-1)
            def g(self) -> None: ...

    problems = "\n".join(info.value.problems)
    assert "dependency cycle: a -> c -> b -> a" in problems or "dependency cycle" in problems
    assert "unknown step 'ghost'" in problems
    assert "duplicate step id 'd'" in problems
    assert "step 'nope', which the saga does not have" in problems
    assert "two compensations" in problems
    assert "parameter 'y' cannot be filled" in problems
    assert "uses *args" in problems
    assert "retry must be an int >= 0" in problems
    assert len(info.value.problems) == 8
    assert pickle.loads(pickle.dumps(info.value)).problems == info.value.problems


def test_a_repeated_idempotency_key_is_rejected_with_the_other_problems() -> None:
    with pytest.raises(DefinitionError) as info:

        @saga("same-key")
        class SameKey:
            @saga_step("a", idempotency_key="charge")
            def a(self) -> None: ...

            @saga_step("b", idempotency_key="charge")
            def b(self) -> None: ...

            @saga_step("c", idempotency_key="ship")
            def c(self) -> None: ...

            @saga_step("d", depends_on=["ghost"])
            def d(self) -> None: ...

    problems = info.value.problems
    assert len(problems) == 2 and "unknown step 'ghost'" in problems[1]
    assert "steps 'a' and 'b' share idempotency_key='charge'" in problems[0]
    assert "give each step its own key" in problems[0]


def test_from_step_must_be_an_ancestor() -> None:
    with pytest.raises(DefinitionError, match="does not depend on it"):

        @saga("s")
        class S:
            @saga_step("a")
            def a(self) -> int:
                return 1

            @saga_step("b")
            def b(self, x: Annotated[int, FromStep("a")]) -> None: ...


def test_self_dependency_and_no_steps() -> None:
    with pytest.raises(DefinitionError, match="depends on itself"):

        @saga("s")
        class S:
            @saga_step("a", depends_on=["a"])
            def a(self) -> None: ...

    with pytest.raises(DefinitionError, match="has no steps"):

        @saga("empty")
        class Empty:
            pass


def test_subclasses_must_opt_in_and_undecorated_classes_are_rejected() -> None:
    @saga("base")
    class Base:
        @saga_step("a")
        def a(self) -> None: ...

    class Child(Base):
        pass

    with pytest.raises(DefinitionError, match="decorate the class with @saga"):
        definition_of(Child)
    with pytest.raises(DefinitionError, match="decorate the class with @saga"):
        definition_of(object)


def test_static_methods_and_depends_on_string_are_caught() -> None:
    with pytest.raises(DefinitionError) as info:

        @saga("s")
        class S:
            @saga_step("a")
            @staticmethod
            def a() -> None: ...

            @saga_step("b", depends_on="a")  # type: ignore[arg-type]
            def b(self) -> None: ...

    text = str(info.value)
    assert "must be a plain method" in text
    assert "depends_on must be a list" in text


def test_local_dataclass_annotations_resolve() -> None:
    @dataclass
    class Item:
        sku: str

    @saga("s")
    class S:
        @saga_step("a")
        def a(self, item: Item) -> None: ...

    assert definition_of(S).step("a").params.value_annotation is Item


def test_saga_without_arguments_uses_the_class_name() -> None:
    @saga
    class Plain:
        @saga_step("a")
        def a(self) -> None: ...

    assert definition_of(Plain).name == "Plain"


def test_a_tcc_given_where_a_saga_is_expected_names_the_right_engine() -> None:
    from fireflytx import cancel_method, confirm_method, tcc, tcc_participant, try_method

    @tcc("t")
    class T:
        @tcc_participant("p", order=1)
        class P:
            @try_method
            def t(self) -> None: ...

            @confirm_method
            def c(self, _: object) -> None: ...

            @cancel_method
            def x(self, _: object) -> None: ...

    with pytest.raises(DefinitionError, match="is a TCC, not a saga: run it with TccEngine"):
        definition_of(T)
