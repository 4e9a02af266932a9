"""The context the participants of one TCC run share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["TccContext"]


class TccContext:
    """Data shared by the participants of one TCC run.

    A try, confirm or cancel method receives it by declaring a parameter annotated ``TccContext``.
    Participants run one at a time, in order, so what an earlier one stored is there for later ones.
    Values stay the Python objects you put in; nothing is copied or converted, and nothing here
    crosses into the engine.
    """

    __slots__ = ("_correlation_id", "_tcc_name", "_headers", "_variables", "_try_results")

    def __init__(
        self,
        correlation_id: str,
        tcc_name: str,
        headers: Mapping[str, str] | None = None,
        try_results: dict[str, Any] | None = None,
    ) -> None:
        self._correlation_id = correlation_id
        self._tcc_name = tcc_name
        self._headers: dict[str, str] = dict(headers or {})
        self._variables: dict[str, Any] = {}
        self._try_results: dict[str, Any] = try_results if try_results is not None else {}

    @property
    def correlation_id(self) -> str:
        """The run's correlation id (given to ``execute`` or generated)."""
        return self._correlation_id

    @property
    def tcc_name(self) -> str:
        """The name given to ``@tcc``."""
        return self._tcc_name

    def set_data(self, key: str, value: Any) -> None:
        """Store a variable for later phases (and for the result's ``context``)."""
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
        """Read a header given to ``execute(headers=...)`` or set by a participant."""
        return self._headers.get(key, default)

    @property
    def headers(self) -> dict[str, str]:
        """A copy of all headers."""
        return dict(self._headers)

    def get_try_result(self, participant_id: str, default: Any = None) -> Any:
        """The try result of a participant whose try has succeeded in this run.

        Tries run in ``order``, so a try sees the results of the participants before it; confirm and
        cancel methods see every successful try.
        """
        return self._try_results.get(participant_id, default)

    def __repr__(self) -> str:
        return f"TccContext(tcc={self._tcc_name!r}, correlation_id={self._correlation_id!r})"
