"""A definition as an engine with given settings runs it: its defaults put where decorators said nothing.

Decorators never see the engine, so a spec lists in ``defaulted`` which settings its decorator left
out; ``effective`` fills those from the settings' ``steps``, ``compensations`` and ``tcc``
sections. Sagas and TCCs go through the same ``_fill``; a spec nothing changes in comes back as
itself, so the bridges' translation caches (keyed by spec identity) keep hitting.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, overload

from pydantic import BaseModel

from ._saga._definition import SagaSpec
from ._spec import SPEC_ATTRIBUTE
from ._tcc._definition import ParticipantSpec, TccSpec
from .config import FireflyTxSettings

__all__ = ["EffectiveSpecs", "effective"]

_MOST_CLASSES = 1024


class _Unit(Protocol):
    @property
    def defaulted(self) -> frozenset[str]: ...


U = TypeVar("U", bound=_Unit)
S = TypeVar("S", SagaSpec, TccSpec)


def _fill(unit: U, defaults: BaseModel) -> U:
    """``unit`` with each setting it left to the engine taken from ``defaults``."""
    names: frozenset[str] = unit.defaulted
    changes = {n: getattr(defaults, n) for n in names if getattr(unit, n) != getattr(defaults, n)}
    return dataclasses.replace(unit, **changes) if changes else unit  # type: ignore[type-var]


def _saga(spec: SagaSpec, settings: FireflyTxSettings) -> SagaSpec:
    steps = []
    for step in spec.steps:
        filled = _fill(step, settings.steps)
        compensation = step.compensation
        if compensation is not None:
            done = _fill(compensation, settings.compensations)
            if done is not compensation:
                filled = dataclasses.replace(filled, compensation=done)
        steps.append(filled)
    if all(a is b for a, b in zip(steps, spec.steps, strict=True)):
        return spec
    return dataclasses.replace(spec, steps=tuple(steps), step_index={s.step_id: s for s in steps})


def _participant(p: ParticipantSpec, settings: FireflyTxSettings) -> ParticipantSpec:
    tcc = settings.tcc
    phases = (
        _fill(p.try_phase, tcc.tries),
        _fill(p.confirm_phase, tcc.confirms),
        _fill(p.cancel_phase, tcc.cancels),
    )
    if all(a is b for a, b in zip(phases, (p.try_phase, p.confirm_phase, p.cancel_phase), strict=True)):
        return p
    return dataclasses.replace(p, try_phase=phases[0], confirm_phase=phases[1], cancel_phase=phases[2])


def _tcc(spec: TccSpec, settings: FireflyTxSettings) -> TccSpec:
    participants = tuple(_participant(p, settings) for p in spec.participants)
    if all(a is b for a, b in zip(participants, spec.participants, strict=True)):
        return spec
    return dataclasses.replace(
        spec, participants=participants, participant_index={p.participant_id: p for p in participants}
    )


@overload
def effective(spec: SagaSpec, settings: FireflyTxSettings) -> SagaSpec: ...
@overload
def effective(spec: TccSpec, settings: FireflyTxSettings) -> TccSpec: ...
def effective(spec: SagaSpec | TccSpec, settings: FireflyTxSettings) -> SagaSpec | TccSpec:
    """``spec`` with the retry, backoff, jitter and timeout an engine with ``settings`` uses."""
    return _saga(spec, settings) if isinstance(spec, SagaSpec) else _tcc(spec, settings)


class EffectiveSpecs:
    """One engine's effective specs, made once per definition (by name, replaced when it changes).

    The same effective spec for every run of a definition keeps the bridge from translating it
    for the engine again on each run.
    """

    def __init__(self, settings: FireflyTxSettings) -> None:
        self._settings = settings
        self._known: dict[str, tuple[Any, Any]] = {}
        self._lock = threading.Lock()
        self._by_class: dict[type, tuple[Any, Any]] = {}

    def of(self, definition: Any, lookup: Callable[[Any], S]) -> S:
        """The effective spec of a decorated class (or an instance of one); ``lookup`` finds its spec.

        Remembered per class, against the spec the class carries, so a run of a known class reads
        two dictionaries instead of looking its spec up and checking its kind again.

        Raises:
            DefinitionError: from ``lookup``: the class carries no spec of this engine's kind.
        """
        target = definition if isinstance(definition, type) else type(definition)
        known = self._by_class.get(target)
        if known is not None and target.__dict__.get(SPEC_ATTRIBUTE) is known[0]:
            made: S = known[1]
            return made
        spec = lookup(definition)
        made = self(spec)
        if len(self._by_class) >= _MOST_CLASSES:  # classes made on the fly must not pile up
            self._by_class.clear()
        self._by_class[target] = (spec, made)
        return made

    @overload
    def __call__(self, spec: SagaSpec) -> SagaSpec: ...
    @overload
    def __call__(self, spec: TccSpec) -> TccSpec: ...
    def __call__(self, spec: SagaSpec | TccSpec) -> SagaSpec | TccSpec:
        known = self._known.get(spec.name)
        if known is not None and known[0] is spec:
            result: SagaSpec | TccSpec = known[1]
            return result
        made = effective(spec, self._settings)
        with self._lock:
            self._known[spec.name] = (spec, made)
        return made
