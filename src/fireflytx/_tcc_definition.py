"""TCC definitions: frozen specs assembled from decorated classes, checked before any run.

``@try_method``, ``@confirm_method`` and ``@cancel_method`` only leave a marker on the function and
``@tcc_participant`` one on its class; ``@tcc`` assembles them into one ``TccSpec``, checks
everything at once and raises a single ``DefinitionError`` listing every problem. Markers share
the saga markers' attribute, so ``@saga`` rejects TCC decorators and ``@tcc`` rejects saga ones.

Timeouts are resolved here, once: a method's ``timeout_ms`` if set, else its participant's, else
the ``@tcc`` class's; ``0`` means no limit. The engine reads no TCC-level timeout, so this is how
``@tcc(timeout_ms=...)`` takes effect. What none of them sets, like a retry or backoff a phase
decorator leaves out, is listed in ``PhaseSpec.defaulted`` and taken from the running engine's
``tcc`` settings (see ``_effective``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._attempt_defaults import TccDefaults
from ._definition import ATTEMPT_FIELDS, SagaSpec, given_or_default
from ._limits import ms_problems, text_problems
from ._signature import ParamPlan, plan_parameters
from ._spec import MARKER_ATTRIBUTE, spec_of
from ._tcc_context import TccContext
from .errors import DefinitionError

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
    "assemble_tcc",
    "tcc_definition_of",
    "timeout_problems",
]

TRY = "try"
CONFIRM = "confirm"
CANCEL = "cancel"
PHASES = (TRY, CONFIRM, CANCEL)
DECORATORS = {TRY: "try_method", CONFIRM: "confirm_method", CANCEL: "cancel_method"}
_BUILTIN = TccDefaults()


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
    """What ``@tcc_participant`` recorded on a class."""

    participant_id: str
    order: int
    timeout_ms: int | None
    optional: bool
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """One phase method of a participant, with its effective limits (``timeout_ms`` 0: none)."""

    phase: str
    method_name: str
    is_async: bool
    params: ParamPlan
    timeout_ms: int = 0
    retry: int = 0
    backoff_ms: int = 100
    defaulted: frozenset[str] = frozenset()
    """Settings neither the method, its participant nor the TCC gave: the engine's ``tcc`` defaults."""


@dataclass(frozen=True, slots=True)
class ParticipantSpec:
    """One participant: its class, place in the order, and three phases."""

    participant_id: str
    cls: type
    order: int
    optional: bool
    try_phase: PhaseSpec
    confirm_phase: PhaseSpec
    cancel_phase: PhaseSpec

    def phase(self, name: str) -> PhaseSpec:
        """The spec of phase ``"try"``, ``"confirm"`` or ``"cancel"``."""
        return {TRY: self.try_phase, CONFIRM: self.confirm_phase, CANCEL: self.cancel_phase}[name]


@dataclass(frozen=True, slots=True)
class TccSpec:
    """A whole TCC: its participants in the order their tries run."""

    name: str
    cls: type
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
    subject, spec = spec_of(cls)
    if isinstance(spec, TccSpec):
        return spec
    if isinstance(spec, SagaSpec):
        hint = "is a saga, not a TCC: run it with SagaEngine"
    else:
        hint = "is not a TCC: decorate the class with @tcc('name') (subclasses must be decorated again)"
    raise DefinitionError(subject, [hint])


def _marker_of(value: Any) -> Any:
    """The fireflytx marker a class attribute carries itself (not one inherited by a subclass)."""
    func = value.__func__ if isinstance(value, staticmethod | classmethod) else value
    if isinstance(func, type):
        return func.__dict__.get(MARKER_ATTRIBUTE)
    if callable(func):
        return getattr(func, MARKER_ATTRIBUTE, None)
    return None


def _instantiable(cls: type) -> bool:
    try:
        inspect.signature(cls).bind()
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtin bases): let the first run tell
        return True
    return True


def _assemble_phase(
    phase: str,
    entries: list[tuple[str, Callable[..., Any], PhaseMarker]],
    where: str,
    pcls: type,
    default_timeout: int | None,
    localns: Mapping[str, Any],
) -> tuple[PhaseSpec | None, list[str]]:
    decorator = DECORATORS[phase]
    if not entries:
        return None, [f"{where}: has no @{decorator} method"]
    if len(entries) > 1:
        names = " and ".join(e[0] for e in entries)
        return None, [f"{where}: has two @{decorator} methods ({names}); keep one"]
    attr, func, marker = entries[0]
    plan, problems = plan_parameters(
        func,
        f"{phase} method of {where} ({pcls.__qualname__}.{attr})",
        context_type=TccContext,
        localns=localns,
    )
    if plan is None:
        # The shared signature reader also suggests FromStep, which only sagas have.
        return None, [p.replace(" or Annotated[T, FromStep('step-id')],", ",") for p in problems]
    if plan.from_steps:
        return None, [
            f"{where}.{attr}: FromStep is for sagas; read an earlier participant's try result with "
            "TccContext.get_try_result('participant-id')"
        ]
    return (
        PhaseSpec(
            phase=phase,
            method_name=attr,
            is_async=inspect.iscoroutinefunction(func),
            params=plan,
            **given_or_default(
                PhaseMarker(phase, marker.timeout_ms if marker.timeout_ms is not None else default_timeout,
                            marker.retry, marker.backoff_ms),
                ATTEMPT_FIELDS,
                _BUILTIN.phase(phase),
            ),
        ),
        [],
    )


def _assemble_participant(
    pcls: type, marker: ParticipantMarker, tcc_timeout: int | None, localns: Mapping[str, Any]
) -> tuple[ParticipantSpec | None, list[str]]:
    where = f"participant {marker.participant_id!r}"
    problems = [f"{where}: {p}" for p in marker.problems]
    default_timeout = marker.timeout_ms if isinstance(marker.timeout_ms, int) else tcc_timeout
    local = {**localns, **vars(pcls), pcls.__name__: pcls}
    phases: dict[str, list[tuple[str, Any, PhaseMarker]]] = {p: [] for p in PHASES}
    declared: set[str] = set()
    for attr, value in vars(pcls).items():
        found = _marker_of(value)
        if found is None:
            continue
        if isinstance(found, PhaseMarker):
            problems.extend(f"{where}.{attr}: {p}" for p in found.problems)
            declared.add(found.phase)
            if isinstance(value, staticmethod | classmethod):
                problems.append(f"{where}.{attr}: must be a plain method, not a {type(value).__name__}")
            elif found.phase in phases:
                phases[found.phase].append((attr, value, found))
        elif isinstance(found, ParticipantMarker):
            problems.append(
                f"{where}: participant {found.participant_id!r} ({attr}) is nested in another participant; "
                "nest every participant directly in the @tcc class"
            )
        else:
            problems.append(f"{where}.{attr}: a saga decorator cannot be used in a TCC participant")
    specs: dict[str, PhaseSpec] = {}
    for phase in PHASES:
        if phase in declared and not phases[phase]:
            continue  # its only method was rejected above
        spec, phase_problems = _assemble_phase(phase, phases[phase], where, pcls, default_timeout, local)
        problems.extend(phase_problems)
        if spec is not None:
            specs[phase] = spec
    if not _instantiable(pcls):
        problems.append(
            f"{where} ({pcls.__qualname__}): must be creatable without arguments, since each run makes one"
        )
    if problems:
        return None, problems
    return (
        ParticipantSpec(
            participant_id=marker.participant_id,
            cls=pcls,
            order=marker.order,
            optional=marker.optional,
            try_phase=specs[TRY],
            confirm_phase=specs[CONFIRM],
            cancel_phase=specs[CANCEL],
        ),
        [],
    )


def timeout_problems(value: Any, name: str, allow_none: bool = True) -> list[str]:
    """Problems with a ``timeout_ms`` argument (``None`` inherits, ``0`` means no limit)."""
    return ms_problems(value, name, allow_none=allow_none)


def assemble_tcc(
    cls: type, name: str, timeout_ms: int | None, localns: Mapping[str, Any] | None = None
) -> TccSpec:
    """Build and check the spec of a ``@tcc`` class; raise one ``DefinitionError`` for all problems."""
    subject = f"tcc {name!r} ({cls.__qualname__})"
    problems: list[str] = []
    localns = {**(localns or {}), **vars(cls), cls.__name__: cls}
    if not isinstance(name, str) or not name.strip():
        problems.append("the TCC needs a non-empty name: @tcc('order-payment')")
    else:
        problems += text_problems(name, "the TCC's name", "order-payment")
    timeout_issues = timeout_problems(timeout_ms, "timeout_ms")
    problems.extend(timeout_issues)
    tcc_timeout = None if timeout_issues else timeout_ms

    found: dict[str, tuple[str, type, ParticipantMarker]] = {}
    for attr, value in vars(cls).items():
        marker = _marker_of(value)
        if marker is None:
            continue
        if isinstance(marker, ParticipantMarker):
            if not isinstance(value, type):
                problems.append(f"{attr}: @tcc_participant decorates a class nested in the TCC, not a method")
            elif marker.participant_id in found:
                other = found[marker.participant_id][0]
                problems.append(f"duplicate participant id {marker.participant_id!r} on {other} and {attr}")
            else:
                found[marker.participant_id] = (attr, value, marker)
        elif isinstance(marker, PhaseMarker):
            problems.append(
                f"{attr}: @{DECORATORS[marker.phase]} belongs on a method of a @tcc_participant class nested "
                "in the TCC, not on the TCC class itself"
            )
        else:
            problems.append(f"{attr}: a saga decorator cannot be used in a TCC class")

    ranked: list[tuple[int, int, ParticipantSpec]] = []
    for index, (_, pcls, marker) in enumerate(found.values()):
        spec, participant_problems = _assemble_participant(pcls, marker, tcc_timeout, localns)
        problems.extend(participant_problems)
        if spec is not None:
            ranked.append((spec.order, index, spec))
    if not found and not problems:
        problems.append("has no participants: nest classes decorated with @tcc_participant('id') in it")
    if problems:
        raise DefinitionError(subject, problems)
    participants = tuple(spec for _, _, spec in sorted(ranked, key=lambda r: (r[0], r[1])))
    return TccSpec(
        name=name,
        cls=cls,
        participants=participants,
        timeout_ms=tcc_timeout or 0,
        participant_index={p.participant_id: p for p in participants},
    )
