"""Where the saga and TCC decorators leave their metadata, and how it is found again.

Method decorators leave a marker on the function; class decorators leave the assembled spec on the
class. Both kinds of transaction share these names and checks, so they live here rather than in
either kind's modules.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from .errors import DefinitionError

__all__ = [
    "MARKER_ATTRIBUTE",
    "SPEC_ATTRIBUTE",
    "PerSpec",
    "TransactionSpec",
    "attach_spec",
    "check_callable",
    "mark",
    "non_negative",
    "spec_of",
    "typed_spec_of",
]

SPEC_ATTRIBUTE = "__fireflytx_definition__"
MARKER_ATTRIBUTE = "__fireflytx_marker__"

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionSpec:
    """What a saga's and a TCC's spec both are: a named definition assembled from one class.

    Each kind names itself in errors: ``NOUN`` ("a saga"), its ``ENGINE`` and its ``DECORATOR``.
    """

    NOUN: ClassVar[str]
    ENGINE: ClassVar[str]
    DECORATOR: ClassVar[str]

    name: str
    cls: type
    """The decorated class."""


S = TypeVar("S", bound=TransactionSpec)


def spec_of(obj: Any) -> tuple[str, Any]:
    """The name of ``obj``'s class and the spec that class carries itself (None if it has none).

    ``obj`` is a decorated class or an instance of one. A subclass does not inherit its parent's
    spec: it must be decorated again, so the lookup reads the class's own ``__dict__``.
    """
    target = obj if isinstance(obj, type) else type(obj)
    return getattr(target, "__qualname__", repr(target)), target.__dict__.get(SPEC_ATTRIBUTE)


def typed_spec_of(obj: Any, wanted: type[S]) -> S:
    """The spec of kind ``wanted`` that ``obj``'s class carries, or an error naming the fix.

    Raises:
        DefinitionError: the class carries no spec, or one of the other kind.
    """
    subject, spec = spec_of(obj)
    if isinstance(spec, wanted):
        return spec
    noun = wanted.NOUN
    if spec is not None:
        hint = f"is {type(spec).NOUN}, not {noun}: run it with {type(spec).ENGINE}"
    else:
        hint = (
            f"is not {noun}: decorate the class with {wanted.DECORATOR}('name') "
            "(subclasses must be decorated again)"
        )
    raise DefinitionError(subject, [hint])


def attach_spec(name: Any, assemble: Callable[[type, str, dict[str, Any]], Any]) -> Any:
    """What ``@saga`` and ``@tcc`` return: the class with its spec, or a decorator that attaches it.

    ``name`` is the decorated class itself (bare ``@saga``) or the definition's name (``None``: the
    class's). ``assemble(cls, name, localns)`` builds the spec; ``localns`` are the locals of the
    frame defining the class, which resolve annotations naming classes local to it, so this must
    be called straight from the decorator.
    """

    def attach(cls: type, spec_name: str, localns: dict[str, Any]) -> type:
        setattr(cls, SPEC_ATTRIBUTE, assemble(cls, spec_name, localns))
        return cls

    if isinstance(name, type):
        return attach(name, name.__name__, sys._getframe(2).f_locals)

    def decorate(cls: type) -> type:
        return attach(cls, name or cls.__name__, sys._getframe(1).f_locals)

    return decorate


def mark(func: F, marker: Any) -> F:
    """Leave ``marker`` on ``func`` (on the function inside a static or class method)."""
    target = func.__func__ if isinstance(func, staticmethod | classmethod) else func
    setattr(target, MARKER_ATTRIBUTE, marker)
    return func


def check_callable(func: Any, decorator: str) -> list[str]:
    """Why ``func`` cannot carry ``@decorator``, if it cannot."""
    target = func.__func__ if isinstance(func, staticmethod | classmethod) else func
    if not (inspect.isfunction(target) or inspect.iscoroutinefunction(target)):
        return [f"@{decorator} must decorate a function defined in the class, not {type(func).__name__}"]
    if inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target):
        return [f"@{decorator} cannot decorate a generator; return the value instead"]
    return []


def non_negative(value: Any, name: str) -> list[str]:
    """Why ``value`` is no valid count or duration, if it is not."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return [f"{name} must be an int >= 0, got {value!r}"]
    return []


class PerSpec(Generic[T]):
    """What ``make`` works out of a spec, once per spec: for what every run of it needs.

    Specs are immutable, so a value is kept by the spec's identity (the spec itself is kept too,
    so its id cannot be reused while the entry lives). Sagas made on the fly would otherwise grow
    it without end: past ``most`` entries it forgets them all.
    """

    def __init__(self, make: Callable[[Any], T], most: int = 1024) -> None:
        self._make = make
        self._most = most
        self._known: dict[int, tuple[Any, T]] = {}

    def __call__(self, spec: Any) -> T:
        known = self._known.get(id(spec))
        if known is not None and known[0] is spec:
            return known[1]
        value = self._make(spec)
        if len(self._known) >= self._most:
            self._known.clear()
        self._known[id(spec)] = (spec, value)
        return value
