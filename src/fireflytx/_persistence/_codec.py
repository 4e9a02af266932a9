"""Values to JSON and back, so that models and dataclasses come back as their own types.

Plain JSON values are stored as they are. A pydantic model or dataclass becomes
``{"$ftx": "model", "type": "module:qualname", "value": <its JSON dump>}``; a tuple becomes
``{"$ftx": "tuple", "value": [...]}``; a ``SagaResult`` (a ``@sub_saga`` step's result)
``{"$ftx": "saga-result", "value": {...}}`` (see ``_result_codec``); a ``TccInputs`` becomes
``{"$ftx": "tcc-inputs", "value": {participant id: stored entry}}``, its entries keeping their
types; a dict that itself has a ``"$ftx"`` key is wrapped as ``{"$ftx": "dict", "value": {...}}``
so that no user data is ever mistaken for a tag. The type is named by module and qualified name,
and found again through a ``TypeRegistry``: registered classes first (the only way for a class
defined inside a function), then by import.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from typing import Any

from pydantic import BaseModel

from .._saga._results import SagaResult
from .._tcc._inputs import TccInputs
from .._values import MAX_DEPTH, carriable_problem, to_jsonable
from ._errors import UnrestorableValueError, UnstorableValueError
from ._result_codec import TAG_VALUE, decode_saga_result, encode_saga_result

__all__ = ["STORED_AS_IS", "TAG", "TypeRegistry", "decode", "dumps", "encode", "type_ref"]

TAG = "$ftx"


def type_ref(cls: type) -> str:
    """The stable name a stored value's class is found under again."""
    return f"{cls.__module__}:{cls.__qualname__}"


class TypeRegistry:
    """Classes that stored values may be restored to, beyond those importable by name."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}

    def register(self, cls: type, name: str | None = None) -> None:
        """Restore values stored under ``name`` (default: the class's own ``module:qualname``) as ``cls``."""
        self._classes[name or type_ref(cls)] = cls

    def resolve(self, ref: str) -> type:
        """The class a stored type name refers to.

        Raises:
            UnrestorableValueError: not registered and not importable under that name.
        """
        cls = self._classes.get(ref)
        if cls is not None:
            return cls
        module_name, _, qualname = ref.partition(":")
        if "<locals>" in qualname:
            raise UnrestorableValueError(ref, "the class was defined inside a function")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise UnrestorableValueError(ref, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(obj, type):
            raise UnrestorableValueError(ref, f"the name refers to a {type(obj).__name__}, not a class")
        return obj


STORED_AS_IS = frozenset({str, int, bool, type(None)})


def encode(value: Any, where: str = "value") -> Any:
    """The JSON-compatible stored form of a value.

    Raises:
        UnstorableValueError: the value (or something inside it) is not JSON-like, a model or a
            dataclass, is a non-finite float, nests too deeply or contains itself.
    """
    if type(value) in STORED_AS_IS:  # most results: nothing to check or convert
        return value
    problem = carriable_problem(value)
    if problem is not None:
        raise UnstorableValueError(where, problem)
    return _encode(value, where)


def _encode(value: Any, where: str) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnstorableValueError(where, f"non-finite float ({value})")
        return value
    if isinstance(value, SagaResult):
        return {TAG: TAG_VALUE, "value": encode_saga_result(value, lambda v: _encode(v, where))}
    if isinstance(value, TccInputs):
        return {TAG: "tcc-inputs", "value": {k: _encode(v, where) for k, v in value.parts.items()}}
    if isinstance(value, BaseModel) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        try:
            dumped = to_jsonable(value)
        except Exception as exc:
            raise UnstorableValueError(
                where, f"{type(value).__name__} whose JSON dump failed: {exc}"
            ) from exc
        return {TAG: "model", "type": type_ref(type(value)), "value": dumped}
    if isinstance(value, tuple):
        return {TAG: "tuple", "value": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict):
        encoded = {k: _encode(v, where) for k, v in value.items()}
        return {TAG: "dict", "value": encoded} if TAG in value else encoded
    raise UnstorableValueError(where, type(value).__name__)


def dumps(value: Any, where: str = "value") -> str:
    """``encode`` then JSON text, for stores and benchmarks that want the bytes."""
    return json.dumps(encode(value, where), separators=(",", ":"), allow_nan=False)


def decode(stored: Any, registry: TypeRegistry | None = None, *, depth: int = 0) -> Any:
    """The value a stored form was encoded from, with models and dataclasses as their own types.

    Raises:
        UnrestorableValueError: a model's class cannot be found, or the stored data no longer fits it.
    """
    if depth > MAX_DEPTH + 1:
        raise UnrestorableValueError("(nested value)", f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(stored, list):
        return [decode(v, registry, depth=depth + 1) for v in stored]
    if not isinstance(stored, dict):
        return stored
    tag = stored.get(TAG)
    if tag is None:
        return {k: decode(v, registry, depth=depth + 1) for k, v in stored.items()}
    if tag == "tuple":
        return tuple(decode(v, registry, depth=depth + 1) for v in stored["value"])
    if tag == "dict":
        return {k: decode(v, registry, depth=depth + 1) for k, v in stored["value"].items()}
    if tag == "tcc-inputs":
        return TccInputs({k: decode(v, registry, depth=depth + 1) for k, v in stored["value"].items()})
    if tag == TAG_VALUE:
        return decode_saga_result(stored["value"], lambda v: decode(v, registry, depth=depth + 2))
    if tag == "model":
        ref = stored["type"]
        cls = (registry or _DEFAULT).resolve(ref)
        return _restore(cls, ref, stored["value"])
    raise UnrestorableValueError(str(tag), "unknown tag in stored value")


def _restore(cls: type, ref: str, data: Any) -> Any:
    from pydantic import TypeAdapter, ValidationError

    try:
        if issubclass(cls, BaseModel):
            return cls.model_validate(data)
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as exc:
        raise UnrestorableValueError(ref, f"the stored data no longer fits the class: {exc}") from exc


_DEFAULT = TypeRegistry()
