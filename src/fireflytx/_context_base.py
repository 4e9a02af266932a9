"""What the saga and TCC run contexts share: correlation id, variables, headers and progress."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._core._logctx import CURRENT
from ._progress import jsonable, key_of

__all__ = ["ContextBase"]


class ContextBase:
    """What every fireflytx run context has: its correlation id, variables, headers and progress.

    Values stay the Python objects you put in; nothing is copied or converted, and nothing here
    crosses into the engine. Each single call is atomic. The progress of the run's steps or
    participants is read from the run's own records when asked for (the run keeps nothing extra
    for it); a context made outside a run has none.
    """

    __slots__ = ("_correlation_id", "_name", "_headers", "_variables", "_records")

    _kind = "transaction"
    _units = "units"
    """The key of the per-step or per-participant progress in ``to_dict()``."""

    def __init__(
        self,
        correlation_id: str,
        name: str,
        headers: Mapping[str, str] | None = None,
        records: Mapping[str, Any] | None = None,
    ) -> None:
        self._correlation_id = correlation_id
        self._name = name
        self._headers: dict[str, str] = dict(headers or {})
        self._variables: dict[str, Any] = {}
        self._records: Mapping[str, Any] = records if records is not None else {}

    @property
    def correlation_id(self) -> str:
        """The run's correlation id (given to ``execute`` or generated)."""
        return self._correlation_id

    @property
    def idempotency_key(self) -> str:
        """The key of the step, compensation or phase running now: pass it to external systems.

        ``<correlation id>:<phase>:<step or participant id>``. It is the same for every attempt and
        for the re-run after a crash, so a service that deduplicates on it applies the effect once,
        however often fireflytx had to call. A step and its compensation have different keys.

        Raises:
            RuntimeError: read outside a step, compensation or phase of this run.
        """
        scope = CURRENT.get()
        if scope is None or scope[0] != self._correlation_id:
            raise RuntimeError(
                "ctx.idempotency_key names the step running now, so read it inside a step, compensation "
                "or TCC phase of this run (in a thread the step starts itself, pass the key along)"
            )
        return key_of(self._correlation_id, scope[3], scope[2])

    def set_data(self, key: str, value: Any) -> None:
        """Store a variable for later steps (and for the result's ``context``)."""
        self._variables[key] = value

    def get_data(self, key: str, default: Any = None) -> Any:
        """Read a variable set by ``set_data``."""
        return self._variables.get(key, default)

    def get_all_data(self) -> dict[str, Any]:
        """A copy of all variables."""
        return dict(self._variables)

    def put_header(self, key: str, value: str) -> None:
        """Set a header; headers are strings, like message headers."""
        if not isinstance(value, str):
            raise TypeError(f"header {key!r} must be a str, not {type(value).__name__}")
        self._headers[key] = value

    def get_header(self, key: str, default: str | None = None) -> str | None:
        """Read a header given to ``execute(headers=...)`` or set during the run."""
        return self._headers.get(key, default)

    @property
    def headers(self) -> dict[str, str]:
        """A copy of all headers."""
        return dict(self._headers)

    def to_dict(self) -> dict[str, Any]:
        """The run so far as JSON-compatible data: ids, headers, variables, and each unit's progress.

        Built when called, from the run's live records. Results and variables go through the same
        conversion as a result's ``to_json_dict()``; a variable fireflytx cannot carry (a client,
        a lock) appears as its ``repr``.
        """
        return {
            "kind": self._kind,
            "correlation_id": self._correlation_id,
            "name": self._name,
            "headers": dict(self._headers),
            "variables": {key: jsonable(value) for key, value in list(self._variables.items())},
            self._units: self._progress(),
        }

    def _progress(self) -> dict[str, Any]:
        raise NotImplementedError

    def _unknown(self, noun: str, unit_id: str) -> KeyError:
        known = ", ".join(repr(k) for k in self._records) or "none in a context made outside a run"
        return KeyError(f"{self._kind} {self._name!r} has no {noun} {unit_id!r} (its {noun}s: {known})")
