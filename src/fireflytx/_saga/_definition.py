"""Saga definitions: frozen specs assembled from decorated classes, checked before any run.

Method decorators only leave a marker on the function; ``@saga`` assembles the markers into one
``SagaSpec``, checks everything at once and raises a single ``DefinitionError`` listing every
problem. The engine never sees a definition that failed here: it would silently drop a cycle and
throw a NullPointerException on an unknown dependency.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._attempt_defaults import ATTEMPT_FIELDS, AttemptDefaults, StepDefaults, given_or_default
from .._call_spec import CallSpec
from .._limits import MAX_INT, count_problems, definition_name_problems
from .._signature import plan_parameters
from .._spec import MARKER_ATTRIBUTE, TransactionSpec, typed_spec_of
from ..config import CompensationPolicy
from ..errors import DefinitionError
from ._context import SagaContext
from ._fan_out import FanOutSpec, split_clone_id
from ._step_events import StepEvents, events_of

if TYPE_CHECKING:
    from ._sub_saga import ChildSpec

__all__ = [
    "CompensationMarker",
    "CompensationSpec",
    "SagaSpec",
    "StepMarker",
    "StepSpec",
    "assemble_saga",
    "definition_of",
    "execution_layers",
]

_FILL_HINT = "Annotate it with SagaContext or Annotated[T, FromStep('step-id')], or give it a default"
"""How a saga method's parameter that nothing fills can be filled (the shared signature reader's message)."""


@dataclass(frozen=True, slots=True)
class StepMarker:
    """What ``@saga_step`` recorded on a method."""

    step_id: str
    depends_on: tuple[str, ...]
    retry: int | None
    backoff_ms: int | None
    jitter: bool | None
    jitter_factor: float | None
    timeout_ms: int | None
    idempotency_key: str | None
    compensate: str | None
    problems: tuple[str, ...] = ()
    fan_out: FanOutSpec | None = None


@dataclass(frozen=True, slots=True)
class CompensationMarker:
    """What ``@compensation_step`` recorded on a method."""

    step_id: str
    retry: int | None
    backoff_ms: int | None
    timeout_ms: int | None
    critical: bool
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CompensationSpec(CallSpec):
    """How one step is undone."""

    step_id: str
    critical: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSpec(CallSpec):
    """One step of a saga, as declared."""

    step_id: str
    depends_on: tuple[str, ...] = ()
    jitter: bool = False
    jitter_factor: float = 0.5
    idempotency_key: str | None = None
    compensation: CompensationSpec | None = None
    events: StepEvents | None = None
    """``@step_events`` options of this step."""
    child: ChildSpec | None = None
    """The saga this step runs as a child (``@sub_saga``); None for an ordinary step."""
    fan_out: FanOutSpec | None = None
    """Set for a step that runs once per item of a list known at run time (see ``_fan_out``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SagaSpec(TransactionSpec):
    """A whole saga: its steps in declaration order and their layers."""

    NOUN = "a saga"
    ENGINE = "SagaEngine"
    DECORATOR = "@saga"

    steps: tuple[StepSpec, ...]
    layers: tuple[tuple[str, ...], ...]
    layer_concurrency: int = 0
    compensation_policy: CompensationPolicy | None = None
    step_index: dict[str, StepSpec] = field(default_factory=dict, compare=False, repr=False)
    events: StepEvents | None = None
    """``@step_events`` options of the saga class."""

    def step(self, step_id: str) -> StepSpec:
        """The spec of one step."""
        return self.step_index[step_id]


STEP_DEFAULTS = StepDefaults()
COMPENSATION_DEFAULTS = AttemptDefaults()
STEP_FIELDS = (*ATTEMPT_FIELDS, "jitter", "jitter_factor")


def definition_of(cls: Any) -> SagaSpec:
    """The ``SagaSpec`` of a class decorated with ``@saga`` (or of an instance of one).

    Raises:
        DefinitionError: the class was not decorated with ``@saga`` itself (subclasses must opt in).
    """
    return typed_spec_of(cls, SagaSpec)


def execution_layers(
    step_ids: list[str], depends_on: dict[str, tuple[str, ...]]
) -> tuple[tuple[tuple[str, ...], ...], list[str]]:
    """Kahn's layering in declaration order; returns the layers and the steps left in a cycle."""
    remaining = {s: set(depends_on.get(s, ())) & set(step_ids) for s in step_ids}
    layers: list[tuple[str, ...]] = []
    while remaining:
        ready = tuple(s for s in step_ids if s in remaining and not remaining[s])
        if not ready:
            break
        layers.append(ready)
        for s in ready:
            del remaining[s]
        for deps in remaining.values():
            deps.difference_update(ready)
    return tuple(layers), [s for s in step_ids if s in remaining]


def _find_cycle(start: str, depends_on: dict[str, tuple[str, ...]], members: set[str]) -> list[str]:
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(d for d in depends_on[node] if d in members)
    return path[seen[node] :] + [node]


def _ancestors(step_id: str, depends_on: dict[str, tuple[str, ...]]) -> set[str]:
    found: set[str] = set()
    stack = list(depends_on.get(step_id, ()))
    while stack:
        dep = stack.pop()
        if dep not in found:
            found.add(dep)
            stack.extend(depends_on.get(dep, ()))
    return found


def _fan_out_problems(
    step_id: str, marker: StepMarker, ancestors: set[str], step_ids: Mapping[str, tuple[str, Any, StepMarker]]
) -> list[str]:
    """Problems of a step's fan-out: its source step, and a step id a clone's id would collide with."""
    problems: list[str] = []
    split = split_clone_id(step_id)
    if split is not None and split[0] in step_ids and step_ids[split[0]][2].fan_out is not None:
        problems.append(
            f"step id {step_id!r} reads as a clone of fan-out step {split[0]!r}; name it otherwise"
        )
    fan_out = marker.fan_out
    if fan_out is None or fan_out.source is None:
        return problems
    if fan_out.source not in step_ids:
        problems.append(
            f"step {step_id!r} fans out over FromStep({fan_out.source!r}), which is no step of the saga"
        )
    elif fan_out.source not in ancestors:
        problems.append(
            f"step {step_id!r} fans out over FromStep({fan_out.source!r}) but does not depend on it; "
            f"add depends_on=[{fan_out.source!r}]"
        )
    return problems


def _members(cls: type) -> list[tuple[str, Callable[..., Any]]]:
    """Decorated functions of the class itself, in definition order."""
    found = []
    for name, value in cls.__dict__.items():
        func = value.__func__ if isinstance(value, staticmethod | classmethod) else value
        if callable(func) and hasattr(func, MARKER_ATTRIBUTE):
            found.append((name, value))
    return found


def assemble_saga(
    cls: type,
    name: str,
    layer_concurrency: int,
    policy: CompensationPolicy | None,
    localns: Mapping[str, Any] | None = None,
) -> SagaSpec:
    """Build and check the spec of a ``@saga`` class; raise one ``DefinitionError`` for all problems."""
    subject = f"saga {name!r} ({cls.__qualname__})"
    problems = definition_name_problems(name, "saga", "saga", "order-processing")
    localns = {**(localns or {}), **vars(cls), cls.__name__: cls}
    problems += [
        f"{p} (0 means no limit)" for p in count_problems(layer_concurrency, "layer_concurrency", MAX_INT)
    ]

    step_methods: dict[str, tuple[str, Any, StepMarker]] = {}
    compensations: dict[str, list[tuple[str, Any, CompensationMarker]]] = {}
    for attr, value in _members(cls):
        marker = getattr(value.__func__ if hasattr(value, "__func__") else value, MARKER_ATTRIBUTE)
        problems.extend(f"{attr}: {p}" for p in marker.problems)
        if isinstance(value, staticmethod | classmethod):
            problems.append(f"{attr}: must be a plain method, not a {type(value).__name__}")
            continue
        if isinstance(marker, StepMarker):
            if marker.step_id in step_methods:
                other = step_methods[marker.step_id][0]
                problems.append(f"duplicate step id {marker.step_id!r} on {other} and {attr}")
                continue
            step_methods[marker.step_id] = (attr, value, marker)
        elif isinstance(marker, CompensationMarker):
            compensations.setdefault(marker.step_id, []).append((attr, value, marker))
        else:
            problems.append(f"{attr}: a TCC decorator cannot be used in a saga class")

    for step_id, (_, _, marker) in step_methods.items():
        if marker.compensate is None:
            continue
        target = cls.__dict__.get(marker.compensate)
        if target is None or not callable(target):
            problems.append(
                f"step {step_id!r}: compensate={marker.compensate!r} names no method of the class"
            )
        elif hasattr(target, MARKER_ATTRIBUTE) and isinstance(getattr(target, MARKER_ATTRIBUTE), StepMarker):
            problems.append(f"step {step_id!r}: compensate={marker.compensate!r} names another step")
        else:
            compensations.setdefault(step_id, []).append(
                (marker.compensate, target, CompensationMarker(step_id, None, marker.backoff_ms, None, False))
            )

    owners: dict[str, str] = {}
    for step_id, (_, _, marker) in step_methods.items():
        key = marker.idempotency_key
        if not isinstance(key, str):
            continue
        if key in owners:
            problems.append(
                f"steps {owners[key]!r} and {step_id!r} share idempotency_key={key!r}: the engine would "
                "run only the first to start and skip the other; give each step its own key"
            )
        else:
            owners[key] = step_id

    comp_specs: dict[str, CompensationSpec] = {}
    for step_id, entries in compensations.items():
        if step_id not in step_methods:
            names = ", ".join(e[0] for e in entries)
            problems.append(f"compensation {names} is for step {step_id!r}, which the saga does not have")
            continue
        if len(entries) > 1:
            names = " and ".join(e[0] for e in entries)
            problems.append(f"step {step_id!r} has two compensations ({names}); keep one")
            continue
        attr, func, cmarker = entries[0]
        plan, plan_problems = plan_parameters(
            func, f"compensation of {step_id!r} ({cls.__qualname__}.{attr})", SagaContext, _FILL_HINT, localns
        )
        problems.extend(plan_problems)
        if plan is not None:
            comp_specs[step_id] = CompensationSpec(
                step_id=step_id,
                method_name=attr,
                is_async=inspect.iscoroutinefunction(func),
                params=plan,
                critical=cmarker.critical,
                **given_or_default(cmarker, ATTEMPT_FIELDS, COMPENSATION_DEFAULTS),
            )

    depends_on = {sid: m.depends_on for sid, (_, _, m) in step_methods.items()}
    for step_id, deps in depends_on.items():
        for dep in deps:
            if dep == step_id:
                problems.append(f"step {step_id!r} depends on itself")
            elif dep not in step_methods:
                problems.append(f"step {step_id!r} depends on unknown step {dep!r}")
    order = list(step_methods)
    known_deps = {s: tuple(d for d in deps if d in step_methods and d != s) for s, deps in depends_on.items()}
    layers, cyclic = execution_layers(order, known_deps)
    if cyclic:
        cycle = _find_cycle(cyclic[0], known_deps, set(cyclic))
        problems.append(f"dependency cycle: {' -> '.join(cycle)}")

    steps: list[StepSpec] = []
    for step_id, (attr, func, marker) in step_methods.items():
        plan, plan_problems = plan_parameters(
            func, f"step {step_id!r} ({cls.__qualname__}.{attr})", SagaContext, _FILL_HINT, localns
        )
        problems.extend(plan_problems)
        if plan is None:
            continue
        ancestors = _ancestors(step_id, known_deps)
        problems += _fan_out_problems(step_id, marker, ancestors, step_methods)
        for source in plan.from_steps:
            if source not in step_methods:
                problems.append(f"step {step_id!r} reads FromStep({source!r}), which is no step of the saga")
            elif source not in ancestors:
                problems.append(
                    f"step {step_id!r} reads FromStep({source!r}) but does not depend on it; "
                    f"add depends_on=[{source!r}]"
                )
        step = StepSpec(
            step_id=step_id,
            method_name=attr,
            is_async=inspect.iscoroutinefunction(func),
            params=plan,
            depends_on=marker.depends_on,
            **given_or_default(marker, STEP_FIELDS, STEP_DEFAULTS),
            idempotency_key=marker.idempotency_key,
            compensation=comp_specs.get(step_id),
            events=events_of(func),
            fan_out=marker.fan_out,
        )
        from ._sub_saga import with_child

        step, child_problems = with_child(step, marker, step_id in compensations)
        problems.extend(child_problems)
        steps.append(step)
    for cspec in comp_specs.values():
        owner = step_methods.get(cspec.step_id)
        if cspec.params.takes_item and owner is not None and owner[2].fan_out is None:
            problems.append(
                f"compensation of {cspec.step_id!r} takes a FanOutItem parameter, but {cspec.step_id!r} "
                "is no fan-out step (give it fan_out=...)"
            )
        for source in cspec.params.from_steps:
            if source not in step_methods:
                problems.append(
                    f"compensation of {cspec.step_id!r} reads FromStep({source!r}), "
                    "which is no step of the saga"
                )
    if not step_methods and not problems:
        problems.append("has no steps: decorate at least one method with @saga_step('id')")
    if problems:
        raise DefinitionError(subject, problems)
    return SagaSpec(
        name=name,
        cls=cls,
        steps=tuple(steps),
        layers=layers,
        layer_concurrency=layer_concurrency,
        compensation_policy=policy,
        step_index={s.step_id: s for s in steps},
        events=events_of(cls),
    )
