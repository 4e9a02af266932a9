"""``@step_events``: which transaction events a saga or one of its steps sends, and where.

Like every fireflytx decorator it records metadata and nothing else; ``@saga`` carries it into the
saga's spec (``SagaSpec.events`` and ``StepSpec.events``), where the event observer reads it.
Whatever is left unset falls back to the saga's ``@step_events``, then to the settings
(``FireflyTxSettings.events``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .._spec import SPEC_ATTRIBUTE

__all__ = ["EVENTS_ATTRIBUTE", "StepEvents", "events_of", "step_events"]

EVENTS_ATTRIBUTE = "__fireflytx_events__"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StepEvents:
    """Event options of a saga or step; None means "as the saga, else as the settings say"."""

    topic: str | None = None
    on_start: bool | None = None
    on_success: bool | None = None
    on_failure: bool | None = None
    include_payload: bool | None = None

    def over(self, fallback: StepEvents | None) -> StepEvents:
        """These options, with what they leave unset taken from ``fallback``."""
        if fallback is None:
            return self
        return StepEvents(
            *(
                mine if mine is not None else theirs
                for mine, theirs in zip(dataclasses.astuple(self), dataclasses.astuple(fallback), strict=True)
            )
        )


def events_of(obj: Any) -> StepEvents | None:
    """The ``@step_events`` options recorded on a function or class, if any."""
    if isinstance(obj, type):  # a subclass does not inherit its parent's options
        found = obj.__dict__.get(EVENTS_ATTRIBUTE)
    else:
        target = obj.__func__ if isinstance(obj, staticmethod | classmethod) else obj
        found = getattr(target, EVENTS_ATTRIBUTE, None)
    return found if isinstance(found, StepEvents) else None


def step_events(
    *,
    topic: str | None = None,
    on_start: bool | None = None,
    on_success: bool | None = None,
    on_failure: bool | None = None,
    include_payload: bool | None = None,
) -> Callable[[T], T]:
    """Choose the events of one saga step (on its method) or of a whole saga (on its class).

    Args:
        topic: Where this step's (or saga's) events go.
        on_start: Send ``STEP_STARTED``.
        on_success: Send ``STEP_SUCCEEDED``.
        on_failure: Send ``STEP_FAILED`` and ``STEP_RETRYING``.
        include_payload: Put the saga input (start) and the step's result (success) in the event,
            after the observer's redaction hook.

    Raises:
        TypeError: an option has the wrong type (at decoration time, like every definition error).
    """
    if topic is not None and (not isinstance(topic, str) or not topic.strip()):
        raise TypeError(f"@step_events(topic=...) must be a non-empty str, got {topic!r}")
    for name, value in (
        ("on_start", on_start), ("on_success", on_success), ("on_failure", on_failure),
        ("include_payload", include_payload),
    ):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"@step_events({name}=...) must be True, False or None, got {value!r}")
    options = StepEvents(topic, on_start, on_success, on_failure, include_payload)

    def decorate(obj: T) -> T:
        if isinstance(obj, type):
            setattr(obj, EVENTS_ATTRIBUTE, options)
            spec = obj.__dict__.get(SPEC_ATTRIBUTE)
            if spec is not None and hasattr(spec, "events"):
                # @step_events above @saga: the spec was assembled before these options existed.
                setattr(obj, SPEC_ATTRIBUTE, dataclasses.replace(spec, events=options))
            return obj
        target = obj.__func__ if isinstance(obj, staticmethod | classmethod) else obj
        if not callable(target):
            raise TypeError(f"@step_events decorates a saga class or a step method, not {obj!r}")
        setattr(target, EVENTS_ATTRIBUTE, options)
        return obj

    return decorate
