"""How a method's parameters are filled: by position while nothing forces names, by name after that."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fireflytx import FromStep, SagaContext
from fireflytx._signature import BARE, VALUE_ONLY, ParamPlan, plan_parameters


def _plan(func: Any) -> ParamPlan:
    plan, problems = plan_parameters(func, "step 'x'", SagaContext, "Give it a default.")
    assert problems == []
    assert plan is not None
    return plan


def _call(plan: ParamPlan, func: Any) -> Any:
    return plan.call(functools.partial(func, "self"), "input", "ctx", {"a": "from a"})


def test_a_method_taking_only_its_input_is_called_with_it_by_position() -> None:
    def step(self: Any, order: Any) -> Any:
        return order

    plan = _plan(step)
    assert plan.shape == VALUE_ONLY
    assert plan.slots == (("order", "value", "", True),)
    assert _call(plan, step) == "input"


def test_a_method_taking_nothing_is_bare() -> None:
    def step(self: Any) -> Any:
        return "nothing"

    assert _plan(step).shape == BARE


def test_parameters_after_one_left_to_its_default_are_passed_by_name() -> None:
    def step(self: Any, order: Any, note: str = "kept", ctx: SagaContext | None = None) -> Any:
        return order, note, ctx

    plan = _plan(step)
    assert plan.slots == (("order", "value", "", True), ("ctx", "context", "", False))
    assert _call(plan, step) == ("input", "kept", "ctx")


def test_keyword_only_parameters_are_passed_by_name() -> None:
    def step(self: Any, *, order: Any, a: Annotated[str, FromStep("a")]) -> Any:
        return order, a

    plan = _plan(step)
    assert plan.slots == (("order", "value", "", False), ("a", "step", "a", False))
    assert plan.shape not in (BARE, VALUE_ONLY)
    assert _call(plan, step) == ("input", "from a")


def test_a_context_first_then_the_input_are_both_positional() -> None:
    def step(self: Any, ctx: SagaContext, order: Any) -> Any:
        return ctx, order

    plan = _plan(step)
    assert plan.slots == (("ctx", "context", "", True), ("order", "value", "", True))
    assert _call(plan, step) == ("ctx", "input")


def test_a_wrapper_taking_only_positional_arguments_still_gets_its_input() -> None:
    def step(self: Any, order: Any) -> Any:
        return order

    @functools.wraps(step)
    def wrapper(*args: Any) -> Any:  # no **kwargs: a call by name would fail here
        return step(*args)

    plan = _plan(wrapper)
    assert plan.shape == VALUE_ONLY
    assert _call(plan, wrapper) == "input"


def test_a_positional_only_parameter_that_cannot_be_reached_is_a_definition_problem() -> None:
    def step(self: Any, order: Any, note: str = "x", ctx: SagaContext | None = None, /) -> Any:
        return order, note, ctx

    plan, problems = plan_parameters(step, "step 'x'", SagaContext, "Give it a default.")
    assert plan is None
    assert len(problems) == 1
    assert "positional-only parameter 'ctx' follows one left to its default" in problems[0]
    assert "make it a keyword parameter" in problems[0]
