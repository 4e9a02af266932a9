"""How ``@tcc`` turns a decorated class into a ``TccSpec``, reporting every problem at once.

Participants come in two styles that mix freely in one TCC:

- a class nested in the ``@tcc`` class and decorated with ``@tcc_participant('id')``, holding one
  ``@try_method``, ``@confirm_method`` and ``@cancel_method``; each run makes one instance of it;
- method style, as the original Firefly API allowed: methods of the ``@tcc`` class itself named
  ``try_<id>``, ``confirm_<id>`` and ``cancel_<id>``, each with its phase decorator. The name after
  the prefix pairs the three and is the participant id, unless ``@tcc_participant`` stacked on the
  try method names another (an id with hyphens, say) and sets ``order``, ``optional``,
  ``timeout_ms`` or ``input``. Each run makes one instance of the ``@tcc`` class for all of them.

Methods are recognised only when decorated, never by name alone, so a helper called ``try_parse``
is never mistaken for a participant. Tries run by ``order``; ties, including the default 0, keep
declaration order, where a method-style participant stands at its try method.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._attempt_defaults import ATTEMPT_FIELDS, TccDefaults, given_or_default
from .._limits import definition_name_problems
from .._signature import plan_parameters
from .._spec import MARKER_ATTRIBUTE
from ..errors import DefinitionError
from ._context import TccContext
from ._definition import (
    DECORATORS,
    PHASES,
    TRY,
    ParticipantMarker,
    ParticipantSpec,
    PhaseMarker,
    PhaseSpec,
    TccSpec,
    timeout_problems,
)

__all__ = ["assemble_tcc"]

_BUILTIN = TccDefaults()
_Entry = tuple[str, Any, PhaseMarker]
"""A phase method as found: attribute name, the attribute itself, its marker."""


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
    entries: list[_Entry],
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
        TccContext,
        "Annotate it with TccContext, or give it a default",
        localns,
    )
    if plan is None:
        return None, problems
    if plan.from_steps:
        return None, [
            f"{where}.{attr}: FromStep is for sagas; read an earlier participant's try result with "
            "TccContext.get_try_result('participant-id')"
        ]
    if plan.takes_item:
        return None, [
            f"{where}.{attr}: FanOutItem is for the compensation of a saga's fan-out step; a TCC phase has "
            "no clone item"
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


@dataclass(slots=True)
class _Found:
    """One participant's pieces as the class walk found them, before its phases are checked."""

    where: str
    pcls: type
    marker: ParticipantMarker
    position: int
    phases: dict[str, list[_Entry]] = field(default_factory=lambda: {p: [] for p in PHASES})
    skip: set[str] = field(default_factory=set)
    """Phases already reported (a rejected method): not reported missing as well."""
    problems: list[str] = field(default_factory=list)
    names: dict[str, Any] = field(default_factory=dict)
    """Names the participant's own class adds for resolving its annotations."""


def _build(
    found: _Found, tcc_timeout: int | None, localns: Mapping[str, Any]
) -> tuple[ParticipantSpec | None, list[str]]:
    """Check a participant's phases, whichever style declared them, and make its spec."""
    marker = found.marker
    problems = list(found.problems)
    default_timeout = marker.timeout_ms if isinstance(marker.timeout_ms, int) else tcc_timeout
    specs: dict[str, PhaseSpec] = {}
    for phase in PHASES:
        if phase in found.skip:
            continue
        spec, phase_problems = _assemble_phase(
            phase, found.phases[phase], found.where, found.pcls, default_timeout, {**localns, **found.names}
        )
        problems.extend(phase_problems)
        if spec is not None:
            specs[phase] = spec
    if problems:
        return None, problems
    try_phase, confirm_phase, cancel_phase = (specs[p] for p in PHASES)
    return (
        ParticipantSpec(
            participant_id=marker.participant_id,
            cls=found.pcls,
            order=marker.order,
            optional=marker.optional,
            try_phase=try_phase,
            confirm_phase=confirm_phase,
            cancel_phase=cancel_phase,
            select=marker.select,
        ),
        [],
    )


def _nested(pcls: type, marker: ParticipantMarker, position: int) -> _Found:
    """Gather the phase methods of a ``@tcc_participant`` class nested in the TCC."""
    where = f"participant {marker.participant_id!r}"
    found = _Found(where, pcls, marker, position, problems=[f"{where}: {p}" for p in marker.problems])
    found.names = {**vars(pcls), pcls.__name__: pcls}
    for attr, value in vars(pcls).items():
        mark = _marker_of(value)
        if mark is None:
            continue
        if isinstance(mark, ParticipantMarker) and not isinstance(value, type):
            found.problems.append(
                f"{where}.{attr}: @tcc_participant on a method is for method-style participants on the "
                "@tcc class itself; set this participant's options on its class instead"
            )
            if mark.try_marker is not None:
                found.skip.add(TRY)
        elif isinstance(mark, PhaseMarker):
            found.problems.extend(f"{where}.{attr}: {p}" for p in mark.problems)
            if isinstance(value, staticmethod | classmethod):
                found.problems.append(f"{where}.{attr}: must be a plain method, not a {type(value).__name__}")
                found.skip.add(mark.phase)
            else:
                found.phases[mark.phase].append((attr, value, mark))
        elif isinstance(mark, ParticipantMarker):
            found.problems.append(
                f"{where}: participant {mark.participant_id!r} ({attr}) is nested in another participant; "
                "nest every participant directly in the @tcc class"
            )
        else:
            found.problems.append(f"{where}.{attr}: a saga decorator cannot be used in a TCC participant")
    if not _instantiable(pcls):
        found.problems.append(
            f"{where} ({pcls.__qualname__}): must be creatable without arguments, since each run makes one"
        )
    return found


class _Methods:
    """Method-style participants of one ``@tcc`` class, paired by the name after the phase prefix."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.by_key: dict[str, _Found] = {}
        self.problems: list[str] = []

    def _found(self, key: str, position: int) -> _Found:
        found = self.by_key.get(key)
        if found is None:
            marker = ParticipantMarker(participant_id=key, order=0, timeout_ms=None, optional=False)
            found = self.by_key[key] = _Found(f"participant {key!r}", self.cls, marker, position)
        return found

    def add_phase(self, attr: str, value: Any, mark: PhaseMarker, position: int) -> None:
        """A phase method on the TCC class: file it under its participant, or say how to name it."""
        self.problems.extend(f"{attr}: {p}" for p in mark.problems)
        decorator = DECORATORS[mark.phase]
        prefix = f"{mark.phase}_"
        if not attr.startswith(prefix) or attr == prefix:
            named = next((p for p in PHASES if attr.startswith(f"{p}_") and attr != f"{p}_"), None)
            if named is not None:
                self.problems.append(
                    f"{attr}: is named like a {named} method but decorated @{decorator}; use "
                    f"@{DECORATORS[named]}, or rename it {prefix}{attr[len(named) + 1:]}"
                )
            else:
                self.problems.append(
                    f"{attr}: @{decorator} on the @tcc class itself declares a method-style participant, "
                    f"so name it {prefix}<participant id> (e.g. {prefix}payment), or move it into a class "
                    "nested in the TCC and decorated with @tcc_participant('id')"
                )
            return
        found = self._found(attr[len(prefix):], position)
        if mark.phase == TRY:
            found.position = position
        if isinstance(value, staticmethod | classmethod):
            kind = type(value).__name__
            found.problems.append(f"{found.where}.{attr}: must be a plain method, not a {kind}")
            found.skip.add(mark.phase)
        else:
            found.phases[mark.phase].append((attr, value, mark))

    def add_options(self, attr: str, value: Any, marker: ParticipantMarker, position: int) -> None:
        """``@tcc_participant`` stacked on a try method: that participant's id and options."""
        self.problems.extend(f"{attr}: {p}" for p in marker.problems)
        if marker.try_marker is None:
            self.problems.append(
                f"{attr}: @tcc_participant on a method marks the try method of a method-style participant; "
                "add @try_method to it and name it try_<participant id>, or decorate a nested class instead"
            )
            return
        if not attr.startswith("try_") or attr == "try_":
            self.problems.append(
                f"{attr}: @tcc_participant and @try_method on the @tcc class itself declare a method-style "
                "participant, so name it try_<name> (its confirm and cancel: confirm_<name>, cancel_<name>)"
            )
            return
        self.add_phase(attr, value, marker.try_marker, position)
        found = self.by_key[attr[len("try_"):]]
        found.marker = marker
        found.where = f"participant {marker.participant_id!r}"

    def participants(self) -> list[_Found]:
        """Every method-style participant, each missing phase reported with the method to add."""
        for key, found in self.by_key.items():
            have = [e[0] for p in PHASES for e in found.phases[p]]
            for phase in PHASES:
                if found.phases[phase] or phase in found.skip:
                    continue
                name = f"{phase}_{key}"
                undecorated = name in vars(self.cls)
                fix = (
                    f"decorate {name} with @{DECORATORS[phase]}"
                    if undecorated
                    else f"add `@{DECORATORS[phase]} def {name}(self, ...)` to the @tcc class"
                )
                found.problems.append(
                    f"{found.where}: has {' and '.join(have) or 'options'} but no @{DECORATORS[phase]} "
                    f"{name}; {fix}"
                )
                found.skip.add(phase)
        return list(self.by_key.values())


def assemble_tcc(
    cls: type, name: str, timeout_ms: int | None, localns: Mapping[str, Any] | None = None
) -> TccSpec:
    """Build and check the spec of a ``@tcc`` class; raise one ``DefinitionError`` for all problems."""
    subject = f"tcc {name!r} ({cls.__qualname__})"
    problems = definition_name_problems(name, "TCC", "tcc", "order-payment")
    localns = {**(localns or {}), **vars(cls), cls.__name__: cls}
    timeout_issues = timeout_problems(timeout_ms, "timeout_ms")
    problems.extend(timeout_issues)
    tcc_timeout = None if timeout_issues else timeout_ms

    nested: list[tuple[str, _Found]] = []
    methods = _Methods(cls)
    for position, (attr, value) in enumerate(vars(cls).items()):
        marker = _marker_of(value)
        if marker is None:
            continue
        if isinstance(marker, ParticipantMarker):
            if isinstance(value, type):
                nested.append((attr, _nested(value, marker, position)))
            else:
                methods.add_options(attr, value, marker, position)
        elif isinstance(marker, PhaseMarker):
            methods.add_phase(attr, value, marker, position)
        else:
            problems.append(f"{attr}: a saga decorator cannot be used in a TCC class")
    problems.extend(methods.problems)
    method_style = methods.participants()
    if method_style and not _instantiable(cls):
        problems.append(
            f"{cls.__qualname__}: must be creatable without arguments, since each run makes one instance "
            "to serve its method-style participants"
        )

    everyone = [*nested, *((f.phases[TRY][0][0] if f.phases[TRY] else f.where, f) for f in method_style)]
    seen: dict[str, str] = {}
    ranked: list[tuple[int, int, ParticipantSpec]] = []
    for attr, found in sorted(everyone, key=lambda item: item[1].position):
        pid = found.marker.participant_id
        if pid in seen:
            problems.append(
                f"duplicate participant id {pid!r} on {seen[pid]} and {attr}; give each participant its "
                "own id"
            )
            continue
        seen[pid] = attr
        spec, participant_problems = _build(found, tcc_timeout, localns)
        problems.extend(participant_problems)
        if spec is not None:
            ranked.append((spec.order, found.position, spec))
    if not everyone and not problems:
        problems.append(
            "has no participants: nest classes decorated with @tcc_participant('id') in it, or give it "
            "@try_method try_<id>, @confirm_method confirm_<id> and @cancel_method cancel_<id> methods"
        )
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
