from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import dataclass
from typing import Annotated

import pytest
from pydantic import BaseModel

from fireflytx import (
    DefinitionError,
    FanOutItem,
    FromStep,
    InputValidationError,
    SagaContext,
    StepFailedError,
    TccCancelError,
    TccConfirmError,
    TccContext,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx._tcc._definition import tcc_definition_of


class Order(BaseModel):
    order_id: str


@dataclass
class Hold:
    hold_id: str


def test_spec_records_order_limits_and_signatures() -> None:
    @tcc("checkout", timeout_ms=9000)
    class Checkout:
        @tcc_participant("shipping", order=3, timeout_ms=700)
        class Shipping:
            @try_method(timeout_ms=50, retry=2, backoff_ms=10)
            def book(self, order: Order, ctx: TccContext) -> dict[str, str]:
                return {}

            @confirm_method
            async def ship(self, booking: dict[str, str]) -> None: ...

            @cancel_method(timeout_ms=0)
            def unbook(self, booking: dict[str, str] | None) -> None: ...

        @tcc_participant("payment", order=1)
        class Payment:
            @try_method()
            async def hold(self, order: Order) -> Hold:
                return Hold("h")

            @confirm_method(retry=5, backoff_ms=20)
            async def capture(self, hold: Hold, ctx: TccContext) -> None: ...

            @cancel_method()
            async def release(self, ctx: TccContext) -> None: ...

        @tcc_participant("audit", order=1, optional=True)
        class Audit:
            @try_method
            def note(self) -> None: ...

            @confirm_method
            def keep(self) -> None: ...

            @cancel_method
            def drop(self) -> None: ...

    spec = tcc_definition_of(Checkout)
    assert spec.name == "checkout" and spec.timeout_ms == 9000
    # Ascending order; ties keep declaration order.
    assert [p.participant_id for p in spec.participants] == ["payment", "audit", "shipping"]
    shipping = spec.participant("shipping")
    try_phase = shipping.try_phase
    assert (try_phase.timeout_ms, try_phase.retry, try_phase.backoff_ms) == (50, 2, 10)
    assert shipping.confirm_phase.timeout_ms == 700  # inherited from the participant
    assert shipping.cancel_phase.timeout_ms == 0  # explicitly no limit
    assert not shipping.try_phase.is_async and shipping.confirm_phase.is_async
    assert shipping.try_phase.params.value_annotation is Order
    assert shipping.try_phase.params.slots == (("order", "value", "", True), ("ctx", "context", "", True))
    payment = spec.participant("payment")
    assert payment.try_phase.timeout_ms == 9000  # inherited from @tcc
    assert (payment.try_phase.retry, payment.confirm_phase.retry, payment.cancel_phase.retry) == (0, 5, 3)
    assert (payment.confirm_phase.backoff_ms, payment.cancel_phase.backoff_ms) == (20, 100)
    assert payment.cancel_phase.params.slots == (("ctx", "context", "", True),)
    assert not payment.optional and spec.participant("audit").optional
    assert payment.cls is Checkout.Payment
    assert payment.phase("confirm") is payment.confirm_phase


def test_bare_tcc_takes_the_class_name_and_no_timeout() -> None:
    @tcc
    class Plain:
        @tcc_participant("only")
        class Only:
            @try_method
            def a(self) -> None: ...

            @confirm_method
            def b(self) -> None: ...

            @cancel_method
            def c(self) -> None: ...

    spec = tcc_definition_of(Plain)
    assert spec.name == "Plain" and spec.timeout_ms == 0
    assert spec.participant("only").confirm_phase.timeout_ms == 0


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(DefinitionError) as info:

        @tcc("broken", timeout_ms=-1)
        class Broken:
            @tcc_participant("a")
            class MissingConfirm:
                @try_method
                def t(self) -> None: ...

                @cancel_method
                def c(self) -> None: ...

            @tcc_participant("a")
            class SameId:
                @try_method
                def t(self) -> None: ...

                @confirm_method
                def f(self) -> None: ...

                @cancel_method
                def c(self) -> None: ...

            @tcc_participant("b", order="first")  # type: ignore[arg-type]
            class TwoTries:
                @try_method
                def t1(self) -> None: ...

                @try_method(retry=-1)
                def t2(self) -> None: ...

                @confirm_method
                def f(self, value: object, extra: int) -> None: ...

                @cancel_method
                def c(self, *args: object) -> None: ...

            @tcc_participant("c")
            class NeedsArgs:
                def __init__(self, gateway: object) -> None: ...

                @try_method
                def t(self, value: object, other: Annotated[int, FromStep("a")]) -> None: ...

                @confirm_method
                @staticmethod
                def f() -> None: ...

                @cancel_method
                def c(self) -> None: ...

                @saga_step("oops")
                def s(self) -> None: ...

            @try_method
            def stray(self) -> None: ...

    error = info.value
    text = "\n".join(error.problems)
    assert error.subject.startswith("tcc 'broken'")
    expected = [
        "timeout_ms must be an int >= 0",
        "participant 'a': has no @confirm_method method",
        "duplicate participant id 'a' on MissingConfirm and SameId",
        "participant 'b': order must be an int",
        "participant 'b': has two @try_method methods (t1 and t2); keep one",
        "participant 'b'.t2: retry must be an int >= 0",
        "parameter 'extra' cannot be filled",
        "uses *args",
        "participant 'c' (test_all_problems_are_reported_together.<locals>.Broken.NeedsArgs): must be",
        "FromStep is for sagas",
        "participant 'c'.f: must be a plain method, not a staticmethod",
        "participant 'c'.s: a saga decorator cannot be used in a TCC participant",
        "stray: @try_method on the @tcc class itself declares a method-style participant, so name it "
        "try_<participant id>",
    ]
    for fragment in expected:
        assert fragment in text, fragment
    assert "Annotate it with TccContext, or give it a default" in text  # no saga-only FromStep hint
    assert "participant 'c': has no @confirm_method" not in text  # its confirm exists, just unusable
    assert len(error.problems) == len(expected)


def test_a_fan_out_item_parameter_in_a_tcc_phase_is_refused_not_filled_with_none() -> None:
    with pytest.raises(DefinitionError) as info:

        @tcc("item-in-tcc")
        class ItemInTcc:
            @tcc_participant("a")
            class A:
                @try_method
                def t(self, value: object) -> None: ...

                @confirm_method
                def f(self, value: object) -> None: ...

                @cancel_method
                def c(self, value: object, item: Annotated[int, FanOutItem()]) -> None: ...

    assert info.value.problems == (
        "participant 'a'.c: FanOutItem is for the compensation of a saga's fan-out step; a TCC phase has no "
        "clone item",
    )


def test_saga_decorators_in_a_tcc_class_and_tcc_decorators_in_a_saga_are_rejected() -> None:
    with pytest.raises(DefinitionError, match="a saga decorator cannot be used in a TCC class"):

        @tcc("mixed")
        class Mixed:
            @saga_step("a")
            def a(self) -> None: ...

            @tcc_participant("p")
            class P:
                @try_method
                def t(self) -> None: ...

                @confirm_method
                def f(self) -> None: ...

                @cancel_method
                def c(self) -> None: ...

    with pytest.raises(DefinitionError) as info:

        @saga("mixed-saga")
        class MixedSaga:
            @saga_step("a")
            def a(self) -> None: ...

            @compensation_step("a")
            def undo(self, result: object) -> None: ...

            @try_method
            def t(self) -> None: ...

            @tcc_participant("p")
            class P:
                @try_method
                def t(self) -> None: ...

    assert [p for p in info.value.problems if "a TCC decorator cannot be used in a saga class" in p] == [
        "t: a TCC decorator cannot be used in a saga class",
        "P: a TCC decorator cannot be used in a saga class",
    ]


def test_participant_needs_an_id_and_a_tcc_needs_participants() -> None:
    with pytest.raises(DefinitionError, match=r"needs an id: @tcc_participant\('payment'\)"):

        @tcc("no-id")
        class NoId:
            @tcc_participant  # type: ignore[arg-type]
            class P:
                @try_method
                def t(self) -> None: ...

                @confirm_method
                def f(self) -> None: ...

                @cancel_method
                def c(self) -> None: ...

    with pytest.raises(DefinitionError, match="has no participants"):

        @tcc("empty")
        class Empty:
            pass


def test_phase_decorators_take_keywords_only() -> None:
    with pytest.raises(TypeError, match=r"@try_method\(timeout_ms=5000\)"):
        try_method(5000)  # type: ignore[call-overload]


def test_definition_lookup_explains_what_is_wrong() -> None:
    @saga("a-saga")
    class ASaga:
        @saga_step("a")
        def a(self, ctx: SagaContext) -> None: ...

    with pytest.raises(DefinitionError, match="is a saga, not a TCC: run it with SagaEngine"):
        tcc_definition_of(ASaga)
    with pytest.raises(DefinitionError, match=r"decorate the class with @tcc\('name'\)"):
        tcc_definition_of(Order)


def test_subclasses_must_opt_in_again() -> None:
    @tcc("base")
    class Base:
        @tcc_participant("p")
        class P:
            @try_method
            def t(self) -> None: ...

            @confirm_method
            def f(self) -> None: ...

            @cancel_method
            def c(self) -> None: ...

    class Child(Base):
        pass

    assert tcc_definition_of(Base).name == "base"
    with pytest.raises(DefinitionError, match="is not a TCC"):
        tcc_definition_of(Child)


def test_context_keeps_values_and_checks_headers() -> None:
    results = {"payment": Hold("h1")}
    ctx = TccContext("cid", "order", {"tenant": "acme"}, results)
    assert (ctx.correlation_id, ctx.tcc_name) == ("cid", "order")
    assert ctx.get_try_result("payment") is results["payment"]
    assert ctx.get_try_result("nope", "default") == "default"
    ctx.set_data("k", [1])
    assert ctx.get_data("k") == [1] and ctx.get_all_data() == {"k": [1]}
    ctx.put_header("x", "1")
    assert ctx.headers == {"tenant": "acme", "x": "1"} and ctx.get_header("y") is None
    with pytest.raises(TypeError, match="must be a str"):
        ctx.put_header("n", 1)  # type: ignore[arg-type]
    # Made outside a run, it has no participants to report, and says so.
    assert ctx.participants == {}
    with pytest.raises(KeyError, match="none in a context made outside a run"):
        ctx.participant("payment")
    assert ctx.to_dict() == {
        "kind": "tcc", "correlation_id": "cid", "name": "order", "headers": {"tenant": "acme", "x": "1"},
        "variables": {"k": [1]}, "participants": {},
    }
    assert "order" in repr(ctx)


def test_new_errors_pickle_and_name_the_tcc() -> None:
    errors: list[Exception] = [
        TccConfirmError("order", "cid", {"payment": "gateway down"}),
        TccCancelError("order", "cid", {"inventory": "locked"}),
        StepFailedError("order", "cid", "inventory", 2, "out of stock", kind="tcc"),
        InputValidationError("order", "payment", "Order", "bad", kind="tcc"),
    ]
    for error in errors:
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error)
    assert "could not confirm payment: gateway down" in str(errors[0])
    assert "could not cancel inventory: locked" in str(errors[1])
    assert str(errors[2]) == (
        "tcc 'order' (cid) failed at the try of participant 'inventory' after 2 attempt(s): out of stock"
    )
    assert "input of tcc 'order' does not fit participant 'payment'" in str(errors[3])
    # The saga wording is unchanged.
    saga_error = StepFailedError("s", "c", "a", 1, "x")
    assert str(saga_error) == "saga 's' (c) failed at step 'a' after 1 attempt(s): x"


def test_declaring_tccs_needs_no_jvm() -> None:
    code = (
        "import sys\n"
        "from fireflytx import tcc, tcc_participant, try_method, confirm_method, cancel_method\n"
        "@tcc('t')\n"
        "class T:\n"
        "    @tcc_participant('p')\n"
        "    class P:\n"
        "        @try_method\n"
        "        def t(self): ...\n"
        "        @confirm_method\n"
        "        def f(self): ...\n"
        "        @cancel_method\n"
        "        def c(self): ...\n"
        "print('jpype' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
