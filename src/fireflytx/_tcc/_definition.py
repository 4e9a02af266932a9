"""TCC definitions: the markers decorators leave and the frozen specs ``@tcc`` assembles from them.

``@try_method``, ``@confirm_method`` and ``@cancel_method`` only leave a marker on the function and
``@tcc_participant`` one on its class; ``@tcc`` assembles them into one ``TccSpec`` (in
``_assembly``), checks everything at once and raises a single ``DefinitionError`` listing every
problem. Markers share
the saga markers' attribute, so ``@saga`` rejects TCC decorators and ``@tcc`` rejects saga ones.

A participant is either a class nested in the ``@tcc`` class (``@tcc_participant`` on the class)
or, method style, three methods of the ``@tcc`` class itself named ``try_<id>``, ``confirm_<id>``
and ``cancel_<id>`` and decorated with the phase decorators; ``@tcc_participant`` stacked on such a
try method sets that participant's options. Both styles mix in one TCC and share the phase checks.

Timeouts are resolved here, once: a method's ``timeout_ms`` if set, else its participant's, else
the ``@tcc`` class's; ``0`` means no limit. The engine reads no TCC-level timeout, so this is how
``@tcc(timeout_ms=...)`` takes effect. What none of them sets, like a retry or backoff a phase
decorator leaves out, is listed in ``PhaseSpec.defaulted`` and taken from the running engine's
``tcc`` settings (see ``_effective``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._call_spec import CallSpec
from .._limits import ms_problems
from .._spec import TransactionSpec, typed_spec_of

__all__ = [
    "CANCEL",
    "CONFIRM",
    "PHASES",
    "TRY",
    "ParticipantMarker",
    "ParticipantSpec",
    "PhaseMarker",
    "PhaseSpec",
    "TccSpec",
    "tcc_definition_of",
    "timeout_problems",
]

TRY = "try"
CONFIRM = "confirm"
CANCEL = "cancel"
PHASES = (TRY, CONFIRM, CANCEL)
DECORATORS = {TRY: "try_method", CONFIRM: "confirm_method", CANCEL: "cancel_method"}


@dataclass(frozen=True, slots=True)
class PhaseMarker:
    """What ``@try_method``, ``@confirm_method`` or ``@cancel_method`` recorded on a method."""

    phase: str
    timeout_ms: int | None
    retry: int | None
    backoff_ms: int | None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParticipantMarker:
    """What ``@tcc_participant`` recorded on a class, or on the try method of a method-style participant.

    On a method, ``try_marker`` keeps what ``@try_method`` recorded there, whichever of the two
    decorators ran first.
    """

    participant_id: str
    order: int
    timeout_ms: int | None
    optional: bool
    problems: tuple[str, ...] = ()
    select: Callable[[Any], Any] | None = None
    try_marker: PhaseMarker | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseSpec(CallSpec):
    """One phase method of a participant, with its effective limits."""

    phase: str


@dataclass(frozen=True, slots=True)
class ParticipantSpec:
    """One participant: its class, place in the order, and three phases."""

    participant_id: str
    cls: type
    """The nested participant class, or the ``@tcc`` class itself for a method-style participant."""
    order: int
    optional: bool
    try_phase: PhaseSpec
    confirm_phase: PhaseSpec
    cancel_phase: PhaseSpec
    select: Callable[[Any], Any] | None = None
    """Picks this participant's input out of the transaction input (``input=`` of ``@tcc_participant``)."""

    def phase(self, name: str) -> PhaseSpec:
        """The spec of phase ``"try"``, ``"confirm"`` or ``"cancel"``."""
        return {TRY: self.try_phase, CONFIRM: self.confirm_phase, CANCEL: self.cancel_phase}[name]


@dataclass(frozen=True, slots=True, kw_only=True)
class TccSpec(TransactionSpec):
    """A whole TCC: its participants in the order their tries run."""

    NOUN = "a TCC"
    ENGINE = "TccEngine"
    DECORATOR = "@tcc"

    participants: tuple[ParticipantSpec, ...]
    timeout_ms: int = 0
    participant_index: dict[str, ParticipantSpec] = field(default_factory=dict, compare=False, repr=False)

    def participant(self, participant_id: str) -> ParticipantSpec:
        """The spec of one participant."""
        return self.participant_index[participant_id]


def tcc_definition_of(cls: Any) -> TccSpec:
    """The ``TccSpec`` of a class decorated with ``@tcc``.

    Raises:
        DefinitionError: the class was not decorated with ``@tcc`` itself (subclasses must opt in).
    """
    return typed_spec_of(cls, TccSpec)


def timeout_problems(value: Any, name: str, allow_none: bool = True) -> list[str]:
    """Problems with a ``timeout_ms`` argument (``None`` inherits, ``0`` means no limit)."""
    return ms_problems(value, name, allow_none=allow_none)
