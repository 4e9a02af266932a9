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

__all__ = ["convert_to", "is_carriable", "needs_conversion", "to_jsonable"]

_SCALARS = (str, int, float, bool, type(None))


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


def is_carriable(value: Any) -> bool:
    """True for JSON-like values (str-keyed dicts, lists, tuples, scalars), models and dataclasses."""
    if isinstance(value, _SCALARS) or isinstance(value, BaseModel):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_carriable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(is_carriable(v) for v in value)
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def to_jsonable(value: Any) -> Any:
    """A JSON-compatible copy of a carriable value, for result views and JSON output."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _adapter(type(value)).dump_python(value, mode="json")
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value
