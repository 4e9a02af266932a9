"""Each TCC participant's own input: a ``TccInputs`` mapping, or ``input=`` selectors on the participants.

Two ways, one per run. A ``TccInputs`` passed as the transaction input hands every participant
its own entry (``None`` for a participant it leaves out, as the Java engine's ``TccInputs`` does).
Otherwise a participant with an ``input=`` selector receives what the selector picks out of the
transaction input, and every other participant the whole input. Either way the parts are worked
out before any try runs, so a wrong id or a failing selector stops the run with nothing to cancel.

A durable run stores only the transaction input (a ``TccInputs`` as itself) and works the parts
out again from it on recovery: that is why selectors must be pure functions of the input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputValidationError, UnknownParticipantError

if TYPE_CHECKING:  # the codec imports this module while the definitions are still loading
    from ._definition import TccSpec

__all__ = ["TccInputs", "participant_inputs"]


@dataclass(frozen=True, slots=True, init=False)
class TccInputs:
    """The input of each participant of one TCC run, by participant id.

    Pass it as the transaction input: ``await engine.execute(MyTcc, TccInputs({"payment": card,
    "inventory": items}))`` or, for ids that are Python names, ``TccInputs(payment=card,
    inventory=items)``. Each try receives its participant's entry (converted when its parameter is
    annotated with a model or dataclass); a participant left out receives ``None``. An id the TCC
    does not have raises ``UnknownParticipantError`` before anything runs, and so does using it
    with a TCC whose participants pick their input with ``input=`` (``InputValidationError``): one
    way per run. A durable store keeps it as it is, entries as their own types.

    Args:
        parts: Participant id to that participant's input.
        **by_id: More entries, for ids that are Python names.

    Raises:
        TypeError: an id is not a str.
    """

    parts: dict[str, object]
    """Participant id to that participant's input (annotated with builtins only, so pydantic can read it
    under the public module name ``fireflytx``)."""

    def __init__(self, parts: Mapping[str, Any] | None = None, /, **by_id: Any) -> None:
        merged = {**(parts or {}), **by_id}
        bad = [k for k in merged if not isinstance(k, str)]
        if bad:
            raise TypeError(f"TccInputs maps participant ids (str) to inputs; fix the keys {bad!r}")
        object.__setattr__(self, "parts", merged)

    def get(self, participant_id: str) -> Any:
        """One participant's input (``None`` when this mapping leaves it out)."""
        return self.parts.get(participant_id)

    def __repr__(self) -> str:
        return f"TccInputs({self.parts!r})"


def _selector_label(select: Any) -> str:
    name = getattr(select, "__qualname__", None) or type(select).__name__
    return name.rsplit("<locals>.", 1)[-1]


def participant_inputs(spec: TccSpec, value: Any) -> dict[str, Any]:
    """The participants that get their own input, each with it; the others share ``value``.

    Raises:
        UnknownParticipantError: ``value`` is a ``TccInputs`` naming a participant ``spec`` lacks.
        InputValidationError: a selector raised, or ``value`` is a ``TccInputs`` while some
            participant has a selector.
    """
    if isinstance(value, TccInputs):
        known = [p.participant_id for p in spec.participants]
        for participant_id in value.parts:
            if participant_id not in spec.participant_index:
                raise UnknownParticipantError(spec.name, participant_id, known)
        for p in spec.participants:
            if p.select is not None:
                raise InputValidationError(
                    spec.name,
                    p.participant_id,
                    f"the whole transaction input, for its input= selector {_selector_label(p.select)}",
                    "a TccInputs gives each participant its entry directly; pass the transaction input "
                    "itself, or drop input= from this participant",
                    kind="tcc",
                )
        return {pid: value.parts.get(pid) for pid in known}
    own: dict[str, Any] = {}
    for p in spec.participants:
        if p.select is None:
            continue
        try:
            own[p.participant_id] = p.select(value)
        except Exception as exc:
            label = _selector_label(p.select)
            raise InputValidationError(
                spec.name,
                p.participant_id,
                f"the part its input selector {label} picks",
                f"the selector raised {type(exc).__name__}: {exc}",
                kind="tcc",
            ) from exc
    return own
