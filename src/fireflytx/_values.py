"""Checking and converting the values that flow through a run.

Values never leave Python: the engine orchestrates, but inputs and results stay the objects the
user's code produced. What is checked here is that they are values a transaction can carry
(JSON-like data, pydantic models, dataclasses), so that they stay printable, comparable and
serialisable for persistence.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from pydantic import BaseModel, TypeAdapter

__all__ = ["PLAIN", "carriable_problem", "convert_to", "is_carriable", "needs_conversion", "to_jsonable"]

_SCALARS = (str, int, float, bool, type(None))
PLAIN = frozenset(_SCALARS)
"""Types whose values are carriable as they are: the hot path tests ``type(value) in PLAIN`` itself."""


def needs_conversion(annotation: Any) -> bool:
    """Whether a parameter annotated this way gets its value converted (models and dataclasses)."""
    return isinstance(annotation, type) and (
        issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation)
    )


@functools.lru_cache(maxsize=256)
def _adapter(annotation: type) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def convert_to(annotation: Any, value: Any) -> Any:
    """Convert ``value`` to a pydantic model or dataclass type; other annotations pass it unchanged.

    Raises:
        pydantic.ValidationError: the value does not fit the type.
    """
    if not needs_conversion(annotation) or isinstance(value, annotation):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return _adapter(annotation).validate_python(value)


MAX_DEPTH = 200
"""How deeply lists and dicts may nest in a value a transaction carries (JSON tools recurse)."""


def carriable_problem(value: Any) -> str | None:
    """Why ``value`` cannot be carried (a short description for the error), or None if it can.

    Carriable: JSON-like values (str-keyed dicts, lists, tuples, scalars) nested at most
    ``MAX_DEPTH`` deep without cycles, pydantic models and dataclasses. Iterative and total, so a
    self-referencing or absurdly deep value gets an answer instead of a ``RecursionError``.
    """
    if type(value) in PLAIN:  # most step results: no walk needed
        return None
    try:
        stack: list[tuple[Any, int]] = [(value, 0)]
        open_ids: set[int] = set()
        exits: list[tuple[int, int]] = []  # (depth, id) of containers still being walked
        while stack:
            item, depth = stack.pop()
            while exits and exits[-1][0] >= depth:
                open_ids.discard(exits.pop()[1])
            if isinstance(item, _SCALARS) or isinstance(item, BaseModel):
                continue
            if isinstance(item, dict | list | tuple):
                if depth >= MAX_DEPTH:
                    return f"value nested more than {MAX_DEPTH} levels deep"
                if id(item) in open_ids:
                    return f"{type(item).__name__} that contains itself"
                open_ids.add(id(item))
                exits.append((depth, id(item)))
                if isinstance(item, dict):
                    for key, child in item.items():
                        if not isinstance(key, str):
                            return f"dict with a {type(key).__name__} key"
                        stack.append((child, depth + 1))
                else:
                    stack.extend((child, depth + 1) for child in item)
                continue
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                continue
            return type(item).__name__
        return None
    except Exception as exc:  # a value whose iteration or comparison itself fails
        return f"{type(value).__name__} that could not be inspected ({type(exc).__name__})"


def is_carriable(value: Any) -> bool:
    """True for JSON-like values (str-keyed dicts, lists, tuples, scalars), models and dataclasses."""
    return carriable_problem(value) is None


def to_jsonable(value: Any) -> Any:
    """A JSON-compatible copy of a carriable value, for result views and JSON output."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        from ._saga._results import SagaResult  # here: _results itself imports this module

        if isinstance(value, SagaResult):  # a sub-saga step's result: its child's
            return value.to_json_dict()
        return _adapter(type(value)).dump_python(value, mode="json")
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value
