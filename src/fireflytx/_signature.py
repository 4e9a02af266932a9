"""How a method's parameters are filled: read once from its signature, used on every call.

Shared by both kinds: the caller names its context type and how to fix a parameter nothing fills;
the ``_markers`` are read whatever the kind, and each kind refuses those its methods may not use.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ._markers import FanOutItem, FromStep
from ._values import needs_conversion

__all__ = ["BARE", "VALUE_ONLY", "ParamPlan", "plan_parameters"]

BARE, VALUE_ONLY, _GENERAL = 0, 1, 2
"""``ParamPlan.shape``: nothing to fill; only the value, positionally; anything else."""


@dataclass(frozen=True, slots=True)
class ParamPlan:
    """Where each parameter's value comes from.

    ``slots`` lists, in declaration order, ``(name, source, detail, positional)`` where source is
    ``"value"`` (the saga input, or for a compensation its step's result), ``"context"`` or
    ``"step"`` (detail: the step id) or ``"item"`` (a fan-out clone's item, in its compensation).
    """

    slots: tuple[tuple[str, str, str, bool], ...]
    value_annotation: Any = None
    converted: bool = False
    """``value_annotation`` is a model or dataclass: values are converted to it before each call."""
    shape: int = field(init=False, repr=False, compare=False)
    """``BARE``, ``VALUE_ONLY`` or ``_GENERAL``: read from ``slots`` once, for ``call``."""

    def __post_init__(self) -> None:
        slots = self.slots
        if not slots:
            shape = BARE
        elif len(slots) == 1 and slots[0][1] == "value" and slots[0][3]:
            shape = VALUE_ONLY
        else:
            shape = _GENERAL
        object.__setattr__(self, "shape", shape)

    @property
    def from_steps(self) -> tuple[str, ...]:
        """Step ids whose results this callable reads through ``FromStep``."""
        return tuple(detail for _, source, detail, _ in self.slots if source == "step")

    @property
    def takes_item(self) -> bool:
        """Whether a parameter is marked ``FanOutItem`` (only a fan-out step's compensation may be)."""
        return any(source == "item" for _, source, _, _ in self.slots)

    @property
    def takes_value(self) -> bool:
        """Whether a parameter receives the input (or, for a compensation, the step's result)."""
        return any(source == "value" for _, source, _, _ in self.slots)

    def bound(self, owner: Any, name: str, value: Any) -> Callable[[], Any] | None:
        """``owner``'s method ``name`` ready to call with nothing more, for the two commonest shapes.

        An attempt calls what this returns with no frame of fireflytx's between (``call`` adds one
        and reads the shape each time): nothing to fill, or only ``value``. None for other shapes,
        and when looking the method up raises (a hostile ``__getattribute__``): calling through
        ``call`` then raises it inside the attempt, where it belongs.
        """
        shape = self.shape
        if shape == _GENERAL:
            return None
        try:
            method = getattr(owner, name)
        except Exception:  # noqa: BLE001 - see above
            return None
        return method if shape == BARE else partial(method, value)

    def call(
        self,
        method: Callable[..., Any],
        value: Any,
        context: Any,
        results: Mapping[str, Any],
        item: Any = None,
    ) -> Any:
        """Call ``method`` with its parameters filled (``item``: a fan-out clone's item).

        Every step, compensation and phase call comes here: the two commonest shapes (nothing to
        fill, or only the value) are called without building argument lists.
        """
        shape = self.shape
        if shape == BARE:
            return method()
        if shape == VALUE_ONLY:
            return method(value)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, source, detail, positional in self.slots:
            if source == "value":
                arg = value
            elif source == "context":
                arg = context
            elif source == "item":
                arg = item
            else:
                arg = results.get(detail)
            if positional:
                args.append(arg)
            else:
                kwargs[name] = arg
        return method(*args, **kwargs)


def _resolved_hints(func: Callable[..., Any], localns: Mapping[str, Any] | None) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func, localns=dict(localns or {}), include_extras=True)
    except Exception:  # a forward reference nothing can resolve: keep the raw annotations
        return {}


def _is_context(annotation: Any, context_type: type) -> bool:
    if annotation is context_type:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # ``SagaContext | None``
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return any(_is_context(arg, context_type) for arg in members)
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] == context_type.__name__
    return isinstance(annotation, type) and issubclass(annotation, context_type)


def _source_of(
    annotation: Any, context_type: type, slots: list[tuple[str, str, str, bool]]
) -> tuple[str | None, str, Any]:
    """What fills a parameter so annotated: its source, the source's detail, and the annotation unmarked.

    The source is None for a parameter nothing fills (only the first plain one takes the value).
    """
    if typing.get_origin(annotation) is typing.Annotated:
        extras = typing.get_args(annotation)[1:]
        markers = [m for m in extras if isinstance(m, FromStep)]
        if markers:
            return "step", markers[0].step_id, annotation
        if any(isinstance(m, FanOutItem) for m in extras):
            return "item", "", annotation
        annotation = typing.get_args(annotation)[0]
    if _is_context(annotation, context_type):
        return "context", "", annotation
    if not any(source == "value" for _, source, _, _ in slots):
        return "value", "", annotation
    return None, "", annotation


def plan_parameters(
    func: Callable[..., Any],
    what: str,
    context_type: type,
    fill_hint: str,
    localns: Mapping[str, Any] | None = None,
) -> tuple[ParamPlan | None, list[str]]:
    """Read the parameters of a decorated method; return the plan or the problems found.

    ``what`` names the method in messages, e.g. ``"step 'reserve' (OrderSaga.reserve)"``;
    ``context_type`` is the kind's context class; ``fill_hint`` tells how to fill a parameter that
    nothing fills (``"Annotate it with ..., or give it a default"``); ``localns`` resolves string
    annotations naming classes local to a function or notebook cell.
    """
    problems: list[str] = []
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        return None, [f"{what}: cannot read its signature ({exc})"]
    params = list(signature.parameters.values())
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return None, [f"{what}: must be a plain method whose first parameter is self"]
    hints = _resolved_hints(func, localns)
    slots: list[tuple[str, str, str, bool]] = []
    value_annotation: Any = None
    # A parameter is passed by position while every one before it is too (none left to its default,
    # none keyword-only): a positional call is the cheaper one, and the commonest methods, taking
    # only the input, then need no argument list built (``VALUE_ONLY``).
    in_order = True
    for param in params[1:]:
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            problems.append(f"{what}: uses *{param.name}; declare named parameters instead")
            continue
        in_order = in_order and param.kind is not inspect.Parameter.KEYWORD_ONLY
        hint = hints.get(param.name, param.annotation)
        source, detail, annotation = _source_of(hint, context_type, slots)
        if source is None:
            in_order = False  # left to its default: the ones after it must be named
            if param.default is inspect.Parameter.empty:
                problems.append(
                    f"{what}: parameter {param.name!r} cannot be filled; only the first parameter receives "
                    f"the input. {fill_hint}"
                )
            continue
        if not in_order and param.kind is inspect.Parameter.POSITIONAL_ONLY:
            problems.append(
                f"{what}: positional-only parameter {param.name!r} follows one left to its default, so it "
                "cannot be given a value; make it a keyword parameter or move it before that one"
            )
            continue
        slots.append((param.name, source, detail, in_order))
        if source == "value":
            value_annotation = None if annotation is inspect.Parameter.empty else annotation
    if problems:
        return None, problems
    return ParamPlan(tuple(slots), value_annotation, needs_conversion(value_annotation)), []
