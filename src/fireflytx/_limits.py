"""The largest numbers and the only strings a definition may hand to the Java engine.

Python ints have no bound and Python strings may hold lone surrogates; Java's ``int``, its
nanosecond ``Duration`` arithmetic and UTF-8 have limits. A value past them passed decoration and
then failed mid-run with a raw ``OverflowError`` or ``UnicodeEncodeError``, so each is checked
where it is declared and reported in the one ``DefinitionError`` with the fix.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MAX_INT",
    "MAX_MS",
    "MAX_RETRY",
    "count_problems",
    "depends_on_problems",
    "ms_problems",
    "text_problems",
]

MAX_INT = 2**31 - 1
"""Java ``int``: ``layer_concurrency`` and a TCC participant's ``order`` (which may be negative)."""

MAX_RETRY = MAX_INT - 1
"""Retries fit a Java ``int`` with the first attempt added."""

MAX_MS = 10**12
"""About 31.7 years: ``timeout_ms`` and ``backoff_ms``, doubled by jitter, still fit Java's nanoseconds."""


def count_problems(value: Any, name: str, maximum: int, *, minimum: int = 0) -> list[str]:
    """Problems with an int argument that must lie in ``minimum..maximum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{name} must be an int >= {minimum}, got {value!r}"]
    if value < minimum:
        return [f"{name} must be an int >= {minimum}, got {value!r}"]
    if value > maximum:
        limit = f"at most {maximum:_} (what Java can hold)"
        return [f"{name} must be an int >= {minimum} and {limit}, got {value:_}"]
    return []


def ms_problems(value: Any, name: str, *, allow_none: bool = False) -> list[str]:
    """Problems with a millisecond argument (0 means no limit; ``None`` inherits where allowed)."""
    if value is None and allow_none:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MS:
        inherit = " or None to inherit" if allow_none else ""
        shown = f"{value:_}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)
        return [f"{name} must be an int >= 0 and at most {MAX_MS:_} ms (0: no limit){inherit}, got {shown}"]
    return []


def depends_on_problems(depends_on: Any) -> tuple[list[str], tuple[Any, ...]]:
    """Problems with a step's ``depends_on``, and the ids it names (a lone str counts as one id)."""
    problems: list[str] = []
    if isinstance(depends_on, str):
        problems.append(f"depends_on must be a list of step ids, e.g. depends_on=[{depends_on!r}]")
        depends_on = (depends_on,)
    ids = tuple(depends_on)
    for dependency in ids:
        problems += text_problems(dependency, "each id in depends_on", "reserve-stock")
    return problems, ids


def text_problems(value: Any, what: str, example: str) -> list[str]:
    """Problems with an id or name: a non-empty str that UTF-8 can encode (no lone surrogates)."""
    if not isinstance(value, str) or not value.strip():
        return [f"{what} must be a non-empty str, e.g. {example!r}, got {value!r}"]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return [
            f"{what} {value!r} cannot be encoded as UTF-8 (a lone surrogate at index {exc.start}); "
            f"use text without unpaired surrogates, e.g. {example!r}"
        ]
    return []


def definition_name_problems(name: Any, noun: str, decorator: str, example: str) -> list[str]:
    """Problems with the name given to a class decorator such as ``@saga`` or ``@tcc``."""
    if not isinstance(name, str) or not name.strip():
        return [f"the {noun} needs a non-empty name: @{decorator}({example!r})"]
    return text_problems(name, f"the {noun}'s name", example)


def limit_problems(retry: Any, backoff_ms: Any, timeout_ms: Any) -> list[str]:
    """Problems with the retry, backoff and timeout of a step, compensation or phase.

    ``None`` is always allowed: it leaves the value to the engine's defaults (or, for a TCC phase's
    timeout, to its participant's and its TCC's first).
    """
    problems = [] if retry is None else count_problems(retry, "retry", MAX_RETRY)
    problems += ms_problems(backoff_ms, "backoff_ms", allow_none=True)
    return problems + ms_problems(timeout_ms, "timeout_ms", allow_none=True)
