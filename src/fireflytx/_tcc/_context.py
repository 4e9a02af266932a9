"""The context the participants of one TCC run share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._context_base import ContextBase
from .._progress import ParticipantView, PhaseView, jsonable

__all__ = ["TccContext"]

_PHASES = ("try", "confirm", "cancel")


class TccContext(ContextBase):
    """Data shared by the participants of one TCC run.

    A try, confirm or cancel method receives it by declaring a parameter annotated ``TccContext``.
    Participants run one at a time, in order, so what an earlier one stored is there for later ones.
    """

    __slots__ = ("_try_results",)

    _kind = "tcc"
    _units = "participants"

    def __init__(
        self,
        correlation_id: str,
        tcc_name: str,
        headers: Mapping[str, str] | None = None,
        try_results: dict[str, Any] | None = None,
        records: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(correlation_id, tcc_name, headers, records)
        self._try_results: dict[str, Any] = try_results if try_results is not None else {}

    @property
    def tcc_name(self) -> str:
        """The name given to ``@tcc``."""
        return self._name

    def get_try_result(self, participant_id: str, default: Any = None) -> Any:
        """The try result of a participant whose try has succeeded in this run.

        Tries run in ``order``, so a try sees the results of the participants before it; confirm and
        cancel methods see every successful try.
        """
        return self._try_results.get(participant_id, default)

    def participant(self, participant_id: str) -> ParticipantView:
        """Where participant ``participant_id`` is now: status, attempts and key of each phase.

        Raises:
            KeyError: the TCC has no such participant.
        """
        record = self._records.get(participant_id)
        if record is None:
            raise self._unknown("participant", participant_id)
        cid, attempts = self._correlation_id, record.attempts
        return ParticipantView(
            participant_id,
            *(PhaseView.of(cid, participant_id, phase, attempts[phase]) for phase in _PHASES),
        )

    @property
    def participants(self) -> dict[str, ParticipantView]:
        """Every participant's view now, in ``order``."""
        return {pid: self.participant(pid) for pid in self._records}

    def _progress(self) -> dict[str, Any]:
        progress = {}
        for pid, view in self.participants.items():
            entry = view.to_dict()
            if pid in self._try_results:
                entry["try_result"] = jsonable(self._try_results[pid])
            progress[pid] = entry
        return progress

    def __repr__(self) -> str:
        return f"TccContext(tcc={self._name!r}, correlation_id={self._correlation_id!r})"
