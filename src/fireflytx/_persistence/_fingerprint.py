"""A definition's shape as stored with each transaction, and what changed since.

Recovery replays stored checkpoints into the definition registered now. That is only sound if the
units it replays still exist and still depend on the same things, so each record keeps the shape
of the definition it started with, as canonical JSON text (not a hash): when the shape differs,
recovery can say exactly what changed. Retries, timeouts and method bodies are not part of the
shape; changing them between a crash and its recovery is allowed.
"""

from __future__ import annotations

import json
from typing import Any

from .._saga._definition import SagaSpec, StepSpec
from .._spec import PerSpec
from .._tcc._definition import TccSpec

__all__ = ["describe_change", "fingerprint_of", "unit_rows", "units_of"]


def fingerprint_of(spec: SagaSpec | TccSpec) -> str:
    """The shape of ``spec``: its units in definition order, with what each depends on or is ordered by.

    Saga: ``{"saga": name, "steps": [[step id, [depends on...], has compensation], ...]}``.
    TCC: ``{"tcc": name, "participants": [[participant id, order, optional], ...]}``.
    Worked out once per spec: every durable run asks for it.
    """
    return _FINGERPRINTS(spec)


def _shape_of(spec: SagaSpec | TccSpec) -> str:
    shape: dict[str, Any]
    if isinstance(spec, SagaSpec):
        shape = {
            "saga": spec.name,
            "steps": [_step_shape(s) for s in spec.steps],
        }
    else:
        shape = {
            "tcc": spec.name,
            "participants": [[p.participant_id, p.order, p.optional] for p in spec.participants],
        }
    return json.dumps(shape, separators=(",", ":"))


_FINGERPRINTS: PerSpec[str] = PerSpec(_shape_of)


def _step_shape(step: StepSpec) -> list[Any]:
    """``[id, [depends on...], has compensation]``, and ``"fan-out"`` last for a fan-out step.

    A fan-out step's clones are checkpointed by index, so a step that became (or stopped being)
    one changes the shape; other steps keep the shape they always had.
    """
    shape: list[Any] = [step.step_id, list(step.depends_on), step.compensation is not None]
    if step.fan_out is not None:
        shape.append("fan-out")
    return shape


def unit_rows(fingerprint: str) -> list[list[Any]]:
    """The units a stored shape lists, as ``fingerprint_of`` wrote it ([] if unreadable)."""
    try:
        shape = json.loads(fingerprint)
        rows = shape.get("steps", shape.get("participants", []))
        return [[str(unit[0]), *unit[1:]] for unit in rows]
    except (ValueError, TypeError, AttributeError, IndexError, KeyError):
        return []


def units_of(fingerprint: str) -> list[str]:
    """The step or participant ids a stored shape lists, in definition order ([] if unreadable)."""
    return [row[0] for row in unit_rows(fingerprint)]


def describe_change(stored: str, current: str) -> str | None:
    """What differs between a stored shape and the current one, in words; None when they are equal."""
    if stored == current:
        return None
    try:
        old, new = json.loads(stored), json.loads(current)
    except ValueError:
        return "the stored definition's shape cannot be read"
    key = "steps" if "steps" in new else "participants"
    noun = "step" if key == "steps" else "participant"
    before = {str(u[0]): u[1:] for u in old.get(key, [])}
    after = {str(u[0]): u[1:] for u in new.get(key, [])}
    changes = [f"{noun} {u!r} was removed" for u in before if u not in after]
    changes += [f"{noun} {u!r} was added" for u in after if u not in before]
    for unit in before.keys() & after.keys():
        was, now = before[unit], after[unit]
        if was == now:
            continue
        if key == "steps":
            if was[0] != now[0]:
                changes.append(f"step {unit!r} depended on {was[0]}, now on {now[0]}")
            if was[1] != now[1]:
                changes.append(f"step {unit!r} {'lost' if was[1] else 'gained'} its compensation")
            if was[2:] != now[2:]:
                changes.append(f"step {unit!r} {'stopped being' if was[2:] else 'became'} a fan-out step")
        else:
            if was[0] != now[0]:
                changes.append(f"participant {unit!r} had order {was[0]}, now {now[0]}")
            if was[1] != now[1]:
                changes.append(f"participant {unit!r} {'is no longer' if was[1] else 'became'} optional")
    if not changes:
        changes.append("the order of its units changed")
    return "; ".join(sorted(changes))
