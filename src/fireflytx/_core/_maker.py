"""Building frozen slotted dataclass instances on hot paths, at under half the cost of ``__init__``.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` by name; a run
with listeners builds one event per attempt start and end, and those calls were most of what an
event cost. A *maker* sets the slots through their descriptors instead, taking the fields
positionally. It runs no ``__post_init__`` and no defaults, so it is only for classes without
a ``__post_init__``, and its callers give every field, in the order they name when it is made
(checked then against the class's fields, so a field added or renamed later fails at import).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["positional_maker"]

T = TypeVar("T")


def positional_maker(cls: type[T], fields: str) -> Callable[..., T]:
    """A function taking every one of ``cls``'s fields positionally, in the order ``fields`` names them.

    Raises:
        TypeError: ``fields`` does not name each of ``cls``'s fields once, or ``cls`` is no slotted
            dataclass without ``__post_init__``.
    """
    declared = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    names = fields.split()
    if sorted(names) != sorted(declared):
        raise TypeError(f"{cls.__name__}'s fields are {declared}, not {names}")
    if "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} must be a slotted dataclass without __post_init__")
    setters: dict[str, Any] = {f"_set_{n}": getattr(cls, n).__set__ for n in names}
    body = "".join(f"    _set_{n}(obj, {n})\n" for n in names)
    source = f"def make({', '.join(names)}):\n    obj = _new(_cls)\n{body}    return obj\n"
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, **setters}
    exec(source, namespace)  # the field names are identifiers checked by dataclasses
    make: Callable[..., T] = namespace["make"]
    make.__qualname__ = f"make_{cls.__name__}"
    return make
