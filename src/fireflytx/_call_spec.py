"""What every unit fireflytx calls has: a saga step, a compensation, a TCC phase.

Each is one method of the user's class, called with parameters planned from its signature and
attempted under the same limits; the kernel reads these fields alone, whatever the kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._signature import ParamPlan

__all__ = ["CallSpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallSpec:
    """A method to call, how to call it, and its attempt limits (``timeout_ms`` 0: none)."""

    method_name: str
    is_async: bool
    params: ParamPlan
    retry: int = 0
    backoff_ms: int = 100
    timeout_ms: int = 0
    defaulted: frozenset[str] = frozenset()
    """Settings its decorator left out: an engine gives them its defaults for this kind of unit
    (``steps``, ``compensations``, or ``tcc`` ``tries``, ``confirms`` and ``cancels``)."""
